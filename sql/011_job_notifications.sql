-- 011_job_notifications.sql — wake idle workers when jobs are enqueued.
--
-- One NOTIFY per INSERT statement and queue (not one per row), sent on channel certbus_jobs with the
-- queue name as payload. The payload is only a hint: workers that missed it (they were reconnecting)
-- find the jobs anyway with their slow safety poll.
--
-- Cost, and why it can be switched off per transaction: PostgreSQL serialises the commits of all
-- transactions that sent a NOTIFY (a cluster-wide lock held until after the commit record is flushed),
-- so many concurrent single-job enqueuers would queue behind each other's disk flushes. certbus's own
-- high-rate enqueue path therefore sets certbus.defer_job_notify = on for its transaction and sends
-- one debounced NOTIFY per process from a separate session after commit (CertbusBus/JobNotifier.swift).
-- psql, cron and other areas' transactions keep the simple in-transaction NOTIFY. The measurements
-- behind this choice are in docs/benchmarks.md (## Job queue).

CREATE FUNCTION certbus.jobs_notify_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  q text;
BEGIN
  IF current_setting('certbus.defer_job_notify', true) = 'on' THEN
    RETURN NULL;
  END IF;
  FOR q IN SELECT DISTINCT queue FROM inserted_jobs WHERE status = 'QUEUED' LOOP
    PERFORM pg_notify('certbus_jobs', q);
  END LOOP;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.jobs_notify_inserted() IS
  'Statement trigger function on certbus.jobs: sends one NOTIFY certbus_jobs per queue that received jobs, unless '
  'the transaction set certbus.defer_job_notify = on (the enqueuer then notifies after commit itself).';
CREATE TRIGGER jobs_notify AFTER INSERT ON certbus.jobs
  REFERENCING NEW TABLE AS inserted_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.jobs_notify_inserted();
