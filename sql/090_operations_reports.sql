-- 090_operations_reports.sql — the seed's daily and weekly routines as views.
-- Daily: review ERROR alerts, investigate FAILED jobs, monitor long-running RUNNING jobs.
-- Weekly: renewal and issuance trends, job failure patterns, high-risk alert patterns.
-- Read them in psql or export them: \copy (SELECT * FROM certbus.weekly_certificate_trends) TO 'trends.csv' CSV HEADER

CREATE VIEW certbus.daily_operations_summary AS
SELECT
  (SELECT count(*) FROM certbus.alerts WHERE severity = 'ERROR' AND read_at IS NULL AND resolved_at IS NULL)
    AS unread_error_alerts,
  (SELECT count(*) FROM certbus.alerts WHERE resolved_at IS NULL) AS open_alerts,
  (SELECT count(*) FROM certbus.jobs WHERE status = 'FAILED' AND completed_at > now() - interval '1 day')
    AS jobs_failed_last_day,
  (SELECT count(*) FROM certbus.jobs WHERE status = 'RUNNING') AS jobs_running,
  (SELECT count(*) FROM certbus.jobs WHERE status = 'RUNNING' AND started_at < now() - interval '15 minutes')
    AS jobs_running_over_15_minutes,
  (SELECT count(*) FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now()) AS jobs_waiting,
  (SELECT count(*) FROM certbus.certificates
    WHERE status IN ('VALID', 'EXPIRING') AND not_after BETWEEN now() AND now() + interval '30 days')
    AS certificates_expiring_within_30_days,
  (SELECT count(*) FROM certbus.certificates WHERE status <> 'REVOKED' AND not_after < now()) AS certificates_expired;
COMMENT ON VIEW certbus.daily_operations_summary IS
  'One row for the daily routine: unread ERROR alerts, open alerts, jobs failed in the last day, running and long-running jobs, '
  'jobs waiting, certificates expiring within 30 days or already expired. Drill down with unread_error_alerts, '
  'failed_jobs_last_day and running_jobs_by_runtime.';
COMMENT ON COLUMN certbus.daily_operations_summary.unread_error_alerts IS 'Open ERROR alerts nobody has read.';
COMMENT ON COLUMN certbus.daily_operations_summary.open_alerts IS 'Alerts not yet resolved, read or not.';
COMMENT ON COLUMN certbus.daily_operations_summary.jobs_failed_last_day IS 'Jobs that ended FAILED in the last 24 hours.';
COMMENT ON COLUMN certbus.daily_operations_summary.jobs_running IS 'Jobs RUNNING now.';
COMMENT ON COLUMN certbus.daily_operations_summary.jobs_running_over_15_minutes IS 'RUNNING jobs started more than 15 minutes ago: look at them.';
COMMENT ON COLUMN certbus.daily_operations_summary.jobs_waiting IS 'QUEUED jobs whose run_at has come: the backlog.';
COMMENT ON COLUMN certbus.daily_operations_summary.certificates_expiring_within_30_days IS 'Unrevoked certificates expiring in the next 30 days.';
COMMENT ON COLUMN certbus.daily_operations_summary.certificates_expired IS 'Unrevoked certificates already past not_after.';

CREATE VIEW certbus.weekly_certificate_trends AS
WITH weeks AS (
  SELECT date_trunc('week', created_at) AS week,
         count(*) FILTER (WHERE source = 'ISSUED' AND predecessor_id IS NULL) AS issued,
         count(*) FILTER (WHERE source = 'ISSUED' AND predecessor_id IS NOT NULL) AS renewed,
         count(*) FILTER (WHERE source = 'DISCOVERED') AS discovered,
         count(*) FILTER (WHERE source = 'IMPORTED') AS imported
    FROM certbus.certificates GROUP BY 1
), revoked AS (
  SELECT date_trunc('week', revoked_at) AS week, count(*) AS revoked
    FROM certbus.certificates WHERE revoked_at IS NOT NULL GROUP BY 1
), expired AS (
  SELECT date_trunc('week', not_after) AS week, count(*) AS expired
    FROM certbus.certificates WHERE not_after < now() AND status <> 'REVOKED' GROUP BY 1
), failures AS (
  SELECT date_trunc('week', finished_at) AS week,
         count(*) FILTER (WHERE kind = 'ISSUE_CERT' AND outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')) AS issuance_failed_attempts,
         count(*) FILTER (WHERE kind = 'RENEW_CERT' AND outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')) AS renewal_failed_attempts
    FROM certbus.job_attempts GROUP BY 1
)
SELECT w.week::date AS week_starting,
       coalesce(weeks.issued, 0) AS issued,
       coalesce(weeks.renewed, 0) AS renewed,
       coalesce(revoked.revoked, 0) AS revoked,
       coalesce(expired.expired, 0) AS expired,
       coalesce(weeks.discovered, 0) AS discovered,
       coalesce(weeks.imported, 0) AS imported,
       coalesce(failures.issuance_failed_attempts, 0) AS issuance_failed_attempts,
       coalesce(failures.renewal_failed_attempts, 0) AS renewal_failed_attempts
  FROM (SELECT week FROM weeks UNION SELECT week FROM revoked UNION SELECT week FROM expired
        UNION SELECT week FROM failures) AS w
  LEFT JOIN weeks USING (week) LEFT JOIN revoked USING (week) LEFT JOIN expired USING (week)
  LEFT JOIN failures USING (week)
 ORDER BY w.week DESC;
COMMENT ON VIEW certbus.weekly_certificate_trends IS
  'Weekly renewal and issuance trends (ISO weeks starting Monday): certificates issued, renewed, revoked, expired, '
  'discovered, imported, and failed issuance/renewal attempts. Newest week first.';
COMMENT ON COLUMN certbus.weekly_certificate_trends.week_starting IS 'Monday of the ISO week.';
COMMENT ON COLUMN certbus.weekly_certificate_trends.issued IS 'New certificates issued by certbus (no predecessor).';
COMMENT ON COLUMN certbus.weekly_certificate_trends.renewed IS 'Certificates issued as renewals (with a predecessor).';
COMMENT ON COLUMN certbus.weekly_certificate_trends.revoked IS 'Certificates revoked that week.';
COMMENT ON COLUMN certbus.weekly_certificate_trends.expired IS 'Unrevoked certificates whose not_after fell in that week (past weeks only).';
COMMENT ON COLUMN certbus.weekly_certificate_trends.discovered IS 'Certificates first found by discovery that week.';
COMMENT ON COLUMN certbus.weekly_certificate_trends.imported IS 'Certificates imported by operators that week.';
COMMENT ON COLUMN certbus.weekly_certificate_trends.issuance_failed_attempts IS 'ISSUE_CERT attempts that failed (retried or final).';
COMMENT ON COLUMN certbus.weekly_certificate_trends.renewal_failed_attempts IS 'RENEW_CERT attempts that failed (retried or final).';

CREATE VIEW certbus.weekly_job_failure_patterns AS
SELECT date_trunc('week', a.finished_at)::date AS week_starting,
       a.kind,
       count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'SUCCESS') AS succeeded,
       count(*) FILTER (WHERE a.outcome = 'RETRY') AS retried,
       count(*) FILTER (WHERE a.outcome = 'FAILED') AS failed_for_good,
       count(*) FILTER (WHERE a.outcome = 'LEASE_EXPIRED') AS lease_expired,
       round(100.0 * count(*) FILTER (WHERE a.outcome <> 'SUCCESS') / count(*), 1) AS failure_percent,
       mode() WITHIN GROUP (ORDER BY left(a.error, 120)) FILTER (WHERE a.error IS NOT NULL) AS most_common_error
  FROM certbus.job_attempts AS a
 GROUP BY 1, 2
 ORDER BY 1 DESC, failure_percent DESC;
COMMENT ON VIEW certbus.weekly_job_failure_patterns IS
  'Weekly job failure patterns per kind, counted per attempt (not just final states): attempts, successes, retries, '
  'final failures, expired leases (a worker vanished), failure percentage and the most common error text.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.week_starting IS 'Monday of the ISO week the attempts finished in.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.kind IS 'Job kind, e.g. ISSUE_CERT.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.attempts IS 'Attempts that finished that week.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.succeeded IS 'Attempts that succeeded.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.retried IS 'Attempts that failed and were retried.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.failed_for_good IS 'Attempts that ended their job FAILED.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.lease_expired IS 'Attempts abandoned by a worker that died or stalled (rescued).';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.failure_percent IS 'Share of attempts that did not succeed, in percent.';
COMMENT ON COLUMN certbus.weekly_job_failure_patterns.most_common_error IS 'The most frequent error (first 120 characters).';

CREATE VIEW certbus.weekly_alert_patterns AS
SELECT date_trunc('week', created_at)::date AS week_starting,
       alert_type,
       severity,
       entity_type,
       count(*) AS raised,
       count(*) FILTER (WHERE resolved_at IS NULL) AS still_open,
       count(*) FILTER (WHERE read_at IS NULL AND resolved_at IS NULL) AS still_unread,
       round(avg(extract(epoch FROM resolved_at - created_at) / 3600)::numeric, 1) AS mean_hours_to_resolve,
       count(DISTINCT entity_id) AS distinct_entities
  FROM certbus.alerts
 GROUP BY 1, 2, 3, 4
 ORDER BY 1 DESC, severity, raised DESC;
COMMENT ON VIEW certbus.weekly_alert_patterns IS
  'Weekly high-risk alert patterns: alerts raised per type, severity and entity type, how many are still open or unread, '
  'mean hours to resolution, and how many distinct objects they concern (few entities, many alerts = a recurring problem).';
COMMENT ON COLUMN certbus.weekly_alert_patterns.week_starting IS 'Monday of the ISO week the alerts were raised in.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.alert_type IS 'EXPIRING_SOON, ERROR or WARN.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.severity IS 'ERROR or WARN.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.entity_type IS 'Kind of object the alerts concern.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.raised IS 'Alerts raised that week.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.still_open IS 'Of those, not resolved yet.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.still_unread IS 'Of those, open and unread.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.mean_hours_to_resolve IS 'Mean time from raise to resolution, in hours, over the resolved ones.';
COMMENT ON COLUMN certbus.weekly_alert_patterns.distinct_entities IS 'Distinct objects concerned.';
