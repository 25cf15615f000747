-- 096_incidents.sql — incident mode: replace every certificate a compromise exposes before a deadline.
--
-- `certbus incident renew --issued-by CA | --sharing-key-of ID | --selector ... --deadline 48h
-- [--revoke-old --reason keyCompromise]` opens an incident (or finds the one with the same selector
-- and options: re-running is idempotent) with one item per certificate. Each item is renewed with a
-- new key (RENEW_CERT, unique key renew:<id>, the same key as the renewal scheduler's, so the two
-- never renew one certificate twice) or, on agent endpoints, reinstalled by the agent with a key it
-- generates; the successor is deployed and validated on every endpoint that expected the old
-- certificate; then (--revoke-old) the old certificate is revoked. The periodic task
-- incident-advance (certbus.advance_incidents, 097) moves items on from the committed state of
-- jobs, certificates and validations, so a crash anywhere loses nothing and repeats nothing.

INSERT INTO certbus.audit_actions (action, description) VALUES
  ('INCIDENT_OPENED',                'An incident was opened, or re-run: its selector, deadline and options, the certificates it added and retried.'),
  ('INCIDENT_RENEWAL_QUEUED',        'A rekeying renewal of a certificate was queued for an incident.'),
  ('INCIDENT_CERTIFICATE_RENEWED',   'The successor of a certificate of an incident was issued.'),
  ('INCIDENT_DEPLOYMENT_REQUESTED',  'An incident asked for a certificate''s replacement to be installed or validated on an endpoint.'),
  ('INCIDENT_DEPLOYMENT_VALIDATED',  'An endpoint of an incident was validated serving the replacement.'),
  ('INCIDENT_REVOCATION_QUEUED',     'An incident queued the revocation of a replaced certificate.'),
  ('INCIDENT_CERTIFICATE_DONE',      'A certificate of an incident is replaced everywhere (and revoked with --revoke-old).'),
  ('INCIDENT_CERTIFICATE_FAILED',    'A step of an incident failed for a certificate (renewal, deployment or revocation).'),
  ('INCIDENT_FINISHED',              'Every certificate of an incident is done or failed.')
ON CONFLICT (action) DO NOTHING;

-- Events and alerts about incidents.
ALTER TABLE certbus.event_types DROP CONSTRAINT event_types_resource_check;
ALTER TABLE certbus.event_types ADD CONSTRAINT event_types_resource_check
  CHECK (resource IN ('CERTIFICATE', 'DISCOVERY', 'APPROVAL', 'SCHEDULED_JOB', 'INCIDENT'));
INSERT INTO certbus.event_types (event_type, resource, overridable, monitoring, description) VALUES
  ('INCIDENT_OPENED',   'INCIDENT', false, false, 'An incident was opened or re-run (certbus incident renew).'),
  ('INCIDENT_FINISHED', 'INCIDENT', false, false, 'Every certificate of an incident is done or failed.');
COMMENT ON COLUMN certbus.event_types.resource IS
  'Kind of object events of this type are about: CERTIFICATE, DISCOVERY, APPROVAL, SCHEDULED_JOB, INCIDENT.';

ALTER TABLE certbus.alerts DROP CONSTRAINT alerts_entity_type_check;
ALTER TABLE certbus.alerts ADD CONSTRAINT alerts_entity_type_check
  CHECK (entity_type IN ('CERTIFICATE', 'AGENT', 'JOB', 'CA', 'ENDPOINT', 'DISCOVERY', 'APPROVAL', 'TASK', 'INCIDENT'));
COMMENT ON COLUMN certbus.alerts.entity_type IS
  'Kind of object at fault: CERTIFICATE, AGENT, JOB, CA, ENDPOINT, INCIDENT (an incident that finished with failures); '
  'DISCOVERY, APPROVAL or TASK (a scheduled task) for alerts raised by event triggers on those events.';

-- ---------------------------------------------------------------------------------------------
-- Incidents
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.incidents (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  selector           jsonb NOT NULL CHECK (jsonb_typeof(selector) = 'object' AND selector <> '{}'::jsonb),
  selector_text      text NOT NULL CHECK (selector_text <> ''),
  deadline           timestamptz NOT NULL,
  revoke_old         boolean NOT NULL,
  revocation_reason  text,
  state              text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'COMPLETED', 'FAILED')),
  runs               integer NOT NULL DEFAULT 1 CHECK (runs >= 1),
  opened_by_type     text NOT NULL CHECK (opened_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  opened_by_id       text NOT NULL CHECK (opened_by_id <> ''),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  CONSTRAINT incidents_same_selector_and_options UNIQUE NULLS NOT DISTINCT (selector, revoke_old, revocation_reason),
  CHECK (revoke_old = (revocation_reason IS NOT NULL)),
  CHECK ((state = 'ACTIVE') = (finished_at IS NULL))
);
COMMENT ON TABLE certbus.incidents IS
  'Incidents (certbus incident renew): every certificate matching a blast-radius selector is replaced with a new key '
  'before a deadline, optionally revoking the old ones. One row per selector and options: running the same command '
  'again returns the same incident (adding certificates that match since, retrying failed ones). Progress per '
  'certificate: certbus.incident_items; totals: certbus.incident_progress.';
COMMENT ON COLUMN certbus.incidents.id IS 'Incident number (certbus incident status ID).';
COMMENT ON COLUMN certbus.incidents.selector IS
  'The selector, resolved to stable ids: {"public_key_sha256": ..., "issued_by": <CA id>, "san_matches": <pattern>, '
  '"profile": <profile id>, "endpoint": <endpoint id>}. With the options, the identity of the incident.';
COMMENT ON COLUMN certbus.incidents.selector_text IS 'The selector as the operator gave it, with names: issued-by=acme-corp-root.';
COMMENT ON COLUMN certbus.incidents.deadline IS 'When everything should be replaced (the latest run''s deadline); renewals are planned to start in its first half.';
COMMENT ON COLUMN certbus.incidents.revoke_old IS 'True: each old certificate is revoked once its successor is issued and, where deployed, installed and validated.';
COMMENT ON COLUMN certbus.incidents.revocation_reason IS 'RFC 5280 reason of those revocations (keyCompromise, ...); set exactly when revoke_old.';
COMMENT ON COLUMN certbus.incidents.state IS
  'ACTIVE while some certificate is being renewed, deployed or revoked; COMPLETED when every one is done; FAILED when '
  'the rest are done but some failed (an ERROR alert incident:<id> is open; re-run the command to retry them).';
COMMENT ON COLUMN certbus.incidents.runs IS 'How many times certbus incident renew was run for it.';
COMMENT ON COLUMN certbus.incidents.opened_by_type IS 'Who opened it: USER, SYSTEM or AGENT.';
COMMENT ON COLUMN certbus.incidents.opened_by_id IS 'The user name (or service) that opened it.';
COMMENT ON COLUMN certbus.incidents.created_at IS 'When it was opened.';
COMMENT ON COLUMN certbus.incidents.updated_at IS 'When the row last changed.';
COMMENT ON COLUMN certbus.incidents.finished_at IS 'When it became COMPLETED or FAILED; NULL while ACTIVE.';
CREATE TRIGGER incidents_touch BEFORE UPDATE ON certbus.incidents
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE TABLE certbus.incident_items (
  incident_id              bigint NOT NULL REFERENCES certbus.incidents (id) ON DELETE CASCADE,
  certificate_id           uuid NOT NULL REFERENCES certbus.certificates (id),
  position                 integer NOT NULL CHECK (position >= 0),
  priority                 integer NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  run_at                   timestamptz NOT NULL,
  plan                     text NOT NULL CHECK (plan IN ('RENEW', 'AGENT_INSTALL', 'AWAIT_RENEWAL', 'REPLACED', 'NOT_RENEWABLE')),
  state                    text NOT NULL CHECK (state IN ('RENEWING', 'DEPLOYING', 'REVOKING', 'DONE', 'FAILED')),
  failed_step              text CHECK (failed_step IN ('RENEWAL', 'DEPLOYMENT', 'REVOCATION')),
  renewing_certificate_id  uuid REFERENCES certbus.certificates (id),
  awaits_certificate_id    uuid REFERENCES certbus.certificates (id),
  renewal_job_id           bigint,
  successor_id             uuid REFERENCES certbus.certificates (id),
  revoke_job_id            bigint,
  error                    text,
  started_at               timestamptz NOT NULL DEFAULT now(),
  state_since              timestamptz NOT NULL DEFAULT now(),
  finished_at              timestamptz,
  PRIMARY KEY (incident_id, certificate_id),
  CHECK ((state = 'FAILED') = (failed_step IS NOT NULL)),
  CHECK ((state IN ('DONE', 'FAILED')) = (finished_at IS NOT NULL)),
  CHECK ((plan = 'RENEW') = (renewing_certificate_id IS NOT NULL)),
  CHECK ((plan = 'AWAIT_RENEWAL') = (awaits_certificate_id IS NOT NULL))
);
COMMENT ON TABLE certbus.incident_items IS
  'One row per certificate of an incident: its plan, where it stands, the jobs working on it and its successor. '
  'certbus.advance_incidents moves rows on; certbus incident status ID shows them.';
COMMENT ON COLUMN certbus.incident_items.incident_id IS 'The incident.';
COMMENT ON COLUMN certbus.incident_items.certificate_id IS 'The exposed certificate to replace.';
COMMENT ON COLUMN certbus.incident_items.position IS 'Its place in the incident''s order (0 first: most endpoints, then earliest expiry).';
COMMENT ON COLUMN certbus.incident_items.priority IS 'Job priority of its renewal (lower runs first; routine work uses 100).';
COMMENT ON COLUMN certbus.incident_items.run_at IS 'Earliest start of its renewal (its wave).';
COMMENT ON COLUMN certbus.incident_items.plan IS
  'RENEW (a rekeying RENEW_CERT job; agent endpoints among its endpoints are also reinstalled by their agent), '
  'AGENT_INSTALL (deployed only on agent endpoints: each agent installs a certificate for a key it generates), '
  'AWAIT_RENEWAL (already renewed earlier by a certificate of the same incident: takes that one''s replacement), '
  'REPLACED (already renewed earlier by a certificate outside the selection: only deployment and revocation remain), '
  'NOT_RENEWABLE (no RA profile, or its replacement is expired or revoked: fails at once, see error).';
COMMENT ON COLUMN certbus.incident_items.state IS
  'RENEWING (waiting for a successor with a new key), DEPLOYING (successor being installed or validated on the '
  'endpoints that expected the old certificate), REVOKING (old certificate being revoked), DONE, FAILED (see '
  'failed_step and error).';
COMMENT ON COLUMN certbus.incident_items.failed_step IS
  'For FAILED: RENEWAL, DEPLOYMENT (an install or validation failed; a later successful validation resumes it) or '
  'REVOCATION. Re-running the incident retries failed items.';
COMMENT ON COLUMN certbus.incident_items.renewing_certificate_id IS
  'For plan RENEW: the certificate whose rekeyed successor is awaited (itself; its successor when a renewal that was '
  'already running reused the old key and is rekeyed in turn).';
COMMENT ON COLUMN certbus.incident_items.awaits_certificate_id IS 'For plan AWAIT_RENEWAL: the item (same incident) whose replacement this certificate takes.';
COMMENT ON COLUMN certbus.incident_items.renewal_job_id IS 'The RENEW_CERT job (certbus.jobs.id; no foreign key, jobs are purged).';
COMMENT ON COLUMN certbus.incident_items.successor_id IS 'The replacement: the rekeyed successor, or the first certificate an agent installed.';
COMMENT ON COLUMN certbus.incident_items.revoke_job_id IS 'With --revoke-old: the REVOKE_CERT job.';
COMMENT ON COLUMN certbus.incident_items.error IS 'Why it failed (or, for a RELEASED deployment, a note).';
COMMENT ON COLUMN certbus.incident_items.started_at IS 'When the item was added, or last retried by a re-run.';
COMMENT ON COLUMN certbus.incident_items.state_since IS 'When it entered its current state.';
COMMENT ON COLUMN certbus.incident_items.finished_at IS 'When it became DONE or FAILED.';
CREATE INDEX incident_items_open ON certbus.incident_items (state, incident_id, position)
  WHERE state IN ('RENEWING', 'DEPLOYING', 'REVOKING') OR failed_step = 'DEPLOYMENT';
COMMENT ON INDEX certbus.incident_items_open IS 'Items certbus.advance_incidents looks at (and failed deployments, which may recover).';
CREATE INDEX incident_items_certificate ON certbus.incident_items (certificate_id);
COMMENT ON INDEX certbus.incident_items_certificate IS 'The incidents a certificate belongs to.';

CREATE TABLE certbus.incident_deployments (
  incident_id         bigint NOT NULL,
  certificate_id      uuid NOT NULL,
  endpoint_id         uuid NOT NULL REFERENCES certbus.endpoints (id) ON DELETE CASCADE,
  method              text NOT NULL CHECK (method IN ('AGENT_INSTALL', 'VALIDATE')),
  state               text NOT NULL CHECK (state IN ('WAITING', 'INSTALLING', 'VALIDATING', 'VALIDATED', 'RELEASED', 'FAILED')),
  job_id              bigint,
  new_certificate_id  uuid REFERENCES certbus.certificates (id),
  error               text,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (incident_id, certificate_id, endpoint_id),
  FOREIGN KEY (incident_id, certificate_id) REFERENCES certbus.incident_items (incident_id, certificate_id) ON DELETE CASCADE
);
COMMENT ON TABLE certbus.incident_deployments IS
  'For each incident item, each endpoint that expected the old certificate when the item was added: how the '
  'replacement gets there and whether it was validated. The old certificate is revoked (--revoke-old) only when every '
  'row is VALIDATED or RELEASED.';
COMMENT ON COLUMN certbus.incident_deployments.incident_id IS 'The incident.';
COMMENT ON COLUMN certbus.incident_deployments.certificate_id IS 'The old certificate.';
COMMENT ON COLUMN certbus.incident_deployments.endpoint_id IS 'The endpoint it was deployed on.';
COMMENT ON COLUMN certbus.incident_deployments.method IS
  'AGENT_INSTALL (an INSTALL_CERT job: the endpoint''s agent generates a key, gets a certificate and installs it) or '
  'VALIDATE (sensor and admin-web-request endpoints: the successor becomes the expected certificate and a '
  'VALIDATE_DEPLOYMENT job checks it is served; installing it there is done outside certbus).';
COMMENT ON COLUMN certbus.incident_deployments.state IS
  'WAITING (for the successor), INSTALLING (agent install job running), VALIDATING (validation job), VALIDATED, '
  'RELEASED (the endpoint was pointed at another certificate by someone else: not touched), FAILED (see error; a '
  'later successful validation, e.g. certbus endpoint validate after installing by hand, resumes it).';
COMMENT ON COLUMN certbus.incident_deployments.job_id IS 'The INSTALL_CERT or VALIDATE_DEPLOYMENT job (no foreign key).';
COMMENT ON COLUMN certbus.incident_deployments.new_certificate_id IS 'The certificate deployed in place of the old one.';
COMMENT ON COLUMN certbus.incident_deployments.error IS 'Why the install or validation failed, or why the row was released.';
COMMENT ON COLUMN certbus.incident_deployments.updated_at IS 'When the row last changed.';
CREATE INDEX incident_deployments_open ON certbus.incident_deployments (state)
  WHERE state IN ('WAITING', 'INSTALLING', 'VALIDATING', 'FAILED');
COMMENT ON INDEX certbus.incident_deployments_open IS 'Deployments certbus.advance_incidents looks at.';

CREATE VIEW certbus.incident_progress AS
SELECT n.id AS incident_id, n.state, n.selector_text, n.deadline,
       count(i.certificate_id) AS certificates,
       count(*) FILTER (WHERE i.state = 'DONE') AS done,
       count(*) FILTER (WHERE i.state IN ('RENEWING', 'DEPLOYING', 'REVOKING')) AS pending,
       count(*) FILTER (WHERE i.state = 'FAILED') AS failed,
       count(*) FILTER (WHERE i.state = 'RENEWING') AS renewing,
       count(*) FILTER (WHERE i.state = 'DEPLOYING') AS deploying,
       count(*) FILTER (WHERE i.state = 'REVOKING') AS revoking,
       n.created_at, n.finished_at
  FROM certbus.incidents n LEFT JOIN certbus.incident_items i ON i.incident_id = n.id
 GROUP BY n.id;
COMMENT ON VIEW certbus.incident_progress IS
  'Totals per incident: certificates done, pending (renewing, deploying, revoking) and failed. '
  'Example: SELECT * FROM certbus.incident_progress WHERE state = ''ACTIVE''.';
COMMENT ON COLUMN certbus.incident_progress.incident_id IS 'The incident.';
COMMENT ON COLUMN certbus.incident_progress.state IS 'ACTIVE, COMPLETED or FAILED.';
COMMENT ON COLUMN certbus.incident_progress.selector_text IS 'What it selects.';
COMMENT ON COLUMN certbus.incident_progress.deadline IS 'Its deadline.';
COMMENT ON COLUMN certbus.incident_progress.certificates IS 'Certificates in it.';
COMMENT ON COLUMN certbus.incident_progress.done IS 'Replaced everywhere (and revoked, with --revoke-old).';
COMMENT ON COLUMN certbus.incident_progress.pending IS 'Still renewing, deploying or revoking.';
COMMENT ON COLUMN certbus.incident_progress.failed IS 'Failed (re-run the incident to retry).';
COMMENT ON COLUMN certbus.incident_progress.renewing IS 'Of the pending: waiting for their successor.';
COMMENT ON COLUMN certbus.incident_progress.deploying IS 'Of the pending: successor being installed or validated.';
COMMENT ON COLUMN certbus.incident_progress.revoking IS 'Of the pending: old certificate being revoked.';
COMMENT ON COLUMN certbus.incident_progress.created_at IS 'When the incident was opened.';
COMMENT ON COLUMN certbus.incident_progress.finished_at IS 'When it finished, if it has.';
