-- 014_job_worker_functions.sql — the worker protocol as SQL functions: claim, heartbeat, complete, fail,
-- release (hand back) and rescue. certbus workers call these; so can workers written in any language, and
-- a DBA can read here exactly what a worker does to a job row. Being PL/pgSQL, their statements are
-- planned once per session and reused (planning the claim costs about as much as running it).
--
-- Every function that changes a RUNNING job is fenced on (status = 'RUNNING', locked_by = the worker,
-- attempt = the attempt it claimed): a job rescued from a slow worker can never be finished by it.

CREATE FUNCTION certbus.claim_jobs(
  p_worker_id text, p_limit integer, p_queues text[], p_kinds text[], p_lease_seconds float8,
  p_cap_kinds text[] DEFAULT '{}', p_cap_seconds float8[] DEFAULT '{}') RETURNS SETOF certbus.jobs
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE certbus.jobs j
     SET status = 'RUNNING', attempt = j.attempt + 1, started_at = now(), locked_by = p_worker_id,
         lease_expires_at = now() + make_interval(secs => LEAST(p_lease_seconds, coalesce(
           (SELECT c.seconds FROM unnest(p_cap_kinds, p_cap_seconds) AS c(kind, seconds) WHERE c.kind = j.kind),
           p_lease_seconds)))
   WHERE j.id = ANY (ARRAY(
           SELECT q.id FROM certbus.jobs q
            WHERE q.status = 'QUEUED' AND q.run_at <= now() AND q.queue = ANY (p_queues)
              AND (p_kinds IS NULL OR q.kind = ANY (p_kinds))
            ORDER BY q.priority, q.run_at, q.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
  RETURNING j.*;
END
$$;
COMMENT ON FUNCTION certbus.claim_jobs(text, integer, text[], text[], float8, text[], float8[]) IS
  'Claims up to p_limit due QUEUED jobs of p_queues (and of p_kinds; all kinds when NULL) in order of priority, '
  'run_at, id, skipping rows other claimers hold (FOR UPDATE SKIP LOCKED): marks them RUNNING for p_worker_id, '
  'counts the attempt, and leases them for p_lease_seconds (capped per kind by p_cap_kinds/p_cap_seconds, the '
  'kinds'' maximum run times). Returns the claimed rows. Commit at once.';

CREATE FUNCTION certbus.heartbeat_jobs(
  p_worker_id text, p_lease_seconds float8, p_job_ids bigint[], p_attempts integer[], p_max_run_seconds float8[])
  RETURNS TABLE (job_id bigint, held boolean, cancel_requested boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  UPDATE certbus.jobs j
     SET lease_expires_at = LEAST(now() + make_interval(secs => p_lease_seconds),
                                  j.started_at + make_interval(secs => h.max_run))
    FROM unnest(p_job_ids, p_attempts, p_max_run_seconds) AS h(id, attempt, max_run)
   WHERE j.id = h.id AND j.attempt = h.attempt AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
  RETURNING j.id, j.lease_expires_at > now(), j.cancel_requested_at IS NOT NULL;
END
$$;
COMMENT ON FUNCTION certbus.heartbeat_jobs(text, float8, bigint[], integer[], float8[]) IS
  'Extends the leases of jobs p_worker_id holds to p_lease_seconds from now, never past started_at plus the job''s '
  'maximum run time. Returns one row per job still RUNNING for this worker: held (false once past the maximum run '
  'time) and cancel_requested (an operator asked to cancel). Jobs not returned are no longer this worker''s.';

CREATE FUNCTION certbus.complete_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_outputs jsonb[], p_issued_certificate_ids uuid[],
  p_ca_request_ids text[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH done AS (
    UPDATE certbus.jobs j
       SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, error = NULL,
           output = d.output, issued_certificate_id = d.issued, ca_request_id = d.ca_request
      FROM unnest(p_job_ids, p_attempts, p_outputs, p_issued_certificate_ids, p_ca_request_ids)
           AS d(id, attempt, output, issued, ca_request)
     WHERE j.id = d.id AND j.attempt = d.attempt AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
    RETURNING j.id, j.attempt, j.kind, j.started_at, j.completed_at
  ), history AS (
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome)
    SELECT done.id, done.attempt, done.kind, p_worker_id, done.started_at, done.completed_at, 'SUCCESS' FROM done
  )
  SELECT done.id FROM done;
END
$$;
COMMENT ON FUNCTION certbus.complete_jobs(text, bigint[], integer[], jsonb[], uuid[], text[]) IS
  'Marks attempts of p_worker_id SUCCESS (with output, issued certificate and CA request id) and writes their '
  'SUCCESS rows in certbus.job_attempts, in one statement. Fenced: only jobs still RUNNING for this worker at the '
  'given attempt change. Returns the ids that changed. Call it in the transaction of the handler''s own effects.';

CREATE FUNCTION certbus.fail_jobs(
  p_worker_id text, p_job_ids bigint[], p_attempts integer[], p_errors text[], p_permanent boolean[],
  p_retry_delays float8[]) RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql AS $$
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
     WHERE j.id = f.id AND j.attempt = f.attempt AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
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
COMMENT ON FUNCTION certbus.fail_jobs(text, bigint[], integer[], text[], boolean[], float8[]) IS
  'Records failed attempts of p_worker_id: each job is QUEUED again after its retry delay, or ends FAILED '
  '(permanent error, or attempts spent), or CANCELLED (cancel requested); each attempt gets its RETRY, FAILED or '
  'CANCELLED row in certbus.job_attempts. Fenced like complete_jobs. Returns the jobs that changed and their status.';

CREATE FUNCTION certbus.release_jobs(p_worker_id text, p_job_ids bigint[], p_attempts integer[])
  RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  q text;
BEGIN
  RETURN QUERY
  UPDATE certbus.jobs j
     SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'QUEUED' ELSE 'CANCELLED' END,
         completed_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
         attempt = j.attempt - 1, locked_by = NULL, lease_expires_at = NULL
    FROM unnest(p_job_ids, p_attempts) AS h(id, attempt)
   WHERE j.id = h.id AND j.attempt = h.attempt AND j.status = 'RUNNING' AND j.locked_by = p_worker_id
  RETURNING j.id, j.status;
  FOR q IN SELECT DISTINCT j.queue FROM certbus.jobs j WHERE j.id = ANY (p_job_ids) AND j.status = 'QUEUED' LOOP
    PERFORM pg_notify('certbus_jobs', q);
  END LOOP;
END
$$;
COMMENT ON FUNCTION certbus.release_jobs(text, bigint[], integer[]) IS
  'Hands claimed jobs back without counting the attempt (a worker shutting down): QUEUED again at once and other '
  'workers are notified, or CANCELLED when a cancel was requested meanwhile. Fenced like complete_jobs.';

CREATE FUNCTION certbus.rescue_expired_jobs(
  p_limit integer DEFAULT 1000, p_backoff_base float8 DEFAULT 2, p_backoff_max float8 DEFAULT 3600,
  p_jitter float8 DEFAULT 0.2) RETURNS TABLE (job_id bigint, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH expired AS (
    SELECT e.id, e.locked_by AS worker, e.lease_expires_at FROM certbus.jobs e
     WHERE e.status = 'RUNNING' AND e.lease_expires_at < now()
     ORDER BY e.lease_expires_at
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  ), rescued AS (
    UPDATE certbus.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'CANCELLED'
                         WHEN j.attempt >= j.max_attempts THEN 'FAILED' ELSE 'QUEUED' END,
           run_at = CASE WHEN j.cancel_requested_at IS NULL AND j.attempt < j.max_attempts
                         THEN now() + make_interval(secs => LEAST(p_backoff_max, p_backoff_base * power(2, LEAST(j.attempt - 1, 62)))
                                                            * (1 + p_jitter * (2 * random() - 1)))
                         ELSE j.run_at END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL AND j.attempt < j.max_attempts
                               THEN NULL ELSE now() END,
           error = format('attempt %s: the lease expired at %s while running on %s (the worker stopped, lost '
                          'its database connection, or exceeded the kind''s maximum run time)',
                          j.attempt, to_char(e.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), e.worker),
           locked_by = NULL, lease_expires_at = NULL
      FROM expired e
     WHERE j.id = e.id
    RETURNING j.id, j.attempt, j.kind, j.started_at, j.status, j.error, e.worker
  ), history AS (
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
    SELECT rescued.id, rescued.attempt, rescued.kind, rescued.worker, rescued.started_at, now(), 'LEASE_EXPIRED',
           rescued.error
      FROM rescued
    ON CONFLICT (job_id, attempt) DO NOTHING
  )
  SELECT rescued.id, rescued.status FROM rescued;
END
$$;
COMMENT ON FUNCTION certbus.rescue_expired_jobs(integer, float8, float8, float8) IS
  'Takes back up to p_limit RUNNING jobs whose lease expired (database clock): the expired attempt counts, and the '
  'job is QUEUED again after an exponential backoff with jitter, or ends FAILED when its attempts are spent '
  '(CANCELLED when a cancel was requested), with a LEASE_EXPIRED row in certbus.job_attempts. Safe to run from '
  'several sessions at once. The job-rescuer task of the worker''s maintenance calls it; so may a DBA.';
