-- 040_events_alerts.sql — lifecycle events (an outbox) and alerts.
--
-- Other areas call the two entry points inside their own transactions:
--   certbus.emit_event(event_type, resource, resource_id, payload)   → events row, committed with the change
--   certbus.raise_alert(type, severity, title, message, entity_type, entity_id, cause_key) → one open alert per cause
--   certbus.resolve_alerts(cause_key_prefix)                          → closes open alerts whose cause is gone
-- Channels (payload is a hint, never the data): certbus_events (an event id), certbus_alerts (an alert id).

-- ---------------------------------------------------------------------------------------------
-- Events
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.event_types (
  event_type   text PRIMARY KEY,
  resource     text NOT NULL CHECK (resource IN ('CERTIFICATE', 'DISCOVERY', 'APPROVAL', 'SCHEDULED_JOB')),
  overridable  boolean NOT NULL,
  monitoring   boolean NOT NULL,
  description  text NOT NULL,
  UNIQUE (event_type, resource)
);
COMMENT ON TABLE certbus.event_types IS
  'The supported lifecycle events (the seed''s table): their resource, whether RA-profile and group triggers '
  'override platform triggers, and whether they come from monitoring.';
COMMENT ON COLUMN certbus.event_types.event_type IS 'Event type name, as stored in events.event_type and event_triggers.event_type.';
COMMENT ON COLUMN certbus.event_types.resource IS 'Kind of object events of this type are about.';
COMMENT ON COLUMN certbus.event_types.overridable IS 'True when RA_PROFILE and GROUP triggers may override PLATFORM triggers for this type.';
COMMENT ON COLUMN certbus.event_types.monitoring IS 'True for monitoring events, emitted by a periodic scan rather than by a change.';
COMMENT ON COLUMN certbus.event_types.description IS 'When the event occurs.';
INSERT INTO certbus.event_types (event_type, resource, overridable, monitoring, description) VALUES
  ('CERTIFICATE_STATUS_CHANGED',   'CERTIFICATE',   true,  false, 'The certificate''s validation status changed (VALID, EXPIRING, EXPIRED, REVOKED).'),
  ('CERTIFICATE_ACTION_PERFORMED', 'CERTIFICATE',   true,  false, 'A certificate operation (issue, renew, rekey, revoke) completed, successfully or not.'),
  ('CERTIFICATE_EXPIRING',         'CERTIFICATE',   true,  true,  'Hourly scan: the certificate is inside its profile''s threshold and has no valid replacement.'),
  ('CERTIFICATE_DISCOVERED',       'CERTIFICATE',   false, false, 'A certificate was newly discovered.'),
  ('DISCOVERY_FINISHED',           'DISCOVERY',     false, false, 'A discovery run finished.'),
  ('APPROVAL_REQUESTED',           'APPROVAL',      false, false, 'An approval was requested.'),
  ('APPROVAL_CLOSED',              'APPROVAL',      false, false, 'An approval was closed (approved, rejected, expired).'),
  ('SCHEDULED_JOB_FINISHED',       'SCHEDULED_JOB', false, false, 'A scheduled task finished, with its outcome.');

CREATE TABLE certbus.events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type      text NOT NULL REFERENCES certbus.event_types (event_type),
  resource        text NOT NULL,
  resource_id     text NOT NULL CHECK (resource_id <> '' AND length(resource_id) <= 200),
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
  profile_id      uuid,
  group_id        uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  dispatch_state  text NOT NULL DEFAULT 'PENDING' CHECK (dispatch_state IN ('PENDING', 'DISPATCHED')),
  dispatched_at   timestamptz,
  triggers_matched integer,
  CONSTRAINT events_resource_matches_type FOREIGN KEY (event_type, resource)
    REFERENCES certbus.event_types (event_type, resource),
  CONSTRAINT events_dispatch_consistent CHECK ((dispatch_state = 'DISPATCHED') = (dispatched_at IS NOT NULL))
);
COMMENT ON TABLE certbus.events IS
  'Lifecycle events (outbox): one row per event, inserted by certbus.emit_event in the same transaction as the change '
  'that caused it. The dispatcher claims PENDING rows (FOR UPDATE SKIP LOCKED), runs the matching event triggers and '
  'marks them DISPATCHED. Each insert statement sends NOTIFY certbus_events with the highest new id.';
COMMENT ON COLUMN certbus.events.id IS 'Event id, increasing in insertion order.';
COMMENT ON COLUMN certbus.events.event_type IS
  'What happened: CERTIFICATE_STATUS_CHANGED, CERTIFICATE_ACTION_PERFORMED, CERTIFICATE_EXPIRING (monitoring), '
  'CERTIFICATE_DISCOVERED, DISCOVERY_FINISHED, APPROVAL_REQUESTED, APPROVAL_CLOSED, SCHEDULED_JOB_FINISHED.';
COMMENT ON COLUMN certbus.events.resource IS
  'Kind of object the event is about; fixed per event type: CERTIFICATE (the four CERTIFICATE_* types), DISCOVERY, '
  'APPROVAL (both APPROVAL_* types), SCHEDULED_JOB.';
COMMENT ON COLUMN certbus.events.resource_id IS
  'Id of that object: certificate id, discovery id, approval id, or the scheduled task name. For a failed issuance '
  '(CERTIFICATE_ACTION_PERFORMED with outcome FAILURE and no certificate) the request or job id.';
COMMENT ON COLUMN certbus.events.payload IS
  'Event data, a JSON object whose keys depend on event_type (see docs/events-and-alerts.md): '
  'CERTIFICATE_STATUS_CHANGED {certificate_id, common_name, serial_number, fingerprint_sha256, profile_id, group_id, '
  'not_after, old_status, new_status}; CERTIFICATE_ACTION_PERFORMED {certificate_id, action ISSUE|RENEW|REKEY|REVOKE, '
  'outcome SUCCESS|FAILURE, error, job_id, actor_type, actor_id, profile_id, group_id, predecessor_id}; '
  'CERTIFICATE_EXPIRING {certificate_id, common_name, serial_number, profile_id, group_id, not_after, days_left, '
  'threshold_days, status}; CERTIFICATE_DISCOVERED {certificate_id, discovery_id, fingerprint_sha256, common_name, '
  'endpoint, not_after}; DISCOVERY_FINISHED {discovery_id, name, outcome SUCCESS|FAILURE, certificates_found, '
  'new_certificates, error}; APPROVAL_REQUESTED / APPROVAL_CLOSED {approval_id, status, request_id, profile_id, '
  'requested_by, closed_by, comment}; SCHEDULED_JOB_FINISHED {task, outcome SUCCESS|FAILURE, summary, error, '
  'started_at, finished_at, duration_ms}.';
COMMENT ON COLUMN certbus.events.profile_id IS
  'RA profile the event concerns, for trigger overrides: payload.profile_id, else the certificate''s profile.';
COMMENT ON COLUMN certbus.events.group_id IS
  'Certificate group the event concerns, for trigger overrides: payload.group_id, else the certificate''s group.';
COMMENT ON COLUMN certbus.events.created_at IS 'When the event was emitted (its transaction''s start time).';
COMMENT ON COLUMN certbus.events.dispatch_state IS
  'PENDING until a dispatcher has run its triggers, then DISPATCHED. Failed trigger runs are retried from '
  'certbus.event_trigger_runs without holding the event back.';
COMMENT ON COLUMN certbus.events.dispatched_at IS 'When a dispatcher handled the event; NULL while PENDING.';
COMMENT ON COLUMN certbus.events.triggers_matched IS 'How many triggers applied when it was dispatched.';

CREATE INDEX events_pending ON certbus.events (id) WHERE dispatch_state = 'PENDING';
COMMENT ON INDEX certbus.events_pending IS 'Serves the dispatcher''s claim of PENDING events in id order.';
CREATE INDEX events_type_created ON certbus.events (event_type, created_at);
COMMENT ON INDEX certbus.events_type_created IS 'Events of one type by time (certbus events list --type).';
CREATE INDEX events_resource ON certbus.events (resource, resource_id);
COMMENT ON INDEX certbus.events_resource IS 'The history of one object (all events of a certificate).';

CREATE FUNCTION certbus.events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_id bigint;
BEGIN
  SELECT max(id) INTO last_id FROM new_events;
  IF last_id IS NOT NULL THEN
    PERFORM pg_notify('certbus_events', last_id::text);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.events_notify() IS
  'Statement trigger: one NOTIFY certbus_events per insert statement, payload the highest new event id '
  '(a hint; dispatchers then query PENDING events).';
CREATE TRIGGER events_notify AFTER INSERT ON certbus.events
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION certbus.events_notify();

CREATE FUNCTION certbus.emit_event(p_event_type text, p_resource text, p_resource_id text, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_resource text;
  v_profile uuid;
  v_group   uuid;
  v_id      bigint;
BEGIN
  SELECT t.resource INTO v_resource FROM certbus.event_types t WHERE t.event_type = p_event_type;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown event type %', coalesce(quote_literal(p_event_type), 'NULL')
      USING ERRCODE = '22023', HINT = 'The event types are listed in certbus.event_types.';
  END IF;
  IF p_resource IS DISTINCT FROM v_resource THEN
    RAISE EXCEPTION '% events are about resource %, not %', p_event_type, v_resource, coalesce(p_resource, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
    RAISE EXCEPTION 'event payload must be a JSON object, got %', coalesce(jsonb_typeof(p_payload), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF p_payload ? 'profile_id' AND jsonb_typeof(p_payload -> 'profile_id') = 'string' THEN
    v_profile := (p_payload ->> 'profile_id')::uuid;
  END IF;
  IF p_payload ? 'group_id' AND jsonb_typeof(p_payload -> 'group_id') = 'string' THEN
    v_group := (p_payload ->> 'group_id')::uuid;
  END IF;
  IF p_resource = 'CERTIFICATE' AND (v_profile IS NULL OR v_group IS NULL)
     AND p_resource_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT coalesce(v_profile, c.profile_id), coalesce(v_group, c.group_id) INTO v_profile, v_group
      FROM certbus.certificates c WHERE c.id = p_resource_id::uuid;
  END IF;
  INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
  VALUES (p_event_type, p_resource, p_resource_id, p_payload, v_profile, v_group)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION certbus.emit_event(text, text, text, jsonb) IS
  'Records one lifecycle event in the caller''s transaction and returns its id (rolled back with it). '
  'Checks the event type, its resource and that the payload is a JSON object; fills profile_id/group_id from the '
  'payload or, for certificates, from the certificate row, so profile and group triggers apply.';

-- ---------------------------------------------------------------------------------------------
-- Alerts
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.alerts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_type   text NOT NULL CHECK (alert_type IN ('EXPIRING_SOON', 'ERROR', 'WARN')),
  severity     text NOT NULL CHECK (severity IN ('ERROR', 'WARN')),
  title        text NOT NULL CHECK (title <> '' AND length(title) <= 300),
  message      text NOT NULL,
  entity_type  text NOT NULL CHECK (entity_type IN ('CERTIFICATE', 'AGENT', 'JOB', 'CA', 'ENDPOINT', 'DISCOVERY',
                                                   'APPROVAL', 'TASK')),
  entity_id    text NOT NULL CHECK (entity_id <> ''),
  cause_key    text COLLATE "C" NOT NULL CHECK (cause_key <> '' AND length(cause_key) <= 300),
  created_at   timestamptz NOT NULL DEFAULT now(),
  read_at      timestamptz,
  read_by      text,
  resolved_at  timestamptz,
  resolution   text,
  CONSTRAINT alerts_severity_matches_type CHECK (alert_type = 'EXPIRING_SOON' OR alert_type = severity),
  CONSTRAINT alerts_resolution_consistent CHECK (resolved_at IS NOT NULL OR resolution IS NULL)
);
COMMENT ON TABLE certbus.alerts IS
  'Alerts for operators (the seed''s Alerts page): certificates nearing expiry, failed jobs and renewals, failed '
  'deployment validations, agents offline. At most one open (unresolved) alert per cause_key; alerts resolve '
  'themselves when the cause is gone and stay as history. Changes send NOTIFY certbus_alerts with the alert id.';
COMMENT ON COLUMN certbus.alerts.id IS 'Alert id (certbus alerts read ID).';
COMMENT ON COLUMN certbus.alerts.alert_type IS 'EXPIRING_SOON (certificate approaching expiry), ERROR (critical failure), WARN (operational warning).';
COMMENT ON COLUMN certbus.alerts.severity IS 'ERROR (red) or WARN (orange). ERROR and WARN types carry their own severity; EXPIRING_SOON is WARN, ERROR on the last ladder step.';
COMMENT ON COLUMN certbus.alerts.title IS 'One-line summary.';
COMMENT ON COLUMN certbus.alerts.message IS 'What happened and what to do.';
COMMENT ON COLUMN certbus.alerts.entity_type IS
  'Kind of object at fault: CERTIFICATE, AGENT, JOB, CA, ENDPOINT; DISCOVERY, APPROVAL or TASK (a scheduled task) for '
  'alerts raised by event triggers on those events.';
COMMENT ON COLUMN certbus.alerts.entity_id IS 'Id of that object.';
COMMENT ON COLUMN certbus.alerts.cause_key IS
  'Identity of the cause, e.g. expiry:<certificate id>:7d, job:<job id>, renewal-failed:<certificate id>, '
  'agent-offline:<agent id>, deployment:<endpoint id>. Unique among open alerts, so each cause raises exactly one alert.';
COMMENT ON COLUMN certbus.alerts.created_at IS 'When the alert was raised.';
COMMENT ON COLUMN certbus.alerts.read_at IS 'When an operator marked it read; NULL = unread.';
COMMENT ON COLUMN certbus.alerts.read_by IS 'Who marked it read.';
COMMENT ON COLUMN certbus.alerts.resolved_at IS 'When the cause went away (NULL = open). Resolved alerts stay as history.';
COMMENT ON COLUMN certbus.alerts.resolution IS 'Why it was resolved, e.g. "valid successor issued", "job succeeded on retry".';

CREATE UNIQUE INDEX alerts_open_cause ON certbus.alerts (cause_key) WHERE resolved_at IS NULL;
COMMENT ON INDEX certbus.alerts_open_cause IS
  'Exactly one open alert per cause: raise_alert inserts ON CONFLICT DO NOTHING against this index, so repeated '
  'scans and concurrent generators never duplicate an alert. Also serves resolve_alerts prefix ranges.';
CREATE INDEX alerts_unread ON certbus.alerts (severity, created_at) WHERE read_at IS NULL;
COMMENT ON INDEX certbus.alerts_unread IS 'Unread alerts by severity (the daily "review ERROR alerts" routine).';
CREATE INDEX alerts_created ON certbus.alerts (created_at);
COMMENT ON INDEX certbus.alerts_created IS 'Alerts by time (listing, alerts by type and day).';
CREATE INDEX alerts_entity ON certbus.alerts (entity_type, entity_id);
COMMENT ON INDEX certbus.alerts_entity IS 'The alerts of one object.';

CREATE FUNCTION certbus.alerts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('certbus_alerts', NEW.id::text);
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.alerts_notify() IS
  'Row trigger: NOTIFY certbus_alerts with the alert id when an alert is raised, read or resolved (same ids in one '
  'transaction are delivered once), so live views refresh.';
CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE ON certbus.alerts
  FOR EACH ROW EXECUTE FUNCTION certbus.alerts_notify();

CREATE FUNCTION certbus.raise_alert(p_type text, p_severity text, p_title text, p_message text,
                                    p_entity_type text, p_entity_id text, p_cause_key text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_cause_key IS NULL OR p_cause_key = '' THEN
    RAISE EXCEPTION 'raise_alert needs a cause_key (e.g. job:<id>)' USING ERRCODE = '22023';
  END IF;
  LOOP
    INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key)
    VALUES (p_type, p_severity, p_title, coalesce(p_message, ''), p_entity_type, p_entity_id, p_cause_key)
    ON CONFLICT (cause_key) WHERE resolved_at IS NULL DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
    SELECT id INTO v_id FROM certbus.alerts WHERE cause_key = p_cause_key AND resolved_at IS NULL;
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
    -- The conflicting alert was resolved between the two statements: try again.
  END LOOP;
END
$$;
COMMENT ON FUNCTION certbus.raise_alert(text, text, text, text, text, text, text) IS
  'Raises an alert for a cause unless one is already open for that cause_key; returns the id of the new or the '
  'existing open alert. Idempotent and safe under concurrency (the partial unique index alerts_open_cause decides).';

CREATE FUNCTION certbus.resolve_alerts(p_cause_key_prefix text, p_resolution text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  IF p_cause_key_prefix IS NULL OR p_cause_key_prefix = '' THEN
    RAISE EXCEPTION 'resolve_alerts needs a non-empty cause_key prefix' USING ERRCODE = '22023';
  END IF;
  UPDATE certbus.alerts
     SET resolved_at = now(), resolution = coalesce(p_resolution, 'cause gone')
   WHERE resolved_at IS NULL
     AND cause_key >= p_cause_key_prefix COLLATE "C"
     AND cause_key < (p_cause_key_prefix || chr(1114111)) COLLATE "C"
     AND starts_with(cause_key, p_cause_key_prefix);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION certbus.resolve_alerts(text, text) IS
  'Resolves every open alert whose cause_key starts with the prefix (e.g. ''renewal-failed:<cert id>'' or '
  '''expiry:<cert id>:''), recording the optional resolution text; returns how many. Resolved alerts stay as history.';

CREATE FUNCTION certbus.resolve_alert(p_cause_key text, p_resolution text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  UPDATE certbus.alerts
     SET resolved_at = now(), resolution = coalesce(p_resolution, 'cause gone')
   WHERE resolved_at IS NULL AND cause_key = p_cause_key;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION certbus.resolve_alert(text, text) IS
  'Resolves the open alert with exactly this cause_key (0 or 1), recording the optional resolution text.';
