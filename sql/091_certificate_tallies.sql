-- 091_certificate_tallies.sql — certificate counts kept up to date by triggers, so that metrics
-- (certbus.metrics_snapshot(), 092) read a few hundred small rows instead of counting a table of
-- a million certificates on every scrape.
--
-- One row per (status, expiry day, shard): how many certificates have that status and, for the
-- active statuses VALID and EXPIRING, expire on that UTC day (EXPIRED and REVOKED certificates
-- are all counted under the day '-infinity'). Statement triggers on certbus.certificates add the
-- changes of each INSERT, UPDATE and DELETE statement. Inserting sessions write to the shard
-- pg_backend_pid() % 16, so concurrent issuers rarely wait on the same counter row until their
-- commit; a sum over the shards is exact. certbus.compact_certificate_tallies() folds the shards
-- of past days together and drops groups that fell to zero (the metrics-tallies periodic task).
-- certbus.certificate_tally_drift() compares the tallies with a real count (a full scan: for
-- checks, not for scrapes) and certbus.rebuild_certificate_tallies() recounts from scratch.

CREATE TABLE certbus.certificate_tallies (
  status        text NOT NULL CHECK (status IN ('VALID', 'EXPIRING', 'EXPIRED', 'REVOKED')),
  expiry_day    date NOT NULL,
  shard         smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
  certificates  bigint NOT NULL,
  PRIMARY KEY (status, expiry_day, shard),
  CHECK ((status IN ('VALID', 'EXPIRING')) = (expiry_day <> '-infinity'::date))
);
COMMENT ON TABLE certbus.certificate_tallies IS
  'Certificate counts by status and UTC expiry day, kept up to date by statement triggers on certbus.certificates so that '
  'certbus.metrics_snapshot() never counts the certificates table. Sum certificates over shard for a (status, expiry_day). '
  'Check with SELECT * FROM certbus.certificate_tally_drift() (no rows = exact); fix with certbus.rebuild_certificate_tallies().';
COMMENT ON COLUMN certbus.certificate_tallies.status IS 'Certificate status: VALID, EXPIRING, EXPIRED or REVOKED.';
COMMENT ON COLUMN certbus.certificate_tallies.expiry_day IS
  'UTC date of not_after for VALID and EXPIRING certificates; ''-infinity'' for EXPIRED and REVOKED ones (their expiry no longer matters here).';
COMMENT ON COLUMN certbus.certificate_tallies.shard IS
  'pg_backend_pid() % 16 of the session that counted: spreads concurrent writers over 16 rows. Shard 0 also receives compactions.';
COMMENT ON COLUMN certbus.certificate_tallies.certificates IS 'Change in the count contributed by this shard (one shard may be negative; the sum over shards is the count).';

CREATE FUNCTION certbus.certificate_tally_day(p_status text, p_not_after timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_status IN ('VALID', 'EXPIRING') THEN (p_not_after AT TIME ZONE 'UTC')::date ELSE '-infinity'::date END
$$;
COMMENT ON FUNCTION certbus.certificate_tally_day(text, timestamptz) IS
  'The expiry_day under which certbus.certificate_tallies counts a certificate: the UTC date of not_after while it is VALID '
  'or EXPIRING, ''-infinity'' once EXPIRED or REVOKED.';

-- The trigger functions add their changes to the session's shard in key order (so two sessions
-- never lock the same counter rows in opposite orders), in one statement each.

-- One function for inserts and deletes: both triggers name their transition table changed_certificates.
CREATE FUNCTION certbus.certificate_tallies_inserted_or_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO certbus.certificate_tallies AS t (status, expiry_day, shard, certificates)
  SELECT c.status, certbus.certificate_tally_day(c.status, c.not_after), (pg_backend_pid() % 16)::smallint,
         CASE TG_OP WHEN 'DELETE' THEN -count(*) ELSE count(*) END
    FROM changed_certificates c
   GROUP BY 1, 2
   ORDER BY 1, 2
  ON CONFLICT (status, expiry_day, shard) DO UPDATE SET certificates = t.certificates + EXCLUDED.certificates;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.certificate_tallies_inserted_or_deleted() IS
  'Statement trigger function (AFTER INSERT and AFTER DELETE on certbus.certificates): counts inserted certificates in, '
  'and deleted ones out of, the calling session''s shard of certbus.certificate_tallies.';

CREATE FUNCTION certbus.certificate_tallies_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Only rows whose status or expiry day changed move between tallies; other updates (renew_at,
  -- renewal bookkeeping) insert nothing.
  INSERT INTO certbus.certificate_tallies AS t (status, expiry_day, shard, certificates)
  SELECT d.status, d.day, (pg_backend_pid() % 16)::smallint, sum(d.delta)
    FROM (SELECT o.status AS old_status, certbus.certificate_tally_day(o.status, o.not_after) AS old_day,
                 n.status AS new_status, certbus.certificate_tally_day(n.status, n.not_after) AS new_day
            FROM old_certificates o JOIN new_certificates n ON n.id = o.id) ch
   CROSS JOIN LATERAL (VALUES (ch.old_status, ch.old_day, -1), (ch.new_status, ch.new_day, 1)) AS d(status, day, delta)
   WHERE ch.old_status <> ch.new_status OR ch.old_day <> ch.new_day
   GROUP BY 1, 2
  HAVING sum(d.delta) <> 0
   ORDER BY 1, 2
  ON CONFLICT (status, expiry_day, shard) DO UPDATE SET certificates = t.certificates + EXCLUDED.certificates;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.certificate_tallies_updated() IS
  'Statement trigger function (AFTER UPDATE on certbus.certificates): moves certificates whose status or expiry day changed '
  'between tallies, in the calling session''s shard of certbus.certificate_tallies.';

CREATE FUNCTION certbus.certificate_tallies_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM certbus.certificate_tallies;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.certificate_tallies_truncated() IS
  'Statement trigger function (AFTER TRUNCATE on certbus.certificates): empties certbus.certificate_tallies.';

CREATE FUNCTION certbus.compact_certificate_tallies() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  removed integer;
BEGIN
  -- Groups of days before yesterday (UTC) and of the inactive statuses: nobody inserts certificates
  -- that expire in the past, so these rows are written only by status changes and rarely contended.
  CREATE TEMPORARY TABLE certificate_tallies_folded ON COMMIT DROP AS
  WITH moved AS (
    DELETE FROM certbus.certificate_tallies t
     WHERE (t.status, t.expiry_day) IN (
             SELECT status, expiry_day FROM certbus.certificate_tallies
              WHERE expiry_day < (now() AT TIME ZONE 'UTC')::date - 1
              GROUP BY 1, 2 HAVING count(*) > 1 OR sum(certificates) = 0)
    RETURNING t.status, t.expiry_day, t.certificates)
  SELECT status, expiry_day, sum(certificates) AS certificates, count(*) AS rows FROM moved GROUP BY 1, 2;
  INSERT INTO certbus.certificate_tallies AS t (status, expiry_day, shard, certificates)
  SELECT status, expiry_day, 0, certificates FROM certificate_tallies_folded WHERE certificates <> 0
   ORDER BY status, expiry_day
  ON CONFLICT (status, expiry_day, shard) DO UPDATE SET certificates = t.certificates + EXCLUDED.certificates;
  SELECT coalesce(sum(rows - CASE WHEN certificates <> 0 THEN 1 ELSE 0 END), 0) INTO removed FROM certificate_tallies_folded;
  DROP TABLE certificate_tallies_folded;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION certbus.compact_certificate_tallies() IS
  'Folds the shards of each (status, expiry day) of past days and of EXPIRED/REVOKED into one row (shard 0) and drops groups '
  'that fell to zero, so certbus.certificate_tallies stays small. Returns how many rows it removed. Run by the metrics-tallies '
  'periodic task; safe to run at any time.';

CREATE FUNCTION certbus.certificate_tally_drift()
RETURNS TABLE (status text, expiry_day date, tallied bigint, counted bigint)
LANGUAGE sql STABLE AS $$
  WITH tallied AS (
    SELECT t.status, t.expiry_day, sum(t.certificates)::bigint AS n FROM certbus.certificate_tallies t GROUP BY 1, 2),
  counted AS (
    SELECT c.status, certbus.certificate_tally_day(c.status, c.not_after) AS expiry_day, count(*) AS n
      FROM certbus.certificates c GROUP BY 1, 2)
  SELECT coalesce(t.status, c.status), coalesce(t.expiry_day, c.expiry_day), coalesce(t.n, 0), coalesce(c.n, 0)
    FROM tallied t FULL JOIN counted c ON c.status = t.status AND c.expiry_day = t.expiry_day
   WHERE coalesce(t.n, 0) <> coalesce(c.n, 0)
   ORDER BY 1, 2
$$;
COMMENT ON FUNCTION certbus.certificate_tally_drift() IS
  'Where certbus.certificate_tallies disagrees with a real count of certbus.certificates (a full scan): one row per '
  '(status, expiry day) whose tallied and counted numbers differ. No rows means the tallies are exact.';

CREATE FUNCTION certbus.rebuild_certificate_tallies() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
BEGIN
  -- SHARE mode waits for writers in progress and keeps new ones out until this transaction ends.
  LOCK TABLE certbus.certificates IN SHARE MODE;
  DELETE FROM certbus.certificate_tallies;
  INSERT INTO certbus.certificate_tallies (status, expiry_day, shard, certificates)
  SELECT c.status, certbus.certificate_tally_day(c.status, c.not_after), 0, count(*)
    FROM certbus.certificates c GROUP BY 1, 2;
  SELECT coalesce(sum(certificates), 0) INTO total FROM certbus.certificate_tallies;
  RETURN total;
END
$$;
COMMENT ON FUNCTION certbus.rebuild_certificate_tallies() IS
  'Recounts certbus.certificate_tallies from certbus.certificates (a full scan, blocking certificate writes meanwhile). '
  'Returns the number of certificates counted. Only needed if certbus.certificate_tally_drift() ever returns rows.';

CREATE TRIGGER certificates_tally_insert AFTER INSERT ON certbus.certificates
  REFERENCING NEW TABLE AS changed_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.certificate_tallies_inserted_or_deleted();
CREATE TRIGGER certificates_tally_update AFTER UPDATE ON certbus.certificates
  REFERENCING OLD TABLE AS old_certificates NEW TABLE AS new_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.certificate_tallies_updated();
CREATE TRIGGER certificates_tally_delete AFTER DELETE ON certbus.certificates
  REFERENCING OLD TABLE AS changed_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.certificate_tallies_inserted_or_deleted();
CREATE TRIGGER certificates_tally_truncate AFTER TRUNCATE ON certbus.certificates
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.certificate_tallies_truncated();

-- The triggers exist (and hold their lock on certbus.certificates until this migration commits),
-- so counting now misses no concurrent writer.
SELECT certbus.rebuild_certificate_tallies();

-- Earliest expiry per profile (certbus_certificate_earliest_expiry_seconds): one index probe per
-- profile. Renewal clears renew_at of the certificate it replaces, so "renew_at IS NOT NULL" keeps
-- renewed predecessors (which stay VALID until they expire) out; certificates without a profile
-- (discovered, imported) are never renewed by certbus and are all kept.
CREATE INDEX certificates_unrenewed_expiry ON certbus.certificates (profile_id, not_after)
  WHERE status IN ('VALID', 'EXPIRING') AND (renew_at IS NOT NULL OR profile_id IS NULL);
COMMENT ON INDEX certbus.certificates_unrenewed_expiry IS
  'Active certificates not yet renewed, by profile and expiry: the earliest expiry per profile in one probe each (metrics).';
