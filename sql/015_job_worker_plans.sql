-- 015_job_worker_plans.sql — make the worker functions of 014 immune to stale statistics.
--
-- Measured problem: a batch completion joined certbus.jobs with unnest(ids) in one UPDATE. Right after
-- a burst of claims the statistics still say "no job is RUNNING", so the planner drove the join from
-- the partial index of RUNNING jobs (estimated 1 row, really thousands) and re-scanned the unnest for
-- every row: 5,000 completions took 7 seconds instead of milliseconds.
--
-- Fix, in two parts:
-- 1. complete_jobs, fail_jobs, heartbeat_jobs and release_jobs now change one row at a time by primary
--    key in a PL/pgSQL loop (each statement's plan is a unique-index lookup whatever the statistics say),
--    then write the batch's attempt rows with one INSERT.
-- 2. The lease index is keyed on lease_expires_at IS NOT NULL (exactly the RUNNING jobs, by the
--    jobs_running_has_lease constraint) instead of status = 'RUNNING', so "status = 'RUNNING' AND
--    locked_by = ..." in the fences no longer matches a partial index the planner could misjudge. The
--    rescuer's "lease_expires_at < now()" still uses it.

DROP INDEX certbus.jobs_leases;
CREATE INDEX jobs_leases ON certbus.jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
COMMENT ON INDEX certbus.jobs_leases IS 'Leases of RUNNING jobs: serves the rescuer (expired leases) and the running-jobs view.';

CREATE OR REPLACE FUNCTION certbus.heartbeat_jobs(
  p_worker_id text, p_lease_seconds float8, p_job_ids bigint[], p_attempts integer[], p_max_run_seconds float8[])
  RETURNS TABLE (job_id bigint, held boolean, cancel_requested boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  i integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_job_ids, 1), 0) LOOP
    RETURN QUERY
    UPDATE certbus.jobs j
       SET lease_expires_at = LEAST(now() + make_interval(secs => p_lease_seconds),
                                    j.started_at + make_interval(secs => p_max_run_seconds[i]))
     WHERE j.id = p_job_ids[i] AND j.attempt = p_attempts[i] AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.lease_expires_at > now(), j.cancel_requested_at IS NOT NULL;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION certbus.complete_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_outputs jsonb[], p_issued_certificate_ids uuid[],
  p_ca_request_ids text[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  r record;
  ids bigint[] := '{}';
  attempts integer[] := '{}';
  kinds text[] := '{}';
  started timestamptz[] := '{}';
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_job_ids, 1), 0) LOOP
    UPDATE certbus.jobs j
       SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, error = NULL,
           output = p_outputs[i], issued_certificate_id = p_issued_certificate_ids[i], ca_request_id = p_ca_request_ids[i]
     WHERE j.id = p_job_ids[i] AND j.attempt = p_attempts[i] AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.attempt, j.kind, j.started_at INTO r;
    IF FOUND THEN
      ids := ids || r.id;
      attempts := attempts || r.attempt;
      kinds := kinds || r.kind;
      started := started || r.started_at;
      RETURN NEXT r.id;
    END IF;
  END LOOP;
  INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome)
  SELECT a.id, a.attempt, a.kind, p_worker_id, a.started_at, now(), 'SUCCESS'
    FROM unnest(ids, attempts, kinds, started) AS a(id, attempt, kind, started_at);
END
$$;

CREATE OR REPLACE FUNCTION certbus.fail_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_errors text[], p_permanent boolean[],
  p_retry_delays float8[]) RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  i integer;
  r record;
  ids bigint[] := '{}';
  attempts integer[] := '{}';
  kinds text[] := '{}';
  started timestamptz[] := '{}';
  outcomes text[] := '{}';
  errors text[] := '{}';
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_job_ids, 1), 0) LOOP
    UPDATE certbus.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'CANCELLED'
                         WHEN p_permanent[i] OR j.attempt >= j.max_attempts THEN 'FAILED'
                         ELSE 'QUEUED' END,
           run_at = CASE WHEN j.cancel_requested_at IS NULL AND NOT p_permanent[i] AND j.attempt < j.max_attempts
                         THEN now() + make_interval(secs => p_retry_delays[i]) ELSE j.run_at END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL AND NOT p_permanent[i] AND j.attempt < j.max_attempts
                               THEN NULL ELSE now() END,
           locked_by = NULL, lease_expires_at = NULL, error = p_errors[i]
     WHERE j.id = p_job_ids[i] AND j.attempt = p_attempts[i] AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.attempt, j.kind, j.started_at, j.status, j.error INTO r;
    IF FOUND THEN
      ids := ids || r.id;
      attempts := attempts || r.attempt;
      kinds := kinds || r.kind;
      started := started || r.started_at;
      outcomes := outcomes || CASE r.status WHEN 'QUEUED' THEN 'RETRY' ELSE r.status END;
      errors := errors || r.error;
      job_id := r.id;
      status := r.status;
      RETURN NEXT;
    END IF;
  END LOOP;
  INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
  SELECT a.id, a.attempt, a.kind, p_worker_id, a.started_at, now(), a.outcome, a.error
    FROM unnest(ids, attempts, kinds, started, outcomes, errors) AS a(id, attempt, kind, started_at, outcome, error);
END
$$;

CREATE OR REPLACE FUNCTION certbus.release_jobs(p_worker_id text, p_job_ids bigint[], p_attempts integer[])
  RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  i integer;
  r record;
  queues text[] := '{}';
  q text;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_job_ids, 1), 0) LOOP
    UPDATE certbus.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'QUEUED' ELSE 'CANCELLED' END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           attempt = j.attempt - 1, locked_by = NULL, lease_expires_at = NULL
     WHERE j.id = p_job_ids[i] AND j.attempt = p_attempts[i] AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.status, j.queue INTO r;
    IF FOUND THEN
      IF r.status = 'QUEUED' AND NOT r.queue = ANY (queues) THEN
        queues := queues || r.queue;
      END IF;
      job_id := r.id;
      status := r.status;
      RETURN NEXT;
    END IF;
  END LOOP;
  FOREACH q IN ARRAY queues LOOP
    PERFORM pg_notify('certbus_jobs', q);
  END LOOP;
END
$$;
