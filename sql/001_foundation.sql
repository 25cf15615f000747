-- 001_foundation.sql — the certbus schema, its roles, and shared helpers.
-- Forward-only: never edit after release; add a new numbered file instead.

CREATE SCHEMA IF NOT EXISTS certbus;
COMMENT ON SCHEMA certbus IS
  'certbus: certificate lifecycle management. Jobs, certificates, CAs, RA profiles, audit log, events and alerts. '
  'Services coordinate only through these tables and LISTEN/NOTIFY channels named certbus_*.';

-- Group roles (NOLOGIN). Grant them to login roles of your deployment, e.g.
--   CREATE ROLE certbus_worker_login LOGIN PASSWORD '...' IN ROLE certbus_service;
-- Roles are cluster-wide, so creation tolerates an existing role (another database
-- of the same cluster may have created it, possibly at the same moment).
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['certbus_service', 'certbus_agent', 'certbus_reporter', 'certbus_auditor'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END LOOP;
END
$$;

GRANT USAGE ON SCHEMA certbus TO certbus_service, certbus_agent, certbus_reporter, certbus_auditor;

CREATE OR REPLACE FUNCTION certbus.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.touch_updated_at() IS
  'Trigger function: sets updated_at to now() on every UPDATE of the row.';

-- Re-applied by `certbus migrate` after every run, so new tables get the standard grants.
-- Later migrations may CREATE OR REPLACE it to add exceptions (the audit log is insert-only).
CREATE OR REPLACE FUNCTION certbus.apply_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA certbus TO certbus_reporter';
END
$$;
COMMENT ON FUNCTION certbus.apply_grants() IS
  'Grants the standard privileges of the certbus_* roles on every object of the schema. '
  'Run automatically at the end of `certbus migrate`; safe to run by hand.';
