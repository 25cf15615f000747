-- 016_job_worker_set_based.sql — the worker functions change a batch of jobs in one statement again.
--
-- Measured problem (perf on the 1-worker drain, 2026-11-22): 015 changed one row per statement in a
-- PL/pgSQL loop. Every statement starts a new executor, and every new executor re-reads the jobs
-- table's fourteen CHECK constraints and its generated column from their stored node trees
-- (stringToNode in ExecConstraints): 28 % of the server's CPU went to ExecConstraints, 16 % to
-- parsing node strings alone. One statement per batch pays that once per batch.
--
-- The plan problem 015 avoided must stay avoided. Right after a burst of claims the statistics say
-- no job is RUNNING, so the planner estimates that the fence (status = 'RUNNING' AND locked_by = ...)
-- matches one row, and joins the batch as a nested loop that re-reads the whole unnest for every
-- job: measured on a million-row table, completing 5,000 jobs took 4.2 s. These functions therefore
-- run with enable_nestloop = off (a function-level setting: it applies to their own statements only),
-- which leaves the planner a hash or merge join, linear in the batch: the same 5,000 completions take
-- 56 ms. Each statement also says j.id = ANY (ids), so the jobs side is read through the primary key
-- whatever the statistics say. CertbusBusTests (WorkerFunctionPlanTests) checks both on a table whose
-- statistics are stale.

CREATE OR REPLACE FUNCTION certbus.heartbeat_jobs(
  p_worker_id text, p_lease_seconds float8, p_job_ids bigint[], p_attempts integer[], p_max_run_seconds float8[])
  RETURNS TABLE (job_id bigint, held boolean, cancel_requested boolean)
LANGUAGE plpgsql SET enable_nestloop = off AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  UPDATE certbus.jobs j
     SET lease_expires_at = LEAST(now() + make_interval(secs => p_lease_seconds),
                                  j.started_at + make_interval(secs => h.max_run))
    FROM unnest(p_job_ids, p_attempts, p_max_run_seconds) AS h(id, attempt, max_run)
   WHERE j.id = ANY (p_job_ids) AND j.id = h.id AND j.attempt = h.attempt
     AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
  RETURNING j.id, j.lease_expires_at > now(), j.cancel_requested_at IS NOT NULL;
END
$$;

CREATE OR REPLACE FUNCTION certbus.complete_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_outputs jsonb[], p_issued_certificate_ids uuid[],
  p_ca_request_ids text[]) RETURNS SETOF bigint
LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
  RETURN QUERY
  WITH done AS (
    UPDATE certbus.jobs j
       SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, error = NULL,
           output = d.output, issued_certificate_id = d.issued, ca_request_id = d.ca_request
      FROM unnest(p_job_ids, p_attempts, p_outputs, p_issued_certificate_ids, p_ca_request_ids)
           AS d(id, attempt, output, issued, ca_request)
     WHERE j.id = ANY (p_job_ids) AND j.id = d.id AND j.attempt = d.attempt
       AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.attempt, j.kind, j.started_at, j.completed_at
  ), history AS (
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome)
    SELECT done.id, done.attempt, done.kind, p_worker_id, done.started_at, done.completed_at, 'SUCCESS' FROM done
  )
  SELECT done.id FROM done;
END
$$;

CREATE OR REPLACE FUNCTION certbus.fail_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_errors text[], p_permanent boolean[],
  p_retry_delays float8[]) RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql SET enable_nestloop = off AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH failed AS (
    UPDATE certbus.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'CANCELLED'
                         WHEN f.permanent OR j.attempt >= j.max_attempts THEN 'FAILED'
                         ELSE 'QUEUED' END,
           run_at = CASE WHEN j.cancel_requested_at IS NULL AND NOT f.permanent AND j.attempt < j.max_attempts
                         THEN now() + make_interval(secs => f.delay) ELSE j.run_at END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL AND NOT f.permanent AND j.attempt < j.max_attempts
                               THEN NULL ELSE now() END,
           locked_by = NULL, lease_expires_at = NULL, error = f.error
      FROM unnest(p_job_ids, p_attempts, p_errors, p_permanent, p_retry_delays) AS f(id, attempt, error, permanent, delay)
     WHERE j.id = ANY (p_job_ids) AND j.id = f.id AND j.attempt = f.attempt
       AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.attempt, j.kind, j.started_at, j.status, j.error
  ), history AS (
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
    SELECT failed.id, failed.attempt, failed.kind, p_worker_id, failed.started_at, now(),
           CASE failed.status WHEN 'QUEUED' THEN 'RETRY' ELSE failed.status END, failed.error
      FROM failed
  )
  SELECT failed.id, failed.status FROM failed;
END
$$;

CREATE OR REPLACE FUNCTION certbus.release_jobs(p_worker_id text, p_job_ids bigint[], p_attempts integer[])
  RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql SET enable_nestloop = off AS $$
#variable_conflict use_column
DECLARE
  ids bigint[];
  statuses text[];
  queues text[];
  q text;
BEGIN
  WITH released AS (
    UPDATE certbus.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'QUEUED' ELSE 'CANCELLED' END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           attempt = j.attempt - 1, locked_by = NULL, lease_expires_at = NULL
      FROM unnest(p_job_ids, p_attempts) AS h(id, attempt)
     WHERE j.id = ANY (p_job_ids) AND j.id = h.id AND j.attempt = h.attempt
       AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.status, j.queue
  )
  SELECT array_agg(r.id), array_agg(r.status), array_agg(DISTINCT r.queue) FILTER (WHERE r.status = 'QUEUED')
    INTO ids, statuses, queues
    FROM released r;
  RETURN QUERY SELECT u.id, u.status FROM unnest(ids, statuses) AS u(id, status);
  FOREACH q IN ARRAY coalesce(queues, '{}') LOOP
    PERFORM pg_notify('certbus_jobs', q);
  END LOOP;
END
$$;
