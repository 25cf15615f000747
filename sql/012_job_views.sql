-- 012_job_views.sql — views for the daily and weekly routines in psql:
-- running jobs by how long they have run, failed jobs of the last day, queue depth by kind,
-- and failure patterns of the last week counted per attempt.

CREATE VIEW certbus.running_jobs AS
SELECT j.id, j.name, j.kind, j.queue, j.attempt, j.max_attempts, j.locked_by,
       j.started_at, now() - j.started_at AS running_for,
       j.lease_expires_at, j.lease_expires_at - now() AS lease_left,
       j.cancel_requested_at, j.ca_id, j.certificate_id, j.triggered_by_type, j.triggered_by_id
  FROM certbus.jobs j
 WHERE j.status = 'RUNNING'
 ORDER BY j.started_at;
COMMENT ON VIEW certbus.running_jobs IS
  'RUNNING jobs, longest-running first (the daily "monitor long-running RUNNING jobs"). A negative lease_left means '
  'the worker stopped extending the lease: the rescuer will take the job back.';
COMMENT ON COLUMN certbus.running_jobs.id IS 'Job id.';
COMMENT ON COLUMN certbus.running_jobs.name IS 'Job name.';
COMMENT ON COLUMN certbus.running_jobs.kind IS 'Job kind.';
COMMENT ON COLUMN certbus.running_jobs.queue IS 'Queue name.';
COMMENT ON COLUMN certbus.running_jobs.attempt IS 'The attempt running now.';
COMMENT ON COLUMN certbus.running_jobs.max_attempts IS 'Attempts allowed.';
COMMENT ON COLUMN certbus.running_jobs.locked_by IS 'The worker running it (host:pid:n).';
COMMENT ON COLUMN certbus.running_jobs.started_at IS 'When this attempt started.';
COMMENT ON COLUMN certbus.running_jobs.running_for IS 'How long this attempt has run.';
COMMENT ON COLUMN certbus.running_jobs.lease_expires_at IS 'When the lease runs out unless the worker extends it.';
COMMENT ON COLUMN certbus.running_jobs.lease_left IS 'Time left on the lease (negative: expired, awaiting the rescuer).';
COMMENT ON COLUMN certbus.running_jobs.cancel_requested_at IS 'When an operator asked to cancel it, if they did.';
COMMENT ON COLUMN certbus.running_jobs.ca_id IS 'The CA involved, if any.';
COMMENT ON COLUMN certbus.running_jobs.certificate_id IS 'The certificate involved, if any.';
COMMENT ON COLUMN certbus.running_jobs.triggered_by_type IS 'SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.running_jobs.triggered_by_id IS 'Who triggered it.';

CREATE VIEW certbus.failed_jobs_last_day AS
SELECT j.id, j.name, j.kind, j.ca_id, j.certificate_id, j.error, j.attempt, j.max_attempts,
       j.run_at AS scheduled_at, j.started_at, j.completed_at, j.duration,
       j.triggered_by_type, j.triggered_by_id, j.payload
  FROM certbus.jobs j
 WHERE j.status = 'FAILED' AND j.completed_at > now() - interval '1 day'
 ORDER BY j.completed_at DESC;
COMMENT ON VIEW certbus.failed_jobs_last_day IS
  'Jobs that ended FAILED in the last 24 hours, newest first, with their last error (the daily "investigate FAILED '
  'jobs"). Every attempt''s error is in certbus.job_attempts.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.id IS 'Job id.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.name IS 'Job name.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.kind IS 'Job kind.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.ca_id IS 'The CA involved, if any.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.certificate_id IS 'The certificate involved, if any.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.error IS 'The error of the last attempt.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.attempt IS 'Attempts made.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.max_attempts IS 'Attempts allowed.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.scheduled_at IS 'When it was scheduled to run (run_at).';
COMMENT ON COLUMN certbus.failed_jobs_last_day.started_at IS 'When the last attempt started.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.completed_at IS 'When it ended FAILED.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.duration IS 'How long the last attempt ran.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.triggered_by_type IS 'SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.triggered_by_id IS 'Who triggered it.';
COMMENT ON COLUMN certbus.failed_jobs_last_day.payload IS 'The input payload.';

CREATE VIEW certbus.queue_depth AS
SELECT j.kind, j.queue,
       count(*) FILTER (WHERE j.status = 'QUEUED') AS queued,
       count(*) FILTER (WHERE j.status = 'QUEUED' AND j.run_at <= now()) AS due,
       count(*) FILTER (WHERE j.status = 'RUNNING') AS running,
       now() - min(j.run_at) FILTER (WHERE j.status = 'QUEUED' AND j.run_at <= now()) AS oldest_due_waiting,
       min(j.run_at) FILTER (WHERE j.status = 'QUEUED' AND j.run_at > now()) AS next_scheduled_at
  FROM certbus.jobs j
 WHERE j.status IN ('QUEUED', 'RUNNING')
 GROUP BY j.kind, j.queue
 ORDER BY j.kind, j.queue;
COMMENT ON VIEW certbus.queue_depth IS
  'Unfinished jobs per kind and queue: how many wait, how many are due now, how many run, and how long the oldest '
  'due job has waited (a growing value means too few workers for that kind).';
COMMENT ON COLUMN certbus.queue_depth.kind IS 'Job kind.';
COMMENT ON COLUMN certbus.queue_depth.queue IS 'Queue name.';
COMMENT ON COLUMN certbus.queue_depth.queued IS 'QUEUED jobs, due or scheduled later.';
COMMENT ON COLUMN certbus.queue_depth.due IS 'QUEUED jobs whose run_at has passed (waiting for a worker).';
COMMENT ON COLUMN certbus.queue_depth.running IS 'RUNNING jobs.';
COMMENT ON COLUMN certbus.queue_depth.oldest_due_waiting IS 'How long the oldest due job has waited past its run_at.';
COMMENT ON COLUMN certbus.queue_depth.next_scheduled_at IS 'The earliest run_at of jobs scheduled in the future.';

CREATE VIEW certbus.job_failure_patterns AS
SELECT a.kind, left(regexp_replace(a.error, '[0-9]+', 'N', 'g'), 200) AS error_pattern,
       count(*) AS failed_attempts,
       count(DISTINCT a.job_id) AS jobs,
       count(*) FILTER (WHERE a.outcome = 'FAILED') AS final_failures,
       count(*) FILTER (WHERE a.outcome = 'LEASE_EXPIRED') AS lease_expiries,
       min(a.finished_at) AS first_seen, max(a.finished_at) AS last_seen
  FROM certbus.job_attempts a
 WHERE a.outcome <> 'SUCCESS' AND a.finished_at > now() - interval '7 days'
 GROUP BY a.kind, 2
 ORDER BY failed_attempts DESC;
COMMENT ON VIEW certbus.job_failure_patterns IS
  'Failed attempts of the last 7 days grouped by kind and error (digits replaced by N so that ids do not split '
  'groups), most frequent first — the weekly "audit job failure patterns". Counts attempts, not just final states.';
COMMENT ON COLUMN certbus.job_failure_patterns.kind IS 'Job kind.';
COMMENT ON COLUMN certbus.job_failure_patterns.error_pattern IS 'The error text with numbers replaced by N (first 200 characters).';
COMMENT ON COLUMN certbus.job_failure_patterns.failed_attempts IS 'Attempts that failed with this error.';
COMMENT ON COLUMN certbus.job_failure_patterns.jobs IS 'Distinct jobs affected.';
COMMENT ON COLUMN certbus.job_failure_patterns.final_failures IS 'Attempts after which the job ended FAILED.';
COMMENT ON COLUMN certbus.job_failure_patterns.lease_expiries IS 'Attempts lost because the worker stopped or overran (LEASE_EXPIRED).';
COMMENT ON COLUMN certbus.job_failure_patterns.first_seen IS 'First failure in the window.';
COMMENT ON COLUMN certbus.job_failure_patterns.last_seen IS 'Latest failure in the window.';
