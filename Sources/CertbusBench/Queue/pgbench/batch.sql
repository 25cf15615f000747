-- pgbench script: the batched ceiling of `certbus bench queue`. Two transactions per run of the
-- script: claim up to :batch due QUEUED rows with FOR UPDATE SKIP LOCKED in one statement, then mark
-- them all done in another. No attempt rows, no worker: the bare SQL of a batching queue.
-- Needs -M prepared or extended (the id list travels as a parameter) and -D batch=N.
-- Run: pgbench -n -M prepared -D batch=100 -f batch.sql -c 8 -j 2 -T 10 DBURL
--      (jobs/s = tps × jobs per transaction pair; the benchmark counts them)
WITH claimed AS (UPDATE certbus.jobs SET status = 'RUNNING', attempt = attempt + 1, started_at = now(), locked_by = 'pgbench', lease_expires_at = now() + interval '30 seconds' WHERE id = ANY (ARRAY(SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now() ORDER BY priority, run_at, id LIMIT :batch FOR UPDATE SKIP LOCKED)) RETURNING id) SELECT coalesce(array_agg(id), '{}') AS ids FROM claimed \gset
UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL WHERE id = ANY (:ids::bigint[]);
