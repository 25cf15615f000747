-- 041_triggers_notifications.sql — notification profiles, event triggers, trigger runs, deliveries.
--
-- The dispatcher (Swift, CertbusServices/Events) claims PENDING events, picks the triggers that apply
-- (group > RA profile > platform, per event type), evaluates each trigger's condition on the payload and
-- runs its actions inside a savepoint, recording one event_trigger_runs row per applied trigger.

CREATE TABLE certbus.notification_profiles (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  kind             text NOT NULL CHECK (kind IN ('WEBHOOK', 'PG_CHANNEL')),
  url              text CHECK (url ~ '^https?://[^[:space:]]+$' AND length(url) <= 2000),
  channel          text CHECK (channel ~ '^[a-z_][a-z0-9_]{0,62}$' AND channel NOT LIKE 'certbus\_%'),
  sealed_secret    bytea,
  timeout_seconds  double precision NOT NULL DEFAULT 10 CHECK (timeout_seconds > 0 AND timeout_seconds <= 120),
  max_attempts     integer NOT NULL DEFAULT 8 CHECK (max_attempts BETWEEN 1 AND 25),
  enabled          boolean NOT NULL DEFAULT true,
  description      text NOT NULL DEFAULT '',
  created_by       text NOT NULL DEFAULT 'sql',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notification_profiles_webhook_url CHECK ((kind = 'WEBHOOK') = (url IS NOT NULL)),
  CONSTRAINT notification_profiles_channel CHECK ((kind = 'PG_CHANNEL') = (channel IS NOT NULL)),
  CONSTRAINT notification_profiles_secret_only_webhook CHECK (kind = 'WEBHOOK' OR sealed_secret IS NULL)
);
COMMENT ON TABLE certbus.notification_profiles IS
  'Where NOTIFY trigger actions deliver events: WEBHOOK (HTTP POST of a JSON body signed with HMAC-SHA256, '
  'retried with backoff as DELIVER_NOTIFICATION jobs) or PG_CHANNEL (NOTIFY on a named channel, for in-database consumers).';
COMMENT ON COLUMN certbus.notification_profiles.id IS 'Profile id, referenced by NOTIFY actions of event triggers.';
COMMENT ON COLUMN certbus.notification_profiles.name IS 'Unique name used on the command line.';
COMMENT ON COLUMN certbus.notification_profiles.kind IS 'WEBHOOK or PG_CHANNEL.';
COMMENT ON COLUMN certbus.notification_profiles.url IS 'WEBHOOK: the http(s) URL events are POSTed to.';
COMMENT ON COLUMN certbus.notification_profiles.channel IS
  'PG_CHANNEL: the channel NOTIFY is sent on (lower-case identifier; certbus_* names are reserved for certbus itself).';
COMMENT ON COLUMN certbus.notification_profiles.sealed_secret IS
  'WEBHOOK: the HMAC signing secret sealed with AES-256-GCM under the key-encryption key (CERTBUS_KEK_FILE), bound '
  'to the profile id. Never stored or shown in clear. NULL: deliveries are not signed.';
COMMENT ON COLUMN certbus.notification_profiles.timeout_seconds IS 'WEBHOOK: seconds allowed for connecting, sending and receiving the answer.';
COMMENT ON COLUMN certbus.notification_profiles.max_attempts IS 'WEBHOOK: delivery attempts before the DELIVER_NOTIFICATION job gives up (FAILED).';
COMMENT ON COLUMN certbus.notification_profiles.enabled IS 'Disabled profiles deliver nothing; NOTIFY actions that use them are skipped.';
COMMENT ON COLUMN certbus.notification_profiles.description IS 'Free text for people.';
COMMENT ON COLUMN certbus.notification_profiles.created_by IS 'Who created the profile (user name, or sql).';
COMMENT ON COLUMN certbus.notification_profiles.created_at IS 'When the profile was created.';
COMMENT ON COLUMN certbus.notification_profiles.updated_at IS 'When the row last changed.';
CREATE TRIGGER notification_profiles_touch BEFORE UPDATE ON certbus.notification_profiles
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE TABLE certbus.event_triggers (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  event_type   text NOT NULL REFERENCES certbus.event_types (event_type),
  scope        text NOT NULL DEFAULT 'PLATFORM' CHECK (scope IN ('PLATFORM', 'RA_PROFILE', 'GROUP')),
  profile_id   uuid REFERENCES certbus.ra_profiles (id) ON DELETE CASCADE,
  group_id     uuid REFERENCES certbus.certificate_groups (id) ON DELETE CASCADE,
  condition    text NOT NULL DEFAULT '' CHECK (length(condition) <= 2000),
  actions      jsonb NOT NULL CHECK (jsonb_typeof(actions) = 'array' AND jsonb_array_length(actions) BETWEEN 1 AND 20),
  position     integer NOT NULL DEFAULT 100,
  enabled      boolean NOT NULL DEFAULT true,
  description  text NOT NULL DEFAULT '',
  created_by   text NOT NULL DEFAULT 'sql',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_triggers_profile_scope CHECK ((scope = 'RA_PROFILE') = (profile_id IS NOT NULL)),
  CONSTRAINT event_triggers_group_scope CHECK ((scope = 'GROUP') = (group_id IS NOT NULL))
);
COMMENT ON TABLE certbus.event_triggers IS
  'Event triggers: for one event type, an optional condition on the payload and an ordered list of actions '
  '(NOTIFY, ENQUEUE_JOB, RAISE_ALERT). For an event, the most specific scope with an enabled trigger of its type '
  'wins: the certificate''s GROUP, else its RA_PROFILE, else PLATFORM (only overridable types, see event_types).';
COMMENT ON COLUMN certbus.event_triggers.id IS 'Trigger id.';
COMMENT ON COLUMN certbus.event_triggers.name IS 'Unique name used on the command line.';
COMMENT ON COLUMN certbus.event_triggers.event_type IS 'The event type it reacts to.';
COMMENT ON COLUMN certbus.event_triggers.scope IS 'PLATFORM (defaults), RA_PROFILE (overrides for one profile) or GROUP (overrides for one group).';
COMMENT ON COLUMN certbus.event_triggers.profile_id IS 'RA_PROFILE scope: the profile.';
COMMENT ON COLUMN certbus.event_triggers.group_id IS 'GROUP scope: the certificate group.';
COMMENT ON COLUMN certbus.event_triggers.condition IS
  'Condition on the event payload in the matching language (e.g. days_left <= 7 and new_status in (EXPIRED, REVOKED)); '
  'empty: always. Checked when created through certbus; a condition that does not parse fails its runs.';
COMMENT ON COLUMN certbus.event_triggers.actions IS
  'Ordered JSON array of actions: {"type":"NOTIFY","profile_id":...}, {"type":"ENQUEUE_JOB","kind":"RENEW_CERT",'
  '"priority":50,"payload":{...}}, {"type":"RAISE_ALERT","alert_type":"WARN","severity":"WARN","title":"...","message":"...","per":"resource|event"}. '
  'All actions of one run commit together or not at all.';
COMMENT ON COLUMN certbus.event_triggers.position IS 'Order among the triggers that apply to one event (lower first, then by name).';
COMMENT ON COLUMN certbus.event_triggers.enabled IS 'Disabled triggers neither run nor override.';
COMMENT ON COLUMN certbus.event_triggers.description IS 'Free text for people.';
COMMENT ON COLUMN certbus.event_triggers.created_by IS 'Who created the trigger (user name, or sql).';
COMMENT ON COLUMN certbus.event_triggers.created_at IS 'When the trigger was created.';
COMMENT ON COLUMN certbus.event_triggers.updated_at IS 'When the row last changed.';
CREATE TRIGGER event_triggers_touch BEFORE UPDATE ON certbus.event_triggers
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();
CREATE INDEX event_triggers_enabled ON certbus.event_triggers (event_type) WHERE enabled;
COMMENT ON INDEX certbus.event_triggers_enabled IS 'Enabled triggers of an event type (the dispatcher''s lookup).';

CREATE FUNCTION certbus.event_triggers_check_scope() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.scope <> 'PLATFORM' AND NOT (SELECT overridable FROM certbus.event_types WHERE event_type = NEW.event_type) THEN
    RAISE EXCEPTION '% triggers can only be defined at PLATFORM scope (the event is not overridden by RA profile or group)',
      NEW.event_type USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.event_triggers_check_scope() IS
  'Trigger: RA_PROFILE and GROUP triggers are only allowed for event types that event_types marks overridable.';
CREATE TRIGGER event_triggers_check_scope BEFORE INSERT OR UPDATE OF scope, event_type ON certbus.event_triggers
  FOR EACH ROW EXECUTE FUNCTION certbus.event_triggers_check_scope();

CREATE TABLE certbus.event_trigger_runs (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id         bigint NOT NULL REFERENCES certbus.events (id) ON DELETE CASCADE,
  trigger_id       uuid NOT NULL REFERENCES certbus.event_triggers (id) ON DELETE CASCADE,
  status           text NOT NULL CHECK (status IN ('SUCCEEDED', 'RETRYING', 'FAILED')),
  attempts         integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  next_attempt_at  timestamptz,
  result           jsonb NOT NULL DEFAULT '[]'::jsonb,
  error            text,
  dispatcher       text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_trigger_runs_once UNIQUE (event_id, trigger_id),
  CONSTRAINT event_trigger_runs_retry_time CHECK ((status = 'RETRYING') = (next_attempt_at IS NOT NULL))
);
COMMENT ON TABLE certbus.event_trigger_runs IS
  'One row per event and applied trigger whose condition matched: what its actions did, or why they failed. '
  'A failed run is RETRYING with backoff (its event is already DISPATCHED, so other events never wait), then FAILED.';
COMMENT ON COLUMN certbus.event_trigger_runs.id IS 'Run id.';
COMMENT ON COLUMN certbus.event_trigger_runs.event_id IS 'The event.';
COMMENT ON COLUMN certbus.event_trigger_runs.trigger_id IS 'The trigger that ran.';
COMMENT ON COLUMN certbus.event_trigger_runs.status IS 'SUCCEEDED, RETRYING (failed, tried again at next_attempt_at) or FAILED (gave up).';
COMMENT ON COLUMN certbus.event_trigger_runs.attempts IS 'Attempts made so far.';
COMMENT ON COLUMN certbus.event_trigger_runs.next_attempt_at IS 'RETRYING: when the dispatcher tries again.';
COMMENT ON COLUMN certbus.event_trigger_runs.result IS
  'What each action did, in order, e.g. [{"action":"ENQUEUE_JOB","job_id":17},{"action":"RAISE_ALERT","alert_id":3}].';
COMMENT ON COLUMN certbus.event_trigger_runs.error IS 'The last attempt''s error; NULL after success.';
COMMENT ON COLUMN certbus.event_trigger_runs.dispatcher IS 'Which dispatcher made the last attempt (host:pid).';
COMMENT ON COLUMN certbus.event_trigger_runs.created_at IS 'When the first attempt was made.';
COMMENT ON COLUMN certbus.event_trigger_runs.updated_at IS 'When the last attempt was made.';
CREATE TRIGGER event_trigger_runs_touch BEFORE UPDATE ON certbus.event_trigger_runs
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();
CREATE INDEX event_trigger_runs_due ON certbus.event_trigger_runs (next_attempt_at) WHERE status = 'RETRYING';
COMMENT ON INDEX certbus.event_trigger_runs_due IS 'Serves the dispatcher''s claim of runs due for another attempt.';
CREATE INDEX event_trigger_runs_trigger ON certbus.event_trigger_runs (trigger_id, created_at);
COMMENT ON INDEX certbus.event_trigger_runs_trigger IS 'The runs of one trigger.';

CREATE TABLE certbus.notification_deliveries (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  profile_id   uuid NOT NULL REFERENCES certbus.notification_profiles (id) ON DELETE CASCADE,
  event_id     bigint REFERENCES certbus.events (id) ON DELETE SET NULL,
  trigger_id   uuid REFERENCES certbus.event_triggers (id) ON DELETE SET NULL,
  job_id       bigint,
  attempt      integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  status       text NOT NULL CHECK (status IN ('DELIVERED', 'FAILED')),
  will_retry   boolean NOT NULL DEFAULT false,
  http_status  integer,
  error        text,
  duration_ms  integer,
  created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.notification_deliveries IS
  'Delivery log: one row per attempt to deliver an event through a notification profile (each webhook POST, each NOTIFY).';
COMMENT ON COLUMN certbus.notification_deliveries.id IS 'Delivery attempt id.';
COMMENT ON COLUMN certbus.notification_deliveries.profile_id IS 'The notification profile used.';
COMMENT ON COLUMN certbus.notification_deliveries.event_id IS 'The event delivered.';
COMMENT ON COLUMN certbus.notification_deliveries.trigger_id IS 'The trigger whose NOTIFY action asked for it.';
COMMENT ON COLUMN certbus.notification_deliveries.job_id IS 'WEBHOOK: the DELIVER_NOTIFICATION job making the attempt.';
COMMENT ON COLUMN certbus.notification_deliveries.attempt IS 'Attempt number (1 = first try).';
COMMENT ON COLUMN certbus.notification_deliveries.status IS 'DELIVERED (2xx answer, or NOTIFY sent) or FAILED.';
COMMENT ON COLUMN certbus.notification_deliveries.will_retry IS 'FAILED attempts: true when the job queue will try again.';
COMMENT ON COLUMN certbus.notification_deliveries.http_status IS 'WEBHOOK: the receiver''s HTTP status; NULL when no answer came (timeout, refused).';
COMMENT ON COLUMN certbus.notification_deliveries.error IS 'Why the attempt failed.';
COMMENT ON COLUMN certbus.notification_deliveries.duration_ms IS 'How long the attempt took, in milliseconds.';
COMMENT ON COLUMN certbus.notification_deliveries.created_at IS 'When the attempt finished.';
CREATE INDEX notification_deliveries_profile ON certbus.notification_deliveries (profile_id, created_at);
COMMENT ON INDEX certbus.notification_deliveries_profile IS 'The delivery log of one profile, by time.';
CREATE INDEX notification_deliveries_event ON certbus.notification_deliveries (event_id);
COMMENT ON INDEX certbus.notification_deliveries_event IS 'The deliveries of one event.';
