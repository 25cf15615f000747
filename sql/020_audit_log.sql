-- 020_audit_log.sql — the append-only, hash-chained audit log.
--
-- Rows are written by certbus.write_audit(...) in the transaction of the action they record.
-- Nobody may change or remove a row: triggers reject UPDATE, DELETE and TRUNCATE, and the
-- certbus_service role holds only SELECT, INSERT and UPDATE of the two sealing columns
-- (see certbus.apply_grants). The only permitted change is the one-time sealing by the audit
-- sealer, which sets chain_position and chain_hash from NULL to a value. The chain itself is
-- computed outside the database (docs/audit.md gives the exact encoding).

-- The action vocabulary. Other migrations extend it with
--   INSERT INTO certbus.audit_actions (action, description) VALUES ('NEW_ACTION', '...') ON CONFLICT DO NOTHING;
CREATE TABLE certbus.audit_actions (
  action       text PRIMARY KEY CHECK (action ~ '^[A-Z][A-Z0-9_]+$' AND length(action) <= 63),
  description  text NOT NULL CHECK (description <> '')
);
COMMENT ON TABLE certbus.audit_actions IS
  'The constrained vocabulary of audit actions. An audit row whose action is not listed here is rejected. '
  'Migrations of other areas add their actions with INSERT ... ON CONFLICT DO NOTHING.';
COMMENT ON COLUMN certbus.audit_actions.action IS 'Action name, upper case with underscores, e.g. ISSUANCE_COMPLETED.';
COMMENT ON COLUMN certbus.audit_actions.description IS 'What the action records, for people reading the log.';

INSERT INTO certbus.audit_actions (action, description) VALUES
  ('ISSUANCE_INITIATED',   'A certificate issuance was requested (job enqueued or approval started).'),
  ('ISSUANCE_COMPLETED',   'A certificate was issued and stored.'),
  ('ISSUANCE_FAILED',      'An issuance failed permanently.'),
  ('RENEWAL_INITIATED',    'A renewal was started, by the scheduler or an operator.'),
  ('RENEWAL_COMPLETED',    'A renewed certificate was issued and stored.'),
  ('RENEWAL_FAILED',       'A renewal failed permanently.'),
  ('REVOCATION_REQUESTED', 'Revocation of a certificate was requested.'),
  ('REVOCATION_COMPLETED', 'A certificate was revoked at its CA.'),
  ('REVOCATION_FAILED',    'A revocation failed permanently.'),
  ('CSR_GENERATED',        'certbus generated a key pair and CSR.'),
  ('CSR_SUBMITTED',        'A CSR was submitted to certbus or to a CA.'),
  ('CERTIFICATE_EXPORTED', 'A certificate (public part) was exported.'),
  ('PRIVATE_KEY_EXPORTED', 'A private key held by certbus was exported (the key itself is never logged).'),
  ('APPROVAL_REQUESTED',   'A request needs approval before it proceeds.'),
  ('APPROVAL_GRANTED',     'An approver granted a pending request.'),
  ('APPROVAL_DENIED',      'An approver denied a pending request.'),
  ('APPROVAL_EXPIRED',     'A pending approval expired without a decision.'),
  ('CA_CREATED',           'A certificate authority was added.'),
  ('CA_UPDATED',           'A certificate authority''s settings changed.'),
  ('CA_DISABLED',          'A certificate authority was disabled.'),
  ('CA_REFRESHED',         'A certificate authority was refreshed (chain, CRL, status).'),
  ('PROFILE_CREATED',      'An RA profile was created.'),
  ('PROFILE_UPDATED',      'An RA profile changed.'),
  ('JOB_ENQUEUED',         'An operator enqueued a job by hand.'),
  ('JOB_CANCELLED',        'An operator cancelled a job.'),
  ('JOB_RETRIED',          'An operator retried a failed job.'),
  ('DEPLOYMENT_STARTED',   'Installation of a certificate on an endpoint started.'),
  ('DEPLOYMENT_COMPLETED', 'A certificate was installed on an endpoint.'),
  ('DEPLOYMENT_FAILED',    'Installation of a certificate on an endpoint failed.'),
  ('DEPLOYMENT_VALIDATED', 'An endpoint was checked to serve the expected certificate.'),
  ('DISCOVERY_STARTED',    'A discovery run started.'),
  ('DISCOVERY_COMPLETED',  'A discovery run finished.'),
  ('CONFIG_CHANGED',       'A platform setting changed.'),
  ('USER_CHANGED',         'A user or role assignment changed.'),
  ('TRIGGER_CHANGED',      'An event trigger was created, changed or removed.'),
  ('NOTIFICATION_PROFILE_CHANGED', 'A notification profile was created, changed or removed.'),
  ('ALERT_READ',           'An operator marked alerts as read.'),
  ('AUDIT_CHECKPOINT',     'The audit sealer signed a checkpoint of the hash chain.');

CREATE TABLE certbus.audit_log (
  -- Values are validated by the trigger audit_log_before_insert rather than CHECK constraints:
  -- PostgreSQL re-reads CHECK expressions for every INSERT statement into a partitioned table,
  -- which costs more than the whole validation in a (session-cached) PL/pgSQL trigger.
  id              bigint GENERATED ALWAYS AS IDENTITY,
  occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  action          text NOT NULL,
  entity_type     text NOT NULL,
  entity_id       text NOT NULL,
  actor_type      text NOT NULL,
  actor_id        text NOT NULL,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
  chain_position  bigint,
  chain_hash      bytea,
  PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE certbus.audit_log IS
  'Append-only audit trail of every lifecycle and administrative action, written in the transaction of the action. '
  'Partitioned by month of occurred_at. Rows are never updated or deleted; the audit sealer links committed rows '
  'into a SHA-256 hash chain (chain_position, chain_hash) that `certbus audit verify` recomputes.';
COMMENT ON COLUMN certbus.audit_log.id IS 'Log id, assigned at insert (not commit) time: ids of concurrent transactions commit out of order.';
COMMENT ON COLUMN certbus.audit_log.occurred_at IS 'When the row was written (clock time inside the acting transaction); the partition key.';
COMMENT ON COLUMN certbus.audit_log.action IS 'What happened, from the vocabulary in certbus.audit_actions (e.g. ISSUANCE_COMPLETED).';
COMMENT ON COLUMN certbus.audit_log.entity_type IS 'Kind of thing acted on: CSR, Certificate, CA, Job, Endpoint, Profile, Approval, Trigger, Config, User, AuditLog, ...';
COMMENT ON COLUMN certbus.audit_log.entity_id IS 'Id of the thing acted on (uuid, job id, setting name ...), as text.';
COMMENT ON COLUMN certbus.audit_log.actor_type IS 'SYSTEM (a certbus service), USER (an operator) or AGENT (an endpoint agent).';
COMMENT ON COLUMN certbus.audit_log.actor_id IS 'Service name, user name or agent id of the actor.';
COMMENT ON COLUMN certbus.audit_log.details IS 'Structured details of the action as a JSON object. Never contains secrets or private keys.';
COMMENT ON COLUMN certbus.audit_log.txid IS 'Id of the writing transaction (pg_current_xact_id()). The sealer seals only rows whose transaction is older than every running one.';
COMMENT ON COLUMN certbus.audit_log.chain_position IS 'Position in the hash chain (1, 2, 3 ... without gaps), set once by the audit sealer; NULL until sealed.';
COMMENT ON COLUMN certbus.audit_log.chain_hash IS 'SHA-256(previous chain_hash || canonical encoding of this row), set once by the audit sealer; NULL until sealed.';

-- Indexes: each is created on the partitioned table and so exists on every partition.
CREATE INDEX audit_log_entity ON certbus.audit_log (entity_id, id);
COMMENT ON INDEX certbus.audit_log_entity IS 'audit list --entity-id (with or without --entity-type), newest first.';
CREATE INDEX audit_log_entity_type ON certbus.audit_log (entity_type, id);
COMMENT ON INDEX certbus.audit_log_entity_type IS 'audit list --entity-type, newest first.';
CREATE INDEX audit_log_action ON certbus.audit_log (action, id);
COMMENT ON INDEX certbus.audit_log_action IS 'audit list --action, newest first.';
CREATE INDEX audit_log_actor ON certbus.audit_log (actor_id, id);
COMMENT ON INDEX certbus.audit_log_actor IS 'audit list --actor, newest first.';
-- The chain order is (txid, id): the sealer seals a growing prefix of that order (see
-- docs/audit.md), so one index serves the sealer's work list and the verifier's walk.
-- No index mentions chain_position or chain_hash, so sealing a row is a HOT update
-- (no index entries) when its page has room: partitions are created with fillfactor 50.
CREATE INDEX audit_log_chain_order ON certbus.audit_log (txid, id);
COMMENT ON INDEX certbus.audit_log_chain_order IS 'Chain order: the sealer''s work list (rows after the head) and the verifier''s walk.';

-- Rows that fall outside every monthly partition land here, so an insert never fails for want of
-- a partition. certbus.audit_ensure_partitions() keeps monthly partitions ahead of time.
CREATE TABLE certbus.audit_log_default PARTITION OF certbus.audit_log DEFAULT WITH (fillfactor = 50);
COMMENT ON TABLE certbus.audit_log_default IS
  'Safety net for audit rows outside every monthly partition; normally empty (the sealer creates partitions ahead).';

-- Append-only enforcement ---------------------------------------------------------------------

CREATE FUNCTION certbus.audit_log_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM certbus.audit_actions WHERE action = NEW.action;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown audit action %', quote_literal(NEW.action)
      USING ERRCODE = 'check_violation', HINT = 'The vocabulary is in certbus.audit_actions (docs/audit.md).';
  END IF;
  -- (No bounded repetition like {0,63} in patterns: PostgreSQL's regex engine makes those cost
  -- microseconds per row; length() bounds the size instead.)
  IF NEW.entity_type !~ '^[A-Za-z][A-Za-z0-9_]*$' OR length(NEW.entity_type) > 64 THEN
    RAISE EXCEPTION 'audit entity_type % must be a word of letters, digits and _ (at most 64), starting with a letter',
      quote_literal(NEW.entity_type) USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.entity_id = '' OR length(NEW.entity_id) > 256 THEN
    RAISE EXCEPTION 'audit entity_id must be 1 to 256 characters' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.actor_type NOT IN ('SYSTEM', 'USER', 'AGENT') THEN
    RAISE EXCEPTION 'audit actor_type must be SYSTEM, USER or AGENT, not %', quote_literal(NEW.actor_type)
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.actor_id = '' OR length(NEW.actor_id) > 256 THEN
    RAISE EXCEPTION 'audit actor_id must be 1 to 256 characters' USING ERRCODE = 'check_violation';
  END IF;
  IF jsonb_typeof(NEW.details) <> 'object' THEN
    RAISE EXCEPTION 'audit details must be a JSON object, not %', jsonb_typeof(NEW.details)
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.chain_position IS NOT NULL OR NEW.chain_hash IS NOT NULL THEN
    RAISE EXCEPTION 'audit rows are inserted unsealed: chain_position and chain_hash are set only by the audit sealer'
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.occurred_at < statement_timestamp() OR NEW.occurred_at > clock_timestamp() THEN
    RAISE EXCEPTION 'audit occurred_at is set by the database; % is not the current time', NEW.occurred_at
      USING ERRCODE = 'check_violation';
  END IF;
  IF strpos(NEW.details::text, 'PRIVATE KEY-----') > 0 THEN
    RAISE EXCEPTION 'audit details must not contain a private key (action %, % %)', NEW.action, NEW.entity_type, NEW.entity_id
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.txid := pg_current_xact_id();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.audit_log_before_insert() IS
  'Trigger: validates a new audit row (known action, entity type a word, entity and actor ids 1-256 characters, '
  'actor type SYSTEM/USER/AGENT, details a JSON object without a private key, unsealed, database time) and stamps '
  'the writing transaction id. Errors are check_violation (23514).';

CREATE FUNCTION certbus.audit_log_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.chain_position IS NOT NULL OR OLD.chain_hash IS NOT NULL THEN
    RAISE EXCEPTION 'audit row % is already sealed at chain position %; a seal is set once and never changed',
      OLD.id, OLD.chain_position
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.chain_position IS NULL OR NEW.chain_hash IS NULL OR NEW.chain_position < 1 OR octet_length(NEW.chain_hash) <> 32
     OR (NEW.id, NEW.occurred_at, NEW.action, NEW.entity_type, NEW.entity_id, NEW.actor_type, NEW.actor_id,
         NEW.details, NEW.txid)
        IS DISTINCT FROM
        (OLD.id, OLD.occurred_at, OLD.action, OLD.entity_type, OLD.entity_id, OLD.actor_type, OLD.actor_id,
         OLD.details, OLD.txid) THEN
    RAISE EXCEPTION 'the audit log is append-only: UPDATE of row % is not allowed (only the sealer may set chain_position and chain_hash, once)',
      OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.audit_log_before_update() IS
  'Trigger: rejects every UPDATE of an audit row except the one-time sealing (chain_position from NULL to a '
  'position >= 1 and chain_hash from NULL to 32 bytes, together, every other column unchanged).';

CREATE FUNCTION certbus.audit_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'ROW' THEN
    RAISE EXCEPTION 'the audit log is append-only: % of %.% row % is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, OLD.id
      USING ERRCODE = 'restrict_violation',
            HINT = 'Old partitions are archived and dropped by the owner after a signed checkpoint covers them (docs/audit.md).';
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % of %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation',
          HINT = 'Old partitions are archived and dropped by the owner after a signed checkpoint covers them (docs/audit.md).';
END
$$;
COMMENT ON FUNCTION certbus.audit_log_reject_change() IS
  'Trigger: rejects DELETE and TRUNCATE on the audit log and each of its partitions (and UPDATE of checkpoints) '
  'with a clear message.';

CREATE FUNCTION certbus.audit_log_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Same channel and payload for every insert: PostgreSQL delivers it once per transaction.
  PERFORM pg_notify('certbus_audit', '');
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.audit_log_notify() IS
  'Trigger: wakes the audit sealer (channel certbus_audit, empty payload, coalesced to one notification per transaction).';

CREATE TRIGGER audit_log_before_insert BEFORE INSERT ON certbus.audit_log
  FOR EACH ROW EXECUTE FUNCTION certbus.audit_log_before_insert();
CREATE TRIGGER audit_log_before_update BEFORE UPDATE ON certbus.audit_log
  FOR EACH ROW EXECUTE FUNCTION certbus.audit_log_before_update();
CREATE TRIGGER audit_log_reject_delete BEFORE DELETE ON certbus.audit_log
  FOR EACH ROW EXECUTE FUNCTION certbus.audit_log_reject_change();
CREATE TRIGGER audit_log_reject_truncate BEFORE TRUNCATE ON certbus.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.audit_log_reject_change();
CREATE TRIGGER audit_log_notify AFTER INSERT ON certbus.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.audit_log_notify();
-- Statement triggers are not inherited by partitions: each partition gets its own TRUNCATE guard.
CREATE TRIGGER audit_log_reject_truncate BEFORE TRUNCATE ON certbus.audit_log_default
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.audit_log_reject_change();

-- Partitions ---------------------------------------------------------------------------------

CREATE FUNCTION certbus.audit_ensure_partitions(p_months_ahead integer DEFAULT 3) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
  month_start date;
  partition_name text;
  created integer := 0;
BEGIN
  IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 120 THEN
    RAISE EXCEPTION 'months ahead must be between 0 and 120, not %', p_months_ahead USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 0 .. p_months_ahead LOOP
    month_start := (first_month + make_interval(months => i))::date;
    partition_name := format('audit_log_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'certbus' AND c.relname = partition_name);
    BEGIN
      EXECUTE format(
        'CREATE TABLE certbus.%I PARTITION OF certbus.audit_log FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = 50)',
        partition_name,
        (month_start::timestamp AT TIME ZONE 'UTC'),
        ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
    EXCEPTION WHEN check_violation THEN
      -- The default partition already holds rows of that month: leave them there.
      RAISE NOTICE 'audit partition % not created: certbus.audit_log_default holds rows of that month', partition_name;
      CONTINUE;
    END;
    EXECUTE format(
      'CREATE TRIGGER audit_log_reject_truncate BEFORE TRUNCATE ON certbus.%I '
      'FOR EACH STATEMENT EXECUTE FUNCTION certbus.audit_log_reject_change()', partition_name);
    EXECUTE format('COMMENT ON TABLE certbus.%I IS %L', partition_name,
      'Audit log rows of ' || to_char(month_start, 'YYYY-MM') || ' (UTC), a partition of certbus.audit_log.');
    PERFORM certbus.audit_apply_grants();
    created := created + 1;
  END LOOP;
  RETURN created;
END
$$;
COMMENT ON FUNCTION certbus.audit_ensure_partitions(integer) IS
  'Creates the monthly partitions of certbus.audit_log from the current month (UTC) to p_months_ahead months ahead, '
  'with their TRUNCATE guard and grants. Returns how many it created. Called by migrations and by the audit sealer.';

-- The chain head ------------------------------------------------------------------------------

CREATE TABLE certbus.audit_seal_state (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  chain_position  bigint NOT NULL DEFAULT 0 CHECK (chain_position >= 0),
  chain_hash      bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                  CHECK (octet_length(chain_hash) = 32),
  head_txid       xid8 NOT NULL DEFAULT '0'::xid8,
  head_id         bigint NOT NULL DEFAULT 0,
  sealed_at       timestamptz
);
COMMENT ON TABLE certbus.audit_seal_state IS
  'One row: where the audit sealer stands (the chain head). Written by every seal batch under a row lock, so '
  'sealers never interleave. Bookkeeping only: `certbus audit verify` trusts nothing here.';
COMMENT ON COLUMN certbus.audit_seal_state.singleton IS 'Always true: the table has exactly one row.';
COMMENT ON COLUMN certbus.audit_seal_state.chain_position IS 'Chain position of the last sealed row (0: nothing sealed yet).';
COMMENT ON COLUMN certbus.audit_seal_state.chain_hash IS 'Chain hash of the last sealed row (32 zero bytes before the first).';
COMMENT ON COLUMN certbus.audit_seal_state.head_txid IS 'txid of the last sealed row: rows after (head_txid, head_id) are not sealed yet.';
COMMENT ON COLUMN certbus.audit_seal_state.head_id IS 'Log id of the last sealed row.';
COMMENT ON COLUMN certbus.audit_seal_state.sealed_at IS 'When the last seal batch committed.';
INSERT INTO certbus.audit_seal_state DEFAULT VALUES;

-- Privileges ---------------------------------------------------------------------------------

-- The audit tables and every partition: services may read and insert, and update only the two
-- sealing columns; auditors may read.
CREATE FUNCTION certbus.audit_apply_grants() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  rel regclass;
BEGIN
  FOR rel IN
    SELECT 'certbus.audit_log'::regclass
    UNION ALL
    SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'certbus.audit_log'::regclass
  LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM certbus_service, certbus_agent, certbus_reporter, certbus_auditor', rel);
    EXECUTE format('GRANT SELECT, INSERT ON %s TO certbus_service', rel);
    EXECUTE format('GRANT UPDATE (chain_position, chain_hash) ON %s TO certbus_service', rel);
    EXECUTE format('GRANT SELECT ON %s TO certbus_reporter, certbus_auditor', rel);
  END LOOP;
  FOR rel IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'certbus' AND c.relname LIKE 'audit\_%' AND c.relkind IN ('r', 'v', 'p')
       AND c.relname NOT IN ('audit_log', 'audit_seal_state') AND NOT c.relispartition
  LOOP
    -- Other audit tables (the action vocabulary, checkpoints) are read-only or insert-only for services.
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM certbus_service, certbus_agent, certbus_reporter, certbus_auditor', rel);
    EXECUTE format('GRANT SELECT ON %s TO certbus_reporter, certbus_auditor, certbus_service', rel);
  END LOOP;
  REVOKE INSERT ON certbus.audit_actions FROM certbus_service;
  -- The sealer's bookkeeping row: updated by every batch, never inserted or deleted.
  REVOKE INSERT, DELETE, TRUNCATE ON certbus.audit_seal_state FROM certbus_service, certbus_agent, certbus_reporter, certbus_auditor;
  GRANT SELECT, UPDATE ON certbus.audit_seal_state TO certbus_service;
  GRANT SELECT ON certbus.audit_seal_state TO certbus_reporter, certbus_auditor;
END
$$;
COMMENT ON FUNCTION certbus.audit_apply_grants() IS
  'Makes the audit tables and every audit_log partition insert-only for certbus_service (UPDATE only of '
  'chain_position and chain_hash, for the sealer) and readable by certbus_auditor and certbus_reporter. '
  'Called by certbus.apply_grants() and when a partition is created.';

CREATE OR REPLACE FUNCTION certbus.apply_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA certbus TO certbus_service';
  EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA certbus TO certbus_reporter';
  -- Exceptions: the audit log is insert-only (020_audit_log.sql).
  PERFORM certbus.audit_apply_grants();
END
$$;
COMMENT ON FUNCTION certbus.apply_grants() IS
  'Grants the standard privileges of the certbus_* roles on every object of the schema, then the audit exceptions '
  '(audit tables insert-only for certbus_service, readable by certbus_auditor). '
  'Run automatically at the end of `certbus migrate`; safe to run by hand.';

-- The shared entry point ----------------------------------------------------------------------

CREATE FUNCTION certbus.write_audit(
  p_action text, p_entity_type text, p_entity_id text, p_actor_type text, p_actor_id text,
  p_details jsonb DEFAULT '{}'::jsonb
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  new_id bigint;
BEGIN
  INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, details)
  VALUES (p_action, p_entity_type, p_entity_id, p_actor_type, p_actor_id, COALESCE(p_details, '{}'::jsonb))
  RETURNING id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION certbus.write_audit(text, text, text, text, text, jsonb) IS
  'Appends one audit row in the caller''s transaction and returns its log id. Call it in the transaction that '
  'performs the action, so the row commits or rolls back with it. Raises check_violation for an unknown action '
  '(see certbus.audit_actions), a bad actor type, an empty entity or actor id, or details that are not a JSON object.';

-- The two SECURITY DEFINER functions: not for PUBLIC (certbus.apply_grants gives certbus_service EXECUTE).
REVOKE EXECUTE ON FUNCTION certbus.audit_ensure_partitions(integer), certbus.audit_apply_grants() FROM PUBLIC;

SELECT certbus.audit_ensure_partitions(3);
