-- 093_report_pages.sql — the data of the weekly report page (certbus report weekly --format html) that the
-- views of sql/090 lack, as functions of a time range [p_from, p_until) so that each reads an index range
-- instead of all history (the views group everything ever recorded; a filter on their week column cannot
-- use an index). Weeks are ISO weeks starting Monday 00:00 in the session's time zone (certbus sessions use
-- UTC); every week overlapping the range is listed, with zeros when nothing happened. For example:
--   SELECT * FROM certbus.report_certificate_weeks(date_trunc('week', now()) - interval '7 weeks', now());
--   SELECT * FROM certbus.report_upcoming_expiries(now(), date_trunc('week', now()) + interval '8 weeks');
--   SELECT * FROM certbus.report_renewal_times(now() - interval '30 days', now());

CREATE INDEX certificates_created_at ON certbus.certificates (created_at);
COMMENT ON INDEX certbus.certificates_created_at IS
  'Certificates recorded in a time range: issued, renewed, discovered and imported per week (report_certificate_weeks, '
  'report_renewal_times).';
CREATE INDEX certificates_revoked_at ON certbus.certificates (revoked_at) WHERE revoked_at IS NOT NULL;
COMMENT ON INDEX certbus.certificates_revoked_at IS 'Certificates revoked in a time range (report_certificate_weeks).';

CREATE FUNCTION certbus.report_weeks(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT generate_series(date_trunc('week', p_from), p_until - interval '1 microsecond', interval '1 week')
$$;
COMMENT ON FUNCTION certbus.report_weeks(timestamptz, timestamptz) IS
  'The Monday 00:00 of every week overlapping [p_from, p_until), oldest first: the rows of the weekly report '
  'functions, so that weeks in which nothing happened show as zeros.';

CREATE FUNCTION certbus.error_pattern(p_error text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT left(regexp_replace(
                regexp_replace(p_error, '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
                               '<id>', 'g'),
                '[0-9]+', 'N', 'g'), 200)
$$;
COMMENT ON FUNCTION certbus.error_pattern(text) IS
  'An error message as a pattern for grouping failures: UUIDs become <id>, then every run of digits becomes N '
  '(so job ids, ports and counts do not split one problem into many), cut to 200 characters.';

CREATE FUNCTION certbus.report_certificate_weeks(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, issued bigint, renewed bigint, revoked bigint, expired bigint,
               expired_without_successor bigint, discovered bigint, imported bigint,
               issuance_failed_attempts bigint, renewal_failed_attempts bigint)
LANGUAGE sql STABLE AS $$
  WITH recorded AS (
    SELECT date_trunc('week', c.created_at) AS week,
           count(*) FILTER (WHERE c.source = 'ISSUED' AND c.predecessor_id IS NULL) AS issued,
           count(*) FILTER (WHERE c.source = 'ISSUED' AND c.predecessor_id IS NOT NULL) AS renewed,
           count(*) FILTER (WHERE c.source = 'DISCOVERED') AS discovered,
           count(*) FILTER (WHERE c.source = 'IMPORTED') AS imported
      FROM certbus.certificates c
     WHERE c.created_at >= p_from AND c.created_at < p_until
     GROUP BY 1
  ), revoked AS (
    SELECT date_trunc('week', c.revoked_at) AS week, count(*) AS revoked
      FROM certbus.certificates c
     WHERE c.revoked_at >= p_from AND c.revoked_at < p_until
     GROUP BY 1
  ), expired AS (
    SELECT date_trunc('week', c.not_after) AS week, count(*) AS expired,
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM certbus.certificates s
                                               WHERE s.predecessor_id = c.id AND s.created_at < c.not_after))
             AS expired_without_successor
      FROM certbus.certificates c
     WHERE c.status <> 'REVOKED' AND c.not_after >= p_from AND c.not_after < least(p_until, now())
     GROUP BY 1
  ), failures AS (
    SELECT date_trunc('week', a.finished_at) AS week,
           count(*) FILTER (WHERE a.kind = 'ISSUE_CERT') AS issuance_failed_attempts,
           count(*) FILTER (WHERE a.kind = 'RENEW_CERT') AS renewal_failed_attempts
      FROM certbus.job_attempts a
     WHERE a.finished_at >= p_from AND a.finished_at < p_until
       AND a.kind IN ('ISSUE_CERT', 'RENEW_CERT') AND a.outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')
     GROUP BY 1
  )
  SELECT w.week::date, coalesce(r.issued, 0), coalesce(r.renewed, 0), coalesce(v.revoked, 0),
         coalesce(e.expired, 0), coalesce(e.expired_without_successor, 0), coalesce(r.discovered, 0),
         coalesce(r.imported, 0), coalesce(f.issuance_failed_attempts, 0), coalesce(f.renewal_failed_attempts, 0)
    FROM certbus.report_weeks(p_from, p_until) w
    LEFT JOIN recorded r USING (week) LEFT JOIN revoked v USING (week) LEFT JOIN expired e USING (week)
    LEFT JOIN failures f USING (week)
   ORDER BY w.week
$$;
COMMENT ON FUNCTION certbus.report_certificate_weeks(timestamptz, timestamptz) IS
  'Weekly certificate trends over [p_from, p_until), oldest week first: certificates issued (new), renewed (issued '
  'with a predecessor), revoked, expired (unrevoked, not_after passed that week; renewed ones included), expired '
  'without a successor issued before expiry (the outages), discovered, imported, and failed ISSUE_CERT / RENEW_CERT '
  'attempts. Same definitions as the view weekly_certificate_trends, but read through indexes on created_at, '
  'revoked_at, not_after and job_attempts.finished_at.';

CREATE FUNCTION certbus.report_upcoming_expiries(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, expiring bigint, renewed bigint, awaiting_automatic_renewal bigint,
               without_automatic_renewal bigint)
LANGUAGE sql STABLE AS $$
  WITH due AS (
    SELECT date_trunc('week', c.not_after) AS week,
           certbus.has_valid_successor(c.id) AS renewed,
           coalesce(p.auto_renew AND p.enabled, false) AS automatic
      FROM certbus.certificates c
      LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
     WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after >= p_from AND c.not_after < p_until
  ), weeks AS (
    SELECT week, count(*) AS expiring, count(*) FILTER (WHERE renewed) AS renewed,
           count(*) FILTER (WHERE NOT renewed AND automatic) AS awaiting_automatic_renewal,
           count(*) FILTER (WHERE NOT renewed AND NOT automatic) AS without_automatic_renewal
      FROM due GROUP BY week
  )
  SELECT w.week::date, coalesce(d.expiring, 0), coalesce(d.renewed, 0), coalesce(d.awaiting_automatic_renewal, 0),
         coalesce(d.without_automatic_renewal, 0)
    FROM certbus.report_weeks(p_from, p_until) w LEFT JOIN weeks d USING (week)
   ORDER BY w.week
$$;
COMMENT ON FUNCTION certbus.report_upcoming_expiries(timestamptz, timestamptz) IS
  'Upcoming expiries by week: VALID and EXPIRING certificates whose not_after falls in [p_from, p_until), split into '
  'already renewed (a valid successor exists), awaiting automatic renewal (profile with auto_renew, enabled) and '
  'without automatic renewal (imported, discovered, or a profile without auto_renew: a person must act). '
  'Reads the index certificates_active_not_after.';

CREATE FUNCTION certbus.report_job_attempts_by_week(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, kind text, attempts bigint, succeeded bigint, failed_attempts bigint,
               retried bigint, failed_for_good bigint, lease_expired bigint, cancelled bigint,
               failure_percent numeric, most_common_error text)
LANGUAGE sql STABLE AS $$
  -- Counted in one hashed pass; the most common error apart, over the failed attempts only, so that the
  -- hundreds of thousands of successful attempts of a week are never sorted.
  WITH counted AS (
    SELECT date_trunc('week', a.finished_at) AS week, a.kind, count(*) AS attempts,
           count(*) FILTER (WHERE a.outcome = 'SUCCESS') AS succeeded,
           count(*) FILTER (WHERE a.outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')) AS failed_attempts,
           count(*) FILTER (WHERE a.outcome = 'RETRY') AS retried,
           count(*) FILTER (WHERE a.outcome = 'FAILED') AS failed_for_good,
           count(*) FILTER (WHERE a.outcome = 'LEASE_EXPIRED') AS lease_expired,
           count(*) FILTER (WHERE a.outcome = 'CANCELLED') AS cancelled
      FROM certbus.job_attempts a
     WHERE a.finished_at >= p_from AND a.finished_at < p_until
     GROUP BY 1, 2
  ), patterns AS (
    SELECT DISTINCT ON (week, kind) week, kind, pattern
      FROM (SELECT date_trunc('week', a.finished_at) AS week, a.kind, certbus.error_pattern(a.error) AS pattern,
                   count(*) AS n
              FROM certbus.job_attempts a
             WHERE a.finished_at >= p_from AND a.finished_at < p_until
               AND a.outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')
             GROUP BY 1, 2, 3) p
     ORDER BY week, kind, n DESC, pattern
  )
  SELECT c.week::date, c.kind, c.attempts, c.succeeded, c.failed_attempts, c.retried, c.failed_for_good,
         c.lease_expired, c.cancelled, round(100.0 * c.failed_attempts / c.attempts, 1), p.pattern
    FROM counted c LEFT JOIN patterns p USING (week, kind)
   ORDER BY c.week, c.kind
$$;
COMMENT ON FUNCTION certbus.report_job_attempts_by_week(timestamptz, timestamptz) IS
  'Job attempts that finished in [p_from, p_until) per week and kind, counted per attempt: attempts, successes, '
  'failed attempts (RETRY, FAILED or LEASE_EXPIRED; an operator''s CANCELLED is not a failure) and each outcome, the '
  'failure percentage and the most common error pattern (certbus.error_pattern; on a tie, the first in sort order). '
  'Only weeks and kinds with attempts '
  'appear. Reads the BRIN index on job_attempts.finished_at.';

CREATE FUNCTION certbus.report_job_failure_patterns(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (kind text, error_pattern text, failed_attempts bigint, jobs bigint, final_failures bigint,
               lease_expiries bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT a.kind, certbus.error_pattern(a.error), count(*), count(DISTINCT a.job_id),
         count(*) FILTER (WHERE a.outcome = 'FAILED'), count(*) FILTER (WHERE a.outcome = 'LEASE_EXPIRED'),
         min(a.finished_at), max(a.finished_at)
    FROM certbus.job_attempts a
   WHERE a.finished_at >= p_from AND a.finished_at < p_until AND a.outcome IN ('RETRY', 'FAILED', 'LEASE_EXPIRED')
   GROUP BY 1, 2
   ORDER BY 3 DESC, 1, 2
$$;
COMMENT ON FUNCTION certbus.report_job_failure_patterns(timestamptz, timestamptz) IS
  'Failed job attempts (RETRY, FAILED, LEASE_EXPIRED) that finished in [p_from, p_until), grouped by kind and error '
  'pattern (certbus.error_pattern), most frequent first: how many attempts and distinct jobs, how many ended the job '
  'FAILED or were lost with a worker, first and last seen. The weekly "audit job failure patterns" over any period.';

CREATE FUNCTION certbus.report_alert_volume(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, raised bigint, error_raised bigint, warn_raised bigint,
               expiring_soon_raised bigint, still_open bigint, still_unread bigint, mean_hours_to_resolve numeric)
LANGUAGE sql STABLE AS $$
  WITH weeks AS (
    SELECT date_trunc('week', a.created_at) AS week, count(*) AS raised,
           count(*) FILTER (WHERE a.severity = 'ERROR') AS error_raised,
           count(*) FILTER (WHERE a.severity = 'WARN') AS warn_raised,
           count(*) FILTER (WHERE a.alert_type = 'EXPIRING_SOON') AS expiring_soon_raised,
           count(*) FILTER (WHERE a.resolved_at IS NULL) AS still_open,
           count(*) FILTER (WHERE a.read_at IS NULL AND a.resolved_at IS NULL) AS still_unread,
           round(avg(extract(epoch FROM a.resolved_at - a.created_at) / 3600), 1) AS mean_hours_to_resolve
      FROM certbus.alerts a
     WHERE a.created_at >= p_from AND a.created_at < p_until
     GROUP BY 1
  )
  SELECT w.week::date, coalesce(v.raised, 0), coalesce(v.error_raised, 0), coalesce(v.warn_raised, 0),
         coalesce(v.expiring_soon_raised, 0), coalesce(v.still_open, 0), coalesce(v.still_unread, 0),
         v.mean_hours_to_resolve
    FROM certbus.report_weeks(p_from, p_until) w LEFT JOIN weeks v USING (week)
   ORDER BY w.week
$$;
COMMENT ON FUNCTION certbus.report_alert_volume(timestamptz, timestamptz) IS
  'Alert volume per week over [p_from, p_until): alerts raised, by severity (ERROR, WARN; EXPIRING_SOON alerts are '
  'WARN or ERROR on the last ladder step and are also counted apart), how many are still open or open and unread, and '
  'the mean hours from raise to resolution of the resolved ones. Reads the index alerts_created.';

CREATE FUNCTION certbus.report_alert_patterns(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (alert_type text, severity text, entity_type text, raised bigint, distinct_entities bigint,
               most_for_one_entity bigint, still_open bigint, still_unread bigint, mean_hours_to_resolve numeric)
LANGUAGE sql STABLE AS $$
  WITH per_entity AS (
    SELECT a.alert_type, a.severity, a.entity_type, a.entity_id, count(*) AS raised,
           count(*) FILTER (WHERE a.resolved_at IS NULL) AS still_open,
           count(*) FILTER (WHERE a.read_at IS NULL AND a.resolved_at IS NULL) AS still_unread,
           count(a.resolved_at) AS resolved,
           sum(extract(epoch FROM a.resolved_at - a.created_at) / 3600) AS hours_to_resolve
      FROM certbus.alerts a
     WHERE a.created_at >= p_from AND a.created_at < p_until
     GROUP BY 1, 2, 3, 4
  )
  SELECT alert_type, severity, entity_type, sum(raised)::bigint, count(*), max(raised), sum(still_open)::bigint,
         sum(still_unread)::bigint, round(sum(hours_to_resolve) / nullif(sum(resolved), 0), 1)
    FROM per_entity
   GROUP BY 1, 2, 3
   ORDER BY 4 DESC, 1, 2, 3
$$;
COMMENT ON FUNCTION certbus.report_alert_patterns(timestamptz, timestamptz) IS
  'High-risk alert patterns over [p_from, p_until): alerts raised per type, severity and entity type, how many '
  'distinct objects they concern and the most raised for one object (few entities with many alerts = a recurring '
  'problem), how many are still open or unread, and the mean hours to resolution. Most raised first.';

CREATE FUNCTION certbus.report_renewal_times(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, renewals bigint, renewals_timed bigint, mean_hours_to_renew numeric,
               p90_hours_to_renew numeric, max_hours_to_renew numeric, mean_days_left_at_renewal numeric,
               renewed_after_expiry bigint)
LANGUAGE sql STABLE AS $$
  WITH renewals AS (
    SELECT date_trunc('week', s.created_at) AS week,
           extract(epoch FROM s.created_at - started.at) / 3600 AS hours,
           extract(epoch FROM p.not_after - s.created_at) / 86400 AS days_left,
           s.created_at > p.not_after AS after_expiry
      FROM certbus.certificates s
      JOIN certbus.certificates p ON p.id = s.predecessor_id
      LEFT JOIN LATERAL (
        SELECT min(r.created_at) AS at FROM certbus.certificate_requests r
         WHERE r.predecessor_id = s.predecessor_id AND r.created_at <= s.created_at
      ) started ON true
     WHERE s.created_at >= p_from AND s.created_at < p_until AND s.predecessor_id IS NOT NULL AND s.source = 'ISSUED'
  ), weeks AS (
    SELECT week, count(*) AS renewals, count(hours) AS renewals_timed,
           round(avg(hours), 1) AS mean_hours_to_renew,
           round((percentile_cont(0.9) WITHIN GROUP (ORDER BY hours::float8))::numeric, 1) AS p90_hours_to_renew,
           round(max(hours), 1) AS max_hours_to_renew,
           round(avg(days_left), 1) AS mean_days_left_at_renewal,
           count(*) FILTER (WHERE after_expiry) AS renewed_after_expiry
      FROM renewals GROUP BY week
  )
  SELECT w.week::date, coalesce(v.renewals, 0), coalesce(v.renewals_timed, 0), v.mean_hours_to_renew,
         v.p90_hours_to_renew, v.max_hours_to_renew, v.mean_days_left_at_renewal, coalesce(v.renewed_after_expiry, 0)
    FROM certbus.report_weeks(p_from, p_until) w LEFT JOIN weeks v USING (week)
   ORDER BY w.week
$$;
COMMENT ON FUNCTION certbus.report_renewal_times(timestamptz, timestamptz) IS
  'Time to renew, per week of the renewals issued in [p_from, p_until). A renewal is a certificate issued with a '
  'predecessor; its time to renew runs from the first renewal request for the predecessor (certificate_requests, '
  'operation RENEW: made when the first RENEW_CERT job for it runs, scheduled at renew_at or by an operator) to the '
  'moment the successor was recorded, so it includes failed attempts, retries with backoff and approval waits. Columns: '
  'renewals, renewals_timed (those with a request on record: the mean, 90th percentile and maximum are over these), '
  'mean days the predecessor still had when the successor was issued, and renewals issued after the predecessor '
  'expired.';
