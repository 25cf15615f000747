-- 042_expiry_monitoring.sql — the expiry ladder in SQL, expiry marks, and the index the hourly scan uses.
--
-- The ladder rule (mirrored by CertbusCore.ExpiryLadder; tests check they agree): with L the certificate's
-- lifetime and M the largest step of its profile's expiry_alert_days (default 30, 14, 7, 1 days), each step
-- d fires d days before not_after when L >= 2M, else d * L / (2M) before (a fraction of the lifetime).

-- The per-certificate functions are single SQL expressions (no subqueries), so PostgreSQL inlines them into the
-- scan and evaluates them at the cost of plain arithmetic. A ladder is passed as its "thresholds": the distinct
-- positive steps, negated, ascending (30/14/7/1 → {-30,-14,-7,-1}); width_bucket then counts the steps crossed.

CREATE FUNCTION certbus.expiry_ladder_thresholds(p_steps integer[]) RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(-s.d::float8 ORDER BY s.d DESC), '{}'::float8[])
    FROM (SELECT DISTINCT d FROM unnest(p_steps) AS d WHERE d > 0) AS s
$$;
COMMENT ON FUNCTION certbus.expiry_ladder_thresholds(integer[]) IS
  'A profile''s expiry_alert_days in the form the ladder functions take: distinct positive steps, negated, ascending '
  '({30,14,7,1} → {-30,-14,-7,-1}). Compute it once per profile, not per certificate.';

CREATE FUNCTION certbus.expiry_ladder_scale(p_not_before timestamptz, p_not_after timestamptz,
                                            p_thresholds double precision[])
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN p_thresholds[1] IS NULL THEN 1.0::float8
           WHEN extract(epoch FROM p_not_after - p_not_before)::float8 >= -2 * p_thresholds[1] * 86400 THEN 1.0::float8
           ELSE greatest(0, extract(epoch FROM p_not_after - p_not_before))::float8 / (-2 * p_thresholds[1] * 86400)
         END
$$;
COMMENT ON FUNCTION certbus.expiry_ladder_scale(timestamptz, timestamptz, double precision[]) IS
  'Factor applied to every expiry ladder step for a certificate: 1 when its lifetime is at least twice the largest '
  'step, else lifetime / (2 x largest step) (short-lived certificates get steps as fractions of their lifetime).';

CREATE FUNCTION certbus.expiry_ladder_position(p_not_before timestamptz, p_not_after timestamptz,
                                               p_thresholds double precision[], p_now timestamptz)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN p_now >= p_not_after THEN 0
           ELSE (-p_thresholds[width_bucket(
                   -(extract(epoch FROM p_not_after - p_now)::float8
                     / (86400 * certbus.expiry_ladder_scale(p_not_before, p_not_after, p_thresholds))),
                   p_thresholds)])::integer
         END
$$;
COMMENT ON FUNCTION certbus.expiry_ladder_position(timestamptz, timestamptz, double precision[], timestamptz) IS
  'Where a certificate stands on a ladder given as certbus.expiry_ladder_thresholds(...): NULL before the first step, '
  '0 once expired, else the smallest step (in days) whose scaled threshold has been reached. Inlined into queries.';

CREATE FUNCTION certbus.expiry_ladder_step(p_not_before timestamptz, p_not_after timestamptz, p_steps integer[],
                                           p_now timestamptz DEFAULT now())
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT certbus.expiry_ladder_position(p_not_before, p_not_after, certbus.expiry_ladder_thresholds(p_steps), p_now)
$$;
COMMENT ON FUNCTION certbus.expiry_ladder_step(timestamptz, timestamptz, integer[], timestamptz) IS
  'Where a certificate stands on its expiry ladder (steps in days, as in ra_profiles.expiry_alert_days) at p_now: '
  'NULL before the first step, 0 once expired, else the smallest step reached. Convenient in psql; scans use '
  'expiry_ladder_position with thresholds computed once per profile.';

CREATE VIEW certbus.profile_expiry_ladders AS
SELECT p.id AS profile_id, certbus.expiry_ladder_thresholds(p.expiry_alert_days) AS thresholds
  FROM certbus.ra_profiles p;
COMMENT ON VIEW certbus.profile_expiry_ladders IS
  'Each RA profile''s expiry ladder as thresholds (see expiry_ladder_thresholds). Certificates without a profile use '
  'the default 30/14/7/1-day ladder, ''{-30,-14,-7,-1}''. Scans read this once (a MATERIALIZED CTE) and hash-join it.';
COMMENT ON COLUMN certbus.profile_expiry_ladders.profile_id IS 'The RA profile.';
COMMENT ON COLUMN certbus.profile_expiry_ladders.thresholds IS 'Distinct positive steps in days, negated, ascending.';

CREATE FUNCTION certbus.expiry_window_days() RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT greatest(30, coalesce((SELECT max(d) FROM certbus.ra_profiles p, unnest(p.expiry_alert_days) AS d), 0))
$$;
COMMENT ON FUNCTION certbus.expiry_window_days() IS
  'The largest expiry ladder step of any profile (at least the default 30 days): no certificate can be inside its '
  'threshold earlier than this many days before not_after, so scans read only that range of the not_after index.';

CREATE FUNCTION certbus.has_valid_successor(p_certificate_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM certbus.certificates s
                  WHERE s.predecessor_id = p_certificate_id
                    AND s.status IN ('VALID', 'EXPIRING')
                    AND s.not_after > now())
$$;
COMMENT ON FUNCTION certbus.has_valid_successor(uuid) IS
  'True when a certificate has been replaced: a certificate naming it as predecessor is VALID or EXPIRING, not '
  'revoked and not past not_after.';

CREATE INDEX certificates_active_not_after ON certbus.certificates (not_after) WHERE status IN ('VALID', 'EXPIRING');
COMMENT ON INDEX certbus.certificates_active_not_after IS
  'Serves the hourly expiry scan: certificates not yet marked EXPIRED or REVOKED, by expiry, so the scan reads only '
  'those within the largest alert window instead of the whole table.';

CREATE TABLE certbus.certificate_expiry_marks (
  certificate_id  uuid PRIMARY KEY REFERENCES certbus.certificates (id) ON DELETE CASCADE,
  step_days       integer NOT NULL CHECK (step_days > 0),
  marked_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.certificate_expiry_marks IS
  'The ladder step for which the expiry scan last emitted CERTIFICATE_EXPIRING, per certificate: the scan emits again '
  'only when a certificate reaches a new step (upsert ... WHERE step changed, so concurrent scans emit once).';
COMMENT ON COLUMN certbus.certificate_expiry_marks.certificate_id IS 'The certificate.';
COMMENT ON COLUMN certbus.certificate_expiry_marks.step_days IS 'The ladder step (days, as written in the profile) last announced.';
COMMENT ON COLUMN certbus.certificate_expiry_marks.marked_at IS 'When it was announced.';

CREATE FUNCTION certbus.json_time(p_time timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
COMMENT ON FUNCTION certbus.json_time(timestamptz) IS
  'A time as ISO 8601 UTC text without fractions (2030-01-02T03:04:05Z), the form event payloads use.';

CREATE FUNCTION certbus.certificate_event_fields(p_id uuid, p_common_name text, p_serial_number text,
                                                 p_fingerprint text, p_profile_id uuid, p_group_id uuid,
                                                 p_not_after timestamptz) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'certificate_id', p_id, 'common_name', p_common_name, 'serial_number', p_serial_number,
    'fingerprint_sha256', p_fingerprint, 'profile_id', p_profile_id, 'group_id', p_group_id,
    'not_after', certbus.json_time(p_not_after)))
$$;
COMMENT ON FUNCTION certbus.certificate_event_fields(uuid, text, text, text, uuid, uuid, timestamptz) IS
  'The certificate fields every certificate event payload carries (certificate_id, common_name, serial_number, '
  'fingerprint_sha256, profile_id, group_id, not_after), NULLs left out. Callers add the event''s own fields with ||.';
