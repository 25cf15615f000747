-- pgbench script: the one-job ceiling of `certbus bench queue`. One job's life in one transaction:
-- claim one due QUEUED row with FOR UPDATE SKIP LOCKED (the order and index certbus's claim uses),
-- then mark it done. No attempt row, no worker: the bare SQL a queue cannot do with less.
-- Run: pgbench -n -M prepared -f one_job.sql -c 8 -j 2 -T 10 DBURL   (jobs/s = tps)
BEGIN;
UPDATE certbus.jobs SET status = 'RUNNING', attempt = attempt + 1, started_at = now(), locked_by = 'pgbench', lease_expires_at = now() + interval '30 seconds' WHERE id = (SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now() ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id \gset
UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL WHERE id = :id;
END;
