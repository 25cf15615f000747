-- 044_alert_views.sql — psql views for the seed's daily routine ("Review ERROR alerts") and weekly review.
--   SELECT * FROM certbus.unread_error_alerts;                           -- daily: what needs attention
--   SELECT * FROM certbus.alerts_by_type_and_day WHERE day > now() - interval '7 days';  -- weekly patterns
--   SELECT * FROM certbus.expiring_certificates_without_replacement;     -- what will break, soonest first

CREATE VIEW certbus.unread_error_alerts AS
SELECT a.id, a.alert_type, a.title, a.message, a.entity_type, a.entity_id, a.created_at,
       a.resolved_at IS NULL AS still_open, a.resolved_at, a.resolution
  FROM certbus.alerts a
 WHERE a.severity = 'ERROR' AND a.read_at IS NULL
 ORDER BY a.created_at DESC;
COMMENT ON VIEW certbus.unread_error_alerts IS
  'Daily routine: ERROR alerts nobody has marked read yet, newest first (still_open = the cause is not gone yet). '
  'Mark them read with certbus alerts read ID... or --all.';
COMMENT ON COLUMN certbus.unread_error_alerts.id IS 'Alert id.';
COMMENT ON COLUMN certbus.unread_error_alerts.alert_type IS 'EXPIRING_SOON or ERROR.';
COMMENT ON COLUMN certbus.unread_error_alerts.title IS 'One-line summary.';
COMMENT ON COLUMN certbus.unread_error_alerts.message IS 'What happened and what to do.';
COMMENT ON COLUMN certbus.unread_error_alerts.entity_type IS 'Kind of object at fault.';
COMMENT ON COLUMN certbus.unread_error_alerts.entity_id IS 'Id of that object.';
COMMENT ON COLUMN certbus.unread_error_alerts.created_at IS 'When it was raised.';
COMMENT ON COLUMN certbus.unread_error_alerts.still_open IS 'True while the cause is still there (not resolved).';
COMMENT ON COLUMN certbus.unread_error_alerts.resolved_at IS 'When the cause went away, if it did.';
COMMENT ON COLUMN certbus.unread_error_alerts.resolution IS 'Why it was resolved.';

CREATE VIEW certbus.alerts_by_type_and_day AS
SELECT (a.created_at AT TIME ZONE 'UTC')::date AS day, a.alert_type, a.severity,
       count(*) AS raised,
       count(*) FILTER (WHERE a.read_at IS NULL) AS unread,
       count(*) FILTER (WHERE a.resolved_at IS NULL) AS still_open
  FROM certbus.alerts a
 GROUP BY 1, 2, 3
 ORDER BY 1 DESC, 2, 3;
COMMENT ON VIEW certbus.alerts_by_type_and_day IS
  'Weekly routine: how many alerts of each type and severity were raised per day (UTC), and how many are unread or '
  'still open. Filter with WHERE day > now() - interval ''7 days''.';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.day IS 'Day the alerts were raised (UTC).';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.alert_type IS 'EXPIRING_SOON, ERROR or WARN.';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.severity IS 'ERROR or WARN.';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.raised IS 'Alerts raised that day.';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.unread IS 'Of those, not yet marked read.';
COMMENT ON COLUMN certbus.alerts_by_type_and_day.still_open IS 'Of those, whose cause is still there.';

CREATE VIEW certbus.expiring_certificates_without_replacement AS
WITH ladders AS MATERIALIZED (SELECT profile_id, thresholds FROM certbus.profile_expiry_ladders)
SELECT c.id, c.common_name, c.serial_number, c.status, c.not_after,
       floor(extract(epoch FROM c.not_after - now()) / 86400)::integer AS days_left,
       s.step AS ladder_step_days,
       p.name AS profile, g.name AS certificate_group
  FROM certbus.certificates c
  LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
  LEFT JOIN certbus.certificate_groups g ON g.id = c.group_id
  LEFT JOIN ladders l ON l.profile_id = c.profile_id
 CROSS JOIN LATERAL (SELECT certbus.expiry_ladder_position(c.not_before, c.not_after,
                                                           coalesce(l.thresholds, '{-30,-14,-7,-1}'::float8[]), now()) AS step) s
 WHERE c.status IN ('VALID', 'EXPIRING')
   AND c.not_after <= now() + certbus.expiry_window_days() * interval '1 day'
   AND s.step IS NOT NULL
   AND NOT certbus.has_valid_successor(c.id)
 ORDER BY c.not_after;
COMMENT ON VIEW certbus.expiring_certificates_without_replacement IS
  'Certificates inside their profile''s expiry threshold (or just past not_after but not yet marked EXPIRED) that '
  'have no valid successor, soonest first: what will break unless renewed. Same rule as the hourly expiry scan.';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.id IS 'Certificate id.';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.common_name IS 'Subject common name.';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.serial_number IS 'Serial number (hex).';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.status IS 'VALID or EXPIRING.';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.not_after IS 'Expiry.';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.days_left IS 'Whole days left (negative once past not_after).';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.ladder_step_days IS 'Ladder step reached (days as written in the profile; 0 = expired).';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.profile IS 'RA profile name (NULL: no profile, default ladder).';
COMMENT ON COLUMN certbus.expiring_certificates_without_replacement.certificate_group IS 'Group name, if any.';
