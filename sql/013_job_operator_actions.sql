-- 013_job_operator_actions.sql — corrections to the operator actions of 010:
-- cancel_job audits with JOB_CANCELLED in both cases (the audit vocabulary of 020 has no separate
-- "cancel requested" action; details.outcome tells CANCELLED from CANCEL_REQUESTED), and retry_job wakes
-- idle workers with NOTIFY instead of leaving the job to their safety poll.

CREATE OR REPLACE FUNCTION certbus.cancel_job(p_job_id bigint, p_actor_type text, p_actor_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j certbus.jobs%ROWTYPE;
  result text;
BEGIN
  SELECT * INTO j FROM certbus.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job with id %', p_job_id USING ERRCODE = 'no_data_found';
  END IF;
  IF j.status = 'QUEUED' THEN
    UPDATE certbus.jobs
       SET status = 'CANCELLED', completed_at = now(),
           error = format('cancelled by %s:%s', p_actor_type, p_actor_id)
     WHERE id = p_job_id;
    result := 'CANCELLED';
  ELSIF j.status = 'RUNNING' THEN
    UPDATE certbus.jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()) WHERE id = p_job_id;
    result := 'CANCEL_REQUESTED';
  ELSE
    RAISE EXCEPTION 'job % is already %; only QUEUED or RUNNING jobs can be cancelled', p_job_id, j.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM certbus.write_audit(
    'JOB_CANCELLED', 'Job', p_job_id::text, p_actor_type, p_actor_id,
    jsonb_build_object('kind', j.kind, 'name', j.name, 'previous_status', j.status, 'attempt', j.attempt,
                       'outcome', result));
  RETURN result;
END
$$;
COMMENT ON FUNCTION certbus.cancel_job(bigint, text, text) IS
  'Cancels a job: a QUEUED job becomes CANCELLED at once (returns CANCELLED); a RUNNING job gets cancel_requested_at '
  'and its worker ends it CANCELLED (returns CANCEL_REQUESTED). Refuses finished jobs. Writes a JOB_CANCELLED audit row (details.outcome says which).';

CREATE OR REPLACE FUNCTION certbus.retry_job(p_job_id bigint, p_actor_type text, p_actor_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j certbus.jobs%ROWTYPE;
  budget integer;
  other bigint;
BEGIN
  SELECT * INTO j FROM certbus.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job with id %', p_job_id USING ERRCODE = 'no_data_found';
  END IF;
  IF j.status IN ('RUNNING', 'SUCCESS') THEN
    RAISE EXCEPTION 'job % is %; only FAILED, CANCELLED or QUEUED jobs can be retried', p_job_id, j.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF j.status = 'QUEUED' THEN
    -- Waiting for its scheduled time or a retry backoff: run it now.
    UPDATE certbus.jobs SET run_at = now() WHERE id = p_job_id;
  ELSE
    IF j.unique_key IS NOT NULL THEN
      SELECT id INTO other FROM certbus.jobs
       WHERE kind = j.kind AND unique_key = j.unique_key AND status IN ('QUEUED', 'RUNNING') AND id <> p_job_id;
      IF FOUND THEN
        RAISE EXCEPTION 'cannot retry job %: job % with the same unique key % is already queued or running',
                        p_job_id, other, quote_literal(j.unique_key)
          USING ERRCODE = 'unique_violation', CONSTRAINT = 'jobs_unique_key',
                DETAIL = format('existing job: %s', other);
      END IF;
    END IF;
    SELECT default_max_attempts INTO budget FROM certbus.job_kinds WHERE kind = j.kind;
    -- A fresh budget of attempts on top of those already spent.
    UPDATE certbus.jobs
       SET status = 'QUEUED', run_at = now(), completed_at = NULL, cancel_requested_at = NULL, output = NULL,
           max_attempts = least(10000, attempt + coalesce(budget, 1))
     WHERE id = p_job_id;
  END IF;
  PERFORM pg_notify('certbus_jobs', j.queue);
  PERFORM certbus.write_audit(
    'JOB_RETRIED', 'Job', p_job_id::text, p_actor_type, p_actor_id,
    jsonb_build_object('kind', j.kind, 'name', j.name, 'previous_status', j.status, 'attempt', j.attempt,
                       'last_error', j.error));
  RETURN 'QUEUED';
END
$$;
COMMENT ON FUNCTION certbus.retry_job(bigint, text, text) IS
  'Runs a job again: a FAILED or CANCELLED job is QUEUED now with a fresh budget of its kind''s default attempts '
  '(history kept in certbus.job_attempts); a QUEUED job waiting for its run_at or a backoff runs now. Refuses '
  'RUNNING and SUCCESS jobs and a unique key already in flight. Wakes workers (NOTIFY certbus_jobs). Writes a '
  'JOB_RETRIED audit row.';
