-- 060_least_privilege.sql — the role model made strict and explicit (docs/security.md).
--
-- What this changes, compared with 001, 020, 051 and 054:
--  * PUBLIC gets nothing in schema certbus. PostgreSQL grants EXECUTE on every new function to
--    PUBLIC, so until now certbus_reporter, certbus_auditor and certbus_agent could call every
--    function of the schema (enqueue_job, write_audit, raise_alert, ...); only missing table
--    privileges stopped those calls. EXECUTE is now revoked from PUBLIC on every certbus function,
--    for functions the migrating role creates later too (default privileges), and again by
--    certbus.apply_grants() after every `certbus migrate`.
--  * certbus_reporter may EXECUTE only STABLE and IMMUTABLE functions that are not SECURITY DEFINER
--    (what the report views call); certbus_auditor none; certbus_agent only the agent_* functions
--    granted in 051 and 054.
--  * certbus_service: every view, the vocabularies (job_kinds, event_types, automation_statuses,
--    automation_workflow_steps, audit_actions) and certbus.schema_migrations are read-only; they
--    change only through migrations. Several views are automatically updatable, and a write through
--    a view runs with the view owner's privileges on the table below.
--  * No certbus role holds TRUNCATE, REFERENCES or TRIGGER on anything.
--  * Every function with a fixed search_path (each SECURITY DEFINER function and the agent helpers)
--    now uses search_path = pg_catalog, certbus, pg_temp. With pg_temp left out PostgreSQL searches
--    the session's temporary schema FIRST for tables and types: an agent that created a temporary
--    table named "text" made `session_user::text` inside certbus.agent_may_act resolve to its table's
--    row type while the function ran as its owner.

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'certbus'
       AND (p.prosecdef OR EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%'))
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, certbus, pg_temp', f);
  END LOOP;
END
$$;

-- Functions the migrating role creates from now on are not executable by PUBLIC. (Per-schema default
-- privileges can only add to the global ones, so this is the role's global default in this database.)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE OR REPLACE FUNCTION certbus.apply_grants() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, certbus, pg_temp AS $$
DECLARE
  rel regclass;
  fn regprocedure;
BEGIN
  -- PUBLIC (every login, whatever its groups): nothing.
  REVOKE ALL ON SCHEMA certbus FROM PUBLIC;
  REVOKE ALL ON ALL TABLES IN SCHEMA certbus FROM PUBLIC;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA certbus FROM PUBLIC;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA certbus FROM PUBLIC;
  REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA certbus
    FROM certbus_service, certbus_agent, certbus_reporter, certbus_auditor;

  -- certbus_service: read and write the tables, use the sequences, run every function...
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA certbus TO certbus_service;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA certbus TO certbus_service;
  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA certbus TO certbus_service;
  -- ...but views, vocabularies and the migration history are read-only.
  FOR rel IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'certbus'
       AND (c.relkind IN ('v', 'm')
            OR c.relname IN ('schema_migrations', 'job_kinds', 'event_types', 'automation_statuses',
                             'automation_workflow_steps', 'audit_actions'))
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM certbus_service', rel);
  END LOOP;

  -- certbus_reporter: reads every table and view; runs only functions that cannot write and do
  -- not run as their owner (the report views call some).
  GRANT SELECT ON ALL TABLES IN SCHEMA certbus TO certbus_reporter;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA certbus FROM certbus_reporter, certbus_auditor;
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'certbus' AND p.prokind = 'f' AND p.provolatile IN ('s', 'i') AND NOT p.prosecdef
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO certbus_reporter', fn);
  END LOOP;

  -- certbus_agent: no table or sequence at all; only the agent_* functions (051, 054).
  REVOKE ALL ON ALL TABLES IN SCHEMA certbus FROM certbus_agent;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA certbus FROM certbus_agent;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA certbus FROM certbus_reporter, certbus_auditor;

  -- The audit exceptions (020): the audit tables insert-only for certbus_service, readable by
  -- certbus_auditor (which reads nothing else) and certbus_reporter.
  PERFORM certbus.audit_apply_grants();
END
$$;
COMMENT ON FUNCTION certbus.apply_grants() IS
  'Sets the privileges of the certbus_* roles on every object of the schema (docs/security.md): nothing for PUBLIC; '
  'certbus_service reads and writes tables (views, vocabularies and schema_migrations read-only; audit tables '
  'insert-only) and runs every function; certbus_reporter reads everything and runs only STABLE/IMMUTABLE '
  'non-SECURITY DEFINER functions; certbus_auditor reads only the audit tables; certbus_agent only runs the '
  'agent_* functions. No role may TRUNCATE. Run automatically at the end of `certbus migrate`; safe to run by hand.';

SELECT certbus.apply_grants();
