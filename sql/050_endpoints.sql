-- 050_endpoints.sql — endpoints, their automation statuses (the seed's full catalogue),
-- the status history, and the one function that changes a status.
--
-- Design (see docs/endpoints-and-agents.md):
-- * certbus.automation_statuses lists all 42 statuses of seeds/automation-statuses.txt with their
--   types; certbus.automation_workflow_steps lists the happy-path moves. Both mirror
--   CertbusCore.AutomationStateMachine; a test compares every (from, to, kind) combination.
-- * A status changes ONLY through certbus.change_endpoint_status(...), which enforces the state
--   machine, locks the endpoint row, and writes certbus.endpoint_status_history. A trigger
--   rejects any other UPDATE of endpoints.automation_status (e.g. a hand-written UPDATE in psql).
-- * Who made a change: function arguments; for plain INSERTs the transaction-local setting
--   certbus.actor ('USER:alice', 'AGENT:<id>', 'SYSTEM:worker'), else USER:<session user>.

CREATE TABLE certbus.automation_statuses (
  code                  text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z_]{1,62}$'),
  title                 text NOT NULL UNIQUE,
  types                 text[] NOT NULL CHECK (
                          cardinality(types) > 0
                          AND types <@ ARRAY['COMMON', 'AGENT', 'SENSOR', 'ADMIN_WEB_REQUEST', 'ERROR']),
  is_error              boolean GENERATED ALWAYS AS ('ERROR' = ANY (types)) STORED,
  restarts_after_error  boolean NOT NULL DEFAULT false,
  description           text NOT NULL
);
COMMENT ON TABLE certbus.automation_statuses IS
  'The catalogue of endpoint automation statuses (seeds/automation-statuses.txt): one row per status with the '
  'automation types it applies to. Read-only reference data, mirrored by CertbusCore.AutomationStatus.';
COMMENT ON COLUMN certbus.automation_statuses.code IS 'Stored code, e.g. INSTALL_VALIDATION_FAILED (endpoints.automation_status refers to it).';
COMMENT ON COLUMN certbus.automation_statuses.title IS 'The status as operators see it, e.g. ''Install validation failed''.';
COMMENT ON COLUMN certbus.automation_statuses.types IS
  'Where the status applies: COMMON (every endpoint), AGENT, SENSOR, ADMIN_WEB_REQUEST; ERROR marks an error status.';
COMMENT ON COLUMN certbus.automation_statuses.is_error IS 'True for error statuses (types contains ERROR).';
COMMENT ON COLUMN certbus.automation_statuses.restarts_after_error IS
  'True for the statuses an endpoint in an error status may move to: automation requested/scheduled again, '
  'auto renew scheduled, handed to a person (Action required), or reset (Configured, Not configured).';
COMMENT ON COLUMN certbus.automation_statuses.description IS 'What the status means, from the seed.';

INSERT INTO certbus.automation_statuses (code, title, types, restarts_after_error, description) VALUES
  ('ACCOUNT_CREATED', 'Account created', ARRAY['AGENT'], false,
   'An account was successfully created for the ACME automation service.'),
  ('ACCOUNT_CREATION_FAILED', 'Account creation failed', ARRAY['AGENT', 'ERROR'], false,
   'The system failed to create an account for the ACME automation service.'),
  ('ACTION_REQUIRED', 'Action required', ARRAY['COMMON', 'ERROR'], true,
   'User intervention is needed to continue automation.'),
  ('APPROVAL_DENIED', 'Approval denied', ARRAY['COMMON'], false,
   'The certificate issuance request was denied during the approval process.'),
  ('APPROVAL_PENDING', 'Approval pending', ARRAY['COMMON'], false,
   'The certificate issuance request is awaiting required approval.'),
  ('AGENT_ERROR', 'Agent error', ARRAY['AGENT', 'ERROR'], false,
   'Automation failed due to an error with the local agent.'),
  ('AUTO_RENEW_SCHEDULED', 'Auto renew scheduled', ARRAY['COMMON'], true,
   'A certificate auto-renewal task has been scheduled.'),
  ('AUTOMATION_AT_RISK', 'Automation at risk', ARRAY['COMMON'], false,
   'The automation process may fail due to a detected issue that requires attention.'),
  ('AUTOMATION_FAILED', 'Automation failed', ARRAY['COMMON', 'ERROR'], false,
   'An automation attempt failed due to an unrecoverable error.'),
  ('AUTOMATION_PROFILE_BLOCKED', 'Automation profile blocked', ARRAY['COMMON', 'ERROR'], false,
   'Automation failed due to an issue with the selected certificate profile.'),
  ('AUTOMATION_REQUESTED', 'Automation requested', ARRAY['COMMON'], true,
   'An automation job has been requested and is in queue to run.'),
  ('AUTOMATION_SCHEDULED', 'Automation scheduled', ARRAY['COMMON'], true,
   'An automation job has been scheduled and will run at the specified time.'),
  ('AUTOMATION_SUCCESSFUL', 'Automation successful', ARRAY['COMMON'], false,
   'The previous automation event completed successfully. After 24 hours, this status clears and changes back to Configured.'),
  ('CERTIFICATE_DELIVERED', 'Certificate delivered', ARRAY['ADMIN_WEB_REQUEST'], false,
   'The certificate was successfully delivered to the target endpoint.'),
  ('CERTIFICATE_DELIVERY_FAILED', 'Certificate delivery failed', ARRAY['ADMIN_WEB_REQUEST', 'ERROR'], false,
   'The system could not deliver the certificate to the target endpoint.'),
  ('CERTIFICATE_ISSUED', 'Certificate issued', ARRAY['COMMON'], false,
   'The certificate was successfully issued.'),
  ('CONFIGURED', 'Configured', ARRAY['COMMON'], true,
   'Automation is available for this endpoint. An admin can request a certificate automation action on it at any time.'),
  ('CONFIGURATION_ERROR', 'Configuration error', ARRAY['COMMON', 'ERROR'], false,
   'Automation settings are invalid or incomplete and require correction.'),
  ('CONNECTOR_ERROR', 'Connector error', ARRAY['SENSOR', 'ADMIN_WEB_REQUEST', 'ERROR'], false,
   'Automation failed due to an error with an associated connector.'),
  ('CREATING_ACCOUNT', 'Creating account', ARRAY['AGENT'], false,
   'The system is creating an account for the ACME automation service.'),
  ('CSR_GENERATING', 'CSR generating', ARRAY['SENSOR', 'ADMIN_WEB_REQUEST'], false,
   'The system is generating a certificate signing request (CSR) for an automation event.'),
  ('CSR_GENERATION_COMPLETED', 'CSR generation completed', ARRAY['SENSOR', 'ADMIN_WEB_REQUEST'], false,
   'The CSR was successfully generated for an automation event.'),
  ('CSR_GENERATION_FAILED', 'CSR generation failed', ARRAY['SENSOR', 'ADMIN_WEB_REQUEST', 'ERROR'], false,
   'The CSR couldn''t be generated for an automation event.'),
  ('DELIVERING_CERTIFICATE', 'Delivering certificate', ARRAY['ADMIN_WEB_REQUEST'], false,
   'The system is delivering the issued certificate to the target endpoints.'),
  ('DNS_INTEGRATION_FAILED', 'DNS integration failed', ARRAY['AGENT', 'ERROR'], false,
   'Automation failed due to an error with the DNS integration used for domain control validation.'),
  ('DOMAIN_VALIDATED', 'Domain validated', ARRAY['AGENT'], false,
   'The ACME challenge succeeded and the domain was validated.'),
  ('INSTALL_VALIDATION_FAILED', 'Install validation failed', ARRAY['AGENT', 'SENSOR', 'ERROR'], false,
   'The certificate was installed but didn''t pass validation checks.'),
  ('INSTALL_VALIDATION_IN_PROGRESS', 'Install validation in progress', ARRAY['AGENT', 'SENSOR'], false,
   'The system is testing the endpoint to confirm the installation.'),
  ('INSTALLATION_COMPLETED', 'Installation completed', ARRAY['AGENT', 'SENSOR'], false,
   'The certificate was installed successfully on the target endpoint.'),
  ('INSTALLATION_FAILED', 'Installation failed', ARRAY['AGENT', 'SENSOR', 'ERROR'], false,
   'The attempt to install the certificate on the target endpoint failed.'),
  ('INSTALLATION_VALIDATED', 'Installation validated', ARRAY['AGENT', 'SENSOR'], false,
   'The certificate was installed and has been validated successfully.'),
  ('INSTALLING_CERTIFICATE', 'Installing certificate', ARRAY['AGENT', 'SENSOR'], false,
   'The system is currently installing the certificate on the target endpoint.'),
  ('IP_UNREACHABLE', 'IP Unreachable', ARRAY['SENSOR', 'ERROR'], false,
   'The IP address for the target endpoint is currently unreachable.'),
  ('ISSUANCE_FAILED', 'Issuance failed', ARRAY['COMMON', 'ERROR'], false,
   'The certificate issuance process failed.'),
  ('ISSUING_CERTIFICATE', 'Issuing certificate', ARRAY['COMMON'], false,
   'The certificate authority is issuing the certificate.'),
  ('MANUAL_SERVER_RESTART_APPROVED', 'Manual server restart approved', ARRAY['AGENT'], false,
   'A manual server restart was approved to complete certificate installation.'),
  ('NOT_CONFIGURED', 'Not configured', ARRAY['COMMON'], true,
   'Automation is not configured for this endpoint.'),
  ('POST_CSR_FAILED', 'Post CSR failed', ARRAY['SENSOR', 'ADMIN_WEB_REQUEST', 'ERROR'], false,
   'The CSR couldn''t be submitted to the certificate authority.'),
  ('READY_TO_BE_INSTALLED', 'Ready to be installed', ARRAY['AGENT', 'SENSOR'], false,
   'The certificate has been issued and is ready for installation.'),
  ('SCRIPT_ERROR', 'Script error', ARRAY['AGENT', 'ERROR'], false,
   'The local agent encountered an error when trying to run a custom script for the automation.'),
  ('VALIDATION_FAILED', 'Validation failed', ARRAY['AGENT', 'ERROR'], false,
   'The ACME domain validation process failed.'),
  ('VALIDATING_DOMAIN', 'Validating domain', ARRAY['AGENT'], false,
   'The ACME challenge process is validating domain ownership.');

CREATE TABLE certbus.automation_workflow_steps (
  from_status  text NOT NULL REFERENCES certbus.automation_statuses (code),
  to_status    text NOT NULL REFERENCES certbus.automation_statuses (code),
  PRIMARY KEY (from_status, to_status),
  CHECK (from_status <> to_status)
);
COMMENT ON TABLE certbus.automation_workflow_steps IS
  'The happy-path moves of the automation workflow (requested -> CSR/ACME steps -> issuing -> issued -> delivering '
  'or installing -> validating -> successful -> Configured). Moves into error statuses, restarts after an error and '
  '''Not configured'' are general rules of certbus.automation_move_problem, not rows here.';
COMMENT ON COLUMN certbus.automation_workflow_steps.from_status IS 'Status the endpoint is in.';
COMMENT ON COLUMN certbus.automation_workflow_steps.to_status IS 'Status it may move to next.';

INSERT INTO certbus.automation_workflow_steps (from_status, to_status) VALUES
  ('NOT_CONFIGURED', 'CONFIGURED'),
  ('NOT_CONFIGURED', 'CONFIGURATION_ERROR'),
  ('CONFIGURED', 'AUTOMATION_REQUESTED'),
  ('CONFIGURED', 'AUTOMATION_SCHEDULED'),
  ('CONFIGURED', 'AUTO_RENEW_SCHEDULED'),
  ('CONFIGURED', 'AUTOMATION_AT_RISK'),
  ('AUTOMATION_AT_RISK', 'CONFIGURED'),
  ('AUTOMATION_AT_RISK', 'AUTOMATION_REQUESTED'),
  ('AUTOMATION_AT_RISK', 'AUTOMATION_SCHEDULED'),
  ('AUTOMATION_AT_RISK', 'AUTO_RENEW_SCHEDULED'),
  ('AUTOMATION_SCHEDULED', 'AUTOMATION_REQUESTED'),
  ('AUTOMATION_SCHEDULED', 'CONFIGURED'),
  ('AUTO_RENEW_SCHEDULED', 'AUTOMATION_REQUESTED'),
  ('AUTO_RENEW_SCHEDULED', 'CONFIGURED'),
  ('AUTOMATION_REQUESTED', 'APPROVAL_PENDING'),
  ('AUTOMATION_REQUESTED', 'CREATING_ACCOUNT'),
  ('AUTOMATION_REQUESTED', 'VALIDATING_DOMAIN'),
  ('AUTOMATION_REQUESTED', 'CSR_GENERATING'),
  ('AUTOMATION_REQUESTED', 'ISSUING_CERTIFICATE'),
  ('AUTOMATION_REQUESTED', 'CONFIGURED'),
  ('AUTOMATION_REQUESTED', 'READY_TO_BE_INSTALLED'),
  ('APPROVAL_PENDING', 'APPROVAL_DENIED'),
  ('APPROVAL_PENDING', 'CREATING_ACCOUNT'),
  ('APPROVAL_PENDING', 'VALIDATING_DOMAIN'),
  ('APPROVAL_PENDING', 'CSR_GENERATING'),
  ('APPROVAL_PENDING', 'ISSUING_CERTIFICATE'),
  ('APPROVAL_DENIED', 'CONFIGURED'),
  ('APPROVAL_DENIED', 'AUTOMATION_REQUESTED'),
  ('CREATING_ACCOUNT', 'ACCOUNT_CREATED'),
  ('ACCOUNT_CREATED', 'VALIDATING_DOMAIN'),
  ('VALIDATING_DOMAIN', 'DOMAIN_VALIDATED'),
  ('DOMAIN_VALIDATED', 'CSR_GENERATING'),
  ('DOMAIN_VALIDATED', 'ISSUING_CERTIFICATE'),
  ('CSR_GENERATING', 'CSR_GENERATION_COMPLETED'),
  ('CSR_GENERATION_COMPLETED', 'ISSUING_CERTIFICATE'),
  ('ISSUING_CERTIFICATE', 'CERTIFICATE_ISSUED'),
  ('CERTIFICATE_ISSUED', 'READY_TO_BE_INSTALLED'),
  ('CERTIFICATE_ISSUED', 'DELIVERING_CERTIFICATE'),
  ('CERTIFICATE_ISSUED', 'INSTALLING_CERTIFICATE'),
  ('CERTIFICATE_ISSUED', 'AUTOMATION_SUCCESSFUL'),
  ('DELIVERING_CERTIFICATE', 'CERTIFICATE_DELIVERED'),
  ('CERTIFICATE_DELIVERED', 'AUTOMATION_SUCCESSFUL'),
  ('READY_TO_BE_INSTALLED', 'INSTALLING_CERTIFICATE'),
  ('READY_TO_BE_INSTALLED', 'MANUAL_SERVER_RESTART_APPROVED'),
  ('MANUAL_SERVER_RESTART_APPROVED', 'INSTALLING_CERTIFICATE'),
  ('MANUAL_SERVER_RESTART_APPROVED', 'INSTALLATION_COMPLETED'),
  ('INSTALLING_CERTIFICATE', 'INSTALLATION_COMPLETED'),
  ('INSTALLING_CERTIFICATE', 'MANUAL_SERVER_RESTART_APPROVED'),
  ('INSTALLATION_COMPLETED', 'INSTALL_VALIDATION_IN_PROGRESS'),
  ('INSTALLATION_COMPLETED', 'AUTOMATION_SUCCESSFUL'),
  ('INSTALLATION_COMPLETED', 'MANUAL_SERVER_RESTART_APPROVED'),
  ('INSTALL_VALIDATION_IN_PROGRESS', 'INSTALLATION_VALIDATED'),
  ('INSTALLATION_VALIDATED', 'AUTOMATION_SUCCESSFUL'),
  ('AUTOMATION_SUCCESSFUL', 'CONFIGURED'),
  ('AUTOMATION_SUCCESSFUL', 'AUTOMATION_REQUESTED'),
  ('AUTOMATION_SUCCESSFUL', 'AUTOMATION_SCHEDULED'),
  ('AUTOMATION_SUCCESSFUL', 'AUTO_RENEW_SCHEDULED'),
  ('ACTION_REQUIRED', 'AUTOMATION_REQUESTED'),
  ('ACTION_REQUIRED', 'AUTOMATION_SCHEDULED'),
  ('ACTION_REQUIRED', 'CONFIGURED');

-- Agents are defined here because endpoints refer to them; their functions are in 051.
CREATE TABLE certbus.agents (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  hostname      text NOT NULL DEFAULT '' CHECK (length(hostname) <= 253),
  version       text NOT NULL DEFAULT '' CHECK (length(version) <= 64),
  status        text NOT NULL DEFAULT 'NEVER_SEEN' CHECK (status IN ('NEVER_SEEN', 'ONLINE', 'OFFLINE')),
  last_seen_at  timestamptz,
  login_role    text UNIQUE CHECK (login_role <> ''),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'NEVER_SEEN') = (last_seen_at IS NULL))
);
COMMENT ON TABLE certbus.agents IS
  'Agents (certbus agent) running next to web servers: they install certificates on their own endpoints. '
  'Created by `certbus endpoint add --agent NAME` or `certbus agent register`; kept alive by heartbeats.';
COMMENT ON COLUMN certbus.agents.id IS 'Agent id; its jobs run on the queue named agent:<id>.';
COMMENT ON COLUMN certbus.agents.name IS 'Unique agent name given on the command line (certbus agent --name).';
COMMENT ON COLUMN certbus.agents.hostname IS 'Host name the agent last reported.';
COMMENT ON COLUMN certbus.agents.version IS 'certbus version the agent last reported.';
COMMENT ON COLUMN certbus.agents.status IS
  'NEVER_SEEN (registered, no heartbeat yet), ONLINE (heartbeat within the threshold), OFFLINE (silent past the '
  'threshold; an ''agent offline'' alert is open until it heartbeats again).';
COMMENT ON COLUMN certbus.agents.last_seen_at IS 'Time of the last heartbeat; NULL until the first one.';
COMMENT ON COLUMN certbus.agents.login_role IS
  'PostgreSQL login role this agent connects as (a member of certbus_agent). The certbus.agent_* functions only '
  'let that role act for this agent. NULL: only certbus_service members (a trusted local agent) may act for it.';
COMMENT ON COLUMN certbus.agents.created_at IS 'When the agent was registered.';
COMMENT ON COLUMN certbus.agents.updated_at IS 'When the row last changed.';
CREATE TRIGGER agents_touch BEFORE UPDATE ON certbus.agents
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE TABLE certbus.endpoints (
  id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                     text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  kind                     text NOT NULL CHECK (kind IN ('AGENT', 'SENSOR', 'ADMIN_WEB_REQUEST')),
  host                     text NOT NULL CHECK (host ~ '^[A-Za-z0-9.:-]{1,253}$' AND host !~ '^[.-]'),
  port                     integer NOT NULL DEFAULT 443 CHECK (port BETWEEN 1 AND 65535),
  server_name              text CHECK (server_name ~ '^[A-Za-z0-9*]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$'),
  expected_certificate_id  uuid REFERENCES certbus.certificates (id),
  agent_id                 uuid REFERENCES certbus.agents (id),
  description              text NOT NULL DEFAULT '',
  automation_status        text NOT NULL DEFAULT 'NOT_CONFIGURED' REFERENCES certbus.automation_statuses (code),
  automation_status_since  timestamptz NOT NULL DEFAULT now(),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT endpoints_agent_only_for_agent_kind CHECK (agent_id IS NULL OR kind = 'AGENT')
);
COMMENT ON TABLE certbus.endpoints IS
  'Places certificates are deployed: web servers with an agent (AGENT), network appliances or cloud services watched '
  'by a sensor (SENSOR), admin web requests (ADMIN_WEB_REQUEST). Each carries one automation status; change it only '
  'with certbus.change_endpoint_status(...).';
COMMENT ON COLUMN certbus.endpoints.id IS 'Endpoint id.';
COMMENT ON COLUMN certbus.endpoints.name IS 'Unique endpoint name used on the command line.';
COMMENT ON COLUMN certbus.endpoints.kind IS 'AGENT, SENSOR or ADMIN_WEB_REQUEST: decides which automation statuses apply.';
COMMENT ON COLUMN certbus.endpoints.host IS 'Host name or IP address the TLS service listens on.';
COMMENT ON COLUMN certbus.endpoints.port IS 'TCP port of the TLS service (default 443).';
COMMENT ON COLUMN certbus.endpoints.server_name IS
  'Server name sent as SNI and checked against the certificate''s names; NULL means the host (when it is a name).';
COMMENT ON COLUMN certbus.endpoints.expected_certificate_id IS
  'The certificate that should be served there now; deployment validation compares the served leaf with it.';
COMMENT ON COLUMN certbus.endpoints.agent_id IS 'For AGENT endpoints: the agent that installs certificates here.';
COMMENT ON COLUMN certbus.endpoints.description IS 'Free text for people.';
COMMENT ON COLUMN certbus.endpoints.automation_status IS
  'Current automation status (certbus.automation_statuses.code). Changed only by certbus.change_endpoint_status.';
COMMENT ON COLUMN certbus.endpoints.automation_status_since IS
  'When the endpoint entered its current status (''Automation successful'' reverts to ''Configured'' 24 h after).';
COMMENT ON COLUMN certbus.endpoints.created_at IS 'When the endpoint was added.';
COMMENT ON COLUMN certbus.endpoints.updated_at IS 'When the row last changed.';
CREATE TRIGGER endpoints_touch BEFORE UPDATE ON certbus.endpoints
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();
CREATE INDEX endpoints_agent ON certbus.endpoints (agent_id) WHERE agent_id IS NOT NULL;
COMMENT ON INDEX certbus.endpoints_agent IS 'Endpoints of an agent.';
CREATE INDEX endpoints_status_since ON certbus.endpoints (automation_status, automation_status_since);
COMMENT ON INDEX certbus.endpoints_status_since IS 'Serves the revert of ''Automation successful'' after 24 hours and status filters.';
CREATE INDEX endpoints_expected_certificate ON certbus.endpoints (expected_certificate_id) WHERE expected_certificate_id IS NOT NULL;
COMMENT ON INDEX certbus.endpoints_expected_certificate IS 'Where a certificate is expected to be deployed.';

CREATE TABLE certbus.endpoint_status_history (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id  uuid NOT NULL REFERENCES certbus.endpoints (id) ON DELETE CASCADE,
  from_status  text REFERENCES certbus.automation_statuses (code),
  to_status    text NOT NULL REFERENCES certbus.automation_statuses (code),
  changed_at   timestamptz NOT NULL DEFAULT now(),
  job_id       bigint,
  actor_type   text NOT NULL CHECK (actor_type IN ('SYSTEM', 'USER', 'AGENT')),
  actor_id     text NOT NULL CHECK (actor_id <> '' AND length(actor_id) <= 256),
  message      text NOT NULL DEFAULT '' CHECK (length(message) <= 2000)
);
COMMENT ON TABLE certbus.endpoint_status_history IS
  'Every automation status an endpoint has had, oldest first: written by certbus.change_endpoint_status (and, for '
  'the first status, when the endpoint is created). Rows are never changed.';
COMMENT ON COLUMN certbus.endpoint_status_history.id IS 'History row id, increasing in order of change.';
COMMENT ON COLUMN certbus.endpoint_status_history.endpoint_id IS 'The endpoint.';
COMMENT ON COLUMN certbus.endpoint_status_history.from_status IS 'Status before the change; NULL for the first status of a new endpoint.';
COMMENT ON COLUMN certbus.endpoint_status_history.to_status IS 'Status after the change.';
COMMENT ON COLUMN certbus.endpoint_status_history.changed_at IS 'When the change was made (transaction time).';
COMMENT ON COLUMN certbus.endpoint_status_history.job_id IS 'The job that caused the change, if any (certbus.jobs.id; no foreign key so that job retention can delete jobs).';
COMMENT ON COLUMN certbus.endpoint_status_history.actor_type IS 'Who changed it: SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.endpoint_status_history.actor_id IS 'User name, agent id, or the certbus service.';
COMMENT ON COLUMN certbus.endpoint_status_history.message IS 'Why, for people: an error, a fingerprint, ''validated''.';
CREATE INDEX endpoint_status_history_endpoint ON certbus.endpoint_status_history (endpoint_id, id);
COMMENT ON INDEX certbus.endpoint_status_history_endpoint IS 'History of one endpoint in order.';

-- ---------------------------------------------------------------------------------------------
-- The state machine, in SQL (mirror of CertbusCore.AutomationStateMachine.validate)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.automation_move_problem(p_from text, p_to text, p_kind text)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  f certbus.automation_statuses;
  t certbus.automation_statuses;
BEGIN
  IF p_kind IS NULL OR p_kind NOT IN ('AGENT', 'SENSOR', 'ADMIN_WEB_REQUEST') THEN
    RETURN format('unknown endpoint kind %s (expected AGENT, SENSOR or ADMIN_WEB_REQUEST)', coalesce(quote_literal(p_kind), 'NULL'));
  END IF;
  SELECT * INTO t FROM certbus.automation_statuses WHERE code = p_to;
  IF NOT FOUND THEN
    RETURN format('unknown automation status %s', coalesce(quote_literal(p_to), 'NULL'));
  END IF;
  SELECT * INTO f FROM certbus.automation_statuses WHERE code = p_from;
  IF NOT FOUND THEN
    RETURN format('unknown automation status %s', coalesce(quote_literal(p_from), 'NULL'));
  END IF;
  IF NOT ('COMMON' = ANY (t.types) OR p_kind = ANY (t.types)) THEN
    RETURN format('''%s'' does not apply to %s endpoints', t.title, lower(p_kind));
  END IF;
  IF t.code = f.code THEN
    RETURN 'the endpoint already has this status';
  END IF;
  IF t.code = 'NOT_CONFIGURED' THEN
    RETURN NULL;
  END IF;
  IF f.is_error AND t.restarts_after_error THEN
    RETURN NULL;
  END IF;
  IF t.is_error OR t.code = 'AUTOMATION_AT_RISK' THEN
    IF NOT f.is_error AND f.code <> 'NOT_CONFIGURED' THEN
      RETURN NULL;
    END IF;
    RETURN format('an endpoint in ''%s'' must be restarted or reset before it can fail again', f.title);
  END IF;
  IF f.is_error THEN
    RETURN 'from an error status automation can only be requested again, scheduled, handed to a person, or reset';
  END IF;
  IF EXISTS (SELECT 1 FROM certbus.automation_workflow_steps WHERE from_status = f.code AND to_status = t.code) THEN
    RETURN NULL;
  END IF;
  RETURN 'not a step of the automation workflow';
END
$$;
COMMENT ON FUNCTION certbus.automation_move_problem(text, text, text) IS
  'Why an endpoint of kind p_kind may not move from status p_from to p_to, or NULL when the move is legal. '
  'Same rules and wording as CertbusCore.AutomationStateMachine.validate: the status must apply to the kind; '
  '''Not configured'' is always allowed; error statuses may be entered from any non-error status except Not '
  'configured; from an error only restarts are allowed; otherwise the move must be in automation_workflow_steps.';

CREATE FUNCTION certbus.change_endpoint_status(
  p_endpoint_id uuid, p_to text, p_actor_type text DEFAULT 'SYSTEM', p_actor_id text DEFAULT 'sql',
  p_message text DEFAULT '', p_job_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  e certbus.endpoints;
  v_problem text;
  v_from_title text;
  v_to_title text;
  v_history bigint;
BEGIN
  SELECT * INTO e FROM certbus.endpoints WHERE id = p_endpoint_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no endpoint with id %', coalesce(p_endpoint_id::text, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  v_problem := certbus.automation_move_problem(e.automation_status, p_to, e.kind);
  IF v_problem IS NOT NULL THEN
    SELECT title INTO v_from_title FROM certbus.automation_statuses WHERE code = e.automation_status;
    SELECT title INTO v_to_title FROM certbus.automation_statuses WHERE code = p_to;
    RAISE EXCEPTION 'cannot change automation status of endpoint % from ''%'' to ''%'': %',
        e.name, v_from_title, coalesce(v_to_title, p_to), v_problem
      USING ERRCODE = 'check_violation', CONSTRAINT = 'automation_status_transition',
            DETAIL = format('endpoint=%s kind=%s from=%s to=%s', e.id, e.kind, e.automation_status, p_to);
  END IF;
  PERFORM set_config('certbus.endpoint_status_change', e.id::text, true);
  UPDATE certbus.endpoints
     SET automation_status = p_to, automation_status_since = now()
   WHERE id = e.id;
  PERFORM set_config('certbus.endpoint_status_change', '', true);
  INSERT INTO certbus.endpoint_status_history (endpoint_id, from_status, to_status, job_id, actor_type, actor_id, message)
  VALUES (e.id, e.automation_status, p_to, p_job_id, p_actor_type, p_actor_id, coalesce(p_message, ''))
  RETURNING id INTO v_history;
  RETURN v_history;
END
$$;
COMMENT ON FUNCTION certbus.change_endpoint_status(uuid, text, text, text, text, bigint) IS
  'THE way to change an endpoint''s automation status: locks the endpoint, checks the move with '
  'automation_move_problem (raises check_violation, constraint automation_status_transition, naming both statuses and '
  'the reason; nothing changes), updates the status and its since-time, and writes a history row with the actor, job '
  'and message. Returns the history row id. Unknown endpoint: no_data_found.';

CREATE FUNCTION certbus.endpoints_guard_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF certbus.automation_move_problem('NOT_CONFIGURED', NEW.automation_status, NEW.kind) IS NOT NULL
       AND NEW.automation_status <> 'NOT_CONFIGURED' THEN
      RAISE EXCEPTION 'a new % endpoint cannot start in status %: %', NEW.kind, NEW.automation_status,
          certbus.automation_move_problem('NOT_CONFIGURED', NEW.automation_status, NEW.kind)
        USING ERRCODE = 'check_violation', CONSTRAINT = 'automation_status_transition';
    END IF;
    NEW.automation_status_since := now();
    RETURN NEW;
  END IF;
  IF (NEW.automation_status IS DISTINCT FROM OLD.automation_status
      OR NEW.automation_status_since IS DISTINCT FROM OLD.automation_status_since)
     AND coalesce(current_setting('certbus.endpoint_status_change', true), '') <> OLD.id::text THEN
    RAISE EXCEPTION 'endpoint % automation status may only be changed with certbus.change_endpoint_status(...)', OLD.name
      USING ERRCODE = 'check_violation', CONSTRAINT = 'automation_status_transition',
            HINT = 'SELECT certbus.change_endpoint_status(endpoint_id, ''NEW_STATUS'', ''USER'', current_user, ''why'');';
  END IF;
  IF NEW.kind IS DISTINCT FROM OLD.kind
     AND NOT EXISTS (SELECT 1 FROM certbus.automation_statuses s
                      WHERE s.code = NEW.automation_status AND ('COMMON' = ANY (s.types) OR NEW.kind = ANY (s.types))) THEN
    RAISE EXCEPTION 'endpoint % cannot become a % endpoint while its status is %', OLD.name, NEW.kind, NEW.automation_status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'automation_status_transition';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.endpoints_guard_status() IS
  'Trigger: a new endpoint must start in a status that applies to its kind (Not configured, or one reachable from '
  'it); an UPDATE may change automation_status only inside certbus.change_endpoint_status; a kind change must keep '
  'the current status applicable.';
CREATE TRIGGER endpoints_guard_status BEFORE INSERT OR UPDATE ON certbus.endpoints
  FOR EACH ROW EXECUTE FUNCTION certbus.endpoints_guard_status();

CREATE FUNCTION certbus.current_actor() RETURNS TABLE (actor_type text, actor_id text)
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN s ~ '^(SYSTEM|USER|AGENT):.+' THEN split_part(s, ':', 1) ELSE 'USER' END,
         CASE WHEN s ~ '^(SYSTEM|USER|AGENT):.+' THEN substr(s, strpos(s, ':') + 1) ELSE session_user::text END
    FROM (SELECT coalesce(current_setting('certbus.actor', true), '') AS s) setting
$$;
COMMENT ON FUNCTION certbus.current_actor() IS
  'The actor of the current transaction from the local setting certbus.actor (''USER:alice'', ''AGENT:<id>'', '
  '''SYSTEM:worker''), else USER and the session user. Used where a trigger must name who acted.';

CREATE FUNCTION certbus.endpoints_record_first_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO certbus.endpoint_status_history (endpoint_id, from_status, to_status, actor_type, actor_id, message)
  SELECT NEW.id, NULL, NEW.automation_status, a.actor_type, a.actor_id, 'endpoint created'
    FROM certbus.current_actor() a;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.endpoints_record_first_status() IS
  'Trigger: writes the first status history row of a new endpoint (from NULL), with the actor of certbus.current_actor().';
CREATE TRIGGER endpoints_record_first_status AFTER INSERT ON certbus.endpoints
  FOR EACH ROW EXECUTE FUNCTION certbus.endpoints_record_first_status();

CREATE FUNCTION certbus.revert_successful_endpoints(p_older_than interval DEFAULT '24 hours', p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
  v_count integer := 0;
BEGIN
  FOR v_id IN
    SELECT id FROM certbus.endpoints
     WHERE automation_status = 'AUTOMATION_SUCCESSFUL' AND automation_status_since <= now() - p_older_than
     ORDER BY automation_status_since
     LIMIT p_limit
       FOR UPDATE SKIP LOCKED
  LOOP
    PERFORM certbus.change_endpoint_status(v_id, 'CONFIGURED', 'SYSTEM', 'scheduler',
        format('''Automation successful'' for %s: back to ''Configured''', p_older_than));
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION certbus.revert_successful_endpoints(interval, integer) IS
  'Moves endpoints that have been ''Automation successful'' for p_older_than (default 24 hours) back to ''Configured'', '
  'writing a history row each (actor SYSTEM scheduler); at most p_limit per call, skipping rows locked by others. '
  'Returns how many changed. Run by the automation-status-revert periodic task.';
