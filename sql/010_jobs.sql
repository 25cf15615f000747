-- 010_jobs.sql — the job queue: job kinds and their payload rules, jobs, per-attempt history,
-- and the SQL entry points to enqueue, cancel and retry jobs.
--
-- Life of a job: QUEUED → RUNNING → SUCCESS | FAILED | QUEUED (retry after backoff);
-- QUEUED → CANCELLED at once; RUNNING → cancel requested → CANCELLED when the worker gives up;
-- FAILED | CANCELLED → QUEUED by an operator's retry.
-- Workers claim with FOR UPDATE SKIP LOCKED (see CertbusBus/JobQueue+Claim.swift); every change of a
-- RUNNING job is fenced on (status = 'RUNNING', locked_by = the worker, attempt = the attempt it claimed).

-- ---------------------------------------------------------------------------------------------
-- Job kinds: which kinds exist and what their payload must hold. Other areas add or tighten
-- their kinds from their own migrations, e.g.
--   INSERT INTO certbus.job_kinds (kind, description, required_fields)
--   VALUES ('SCAN_NETWORK', 'Scan a CIDR range', '{"cidr": "string"}')
--   ON CONFLICT (kind) DO UPDATE SET required_fields = EXCLUDED.required_fields;
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.json_value_has_type(p_value jsonb, p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE p_type
    WHEN 'any'     THEN p_value IS NOT NULL AND jsonb_typeof(p_value) <> 'null'
    WHEN 'string'  THEN jsonb_typeof(p_value) = 'string' AND p_value #>> '{}' <> ''
    WHEN 'uuid'    THEN jsonb_typeof(p_value) = 'string'
                        AND p_value #>> '{}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    WHEN 'integer' THEN jsonb_typeof(p_value) = 'number' AND (p_value #>> '{}') ~ '^-?[0-9]+$'
    WHEN 'number'  THEN jsonb_typeof(p_value) = 'number'
    WHEN 'boolean' THEN jsonb_typeof(p_value) = 'boolean'
    WHEN 'object'  THEN jsonb_typeof(p_value) = 'object'
    WHEN 'array'   THEN jsonb_typeof(p_value) = 'array'
    ELSE false
  END
$$;
COMMENT ON FUNCTION certbus.json_value_has_type(jsonb, text) IS
  'True when a JSON value has the named payload field type: any (not null), string (non-empty), uuid (a string in '
  'UUID form), integer, number, boolean, object, array. Used to check job payloads against certbus.job_kinds.';

CREATE FUNCTION certbus.valid_field_types(p_fields jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_typeof(p_fields) = 'object'
     AND NOT EXISTS (
       SELECT 1 FROM jsonb_each(p_fields) f
        WHERE jsonb_typeof(f.value) <> 'string'
           OR f.value #>> '{}' NOT IN ('any', 'string', 'uuid', 'integer', 'number', 'boolean', 'object', 'array'))
$$;
COMMENT ON FUNCTION certbus.valid_field_types(jsonb) IS
  'True when a job_kinds.required_fields document maps field names to known types '
  '(any, string, uuid, integer, number, boolean, object, array).';

CREATE TABLE certbus.job_kinds (
  kind                  text PRIMARY KEY CHECK (kind ~ '^[A-Z][A-Z0-9_]{0,62}$'),
  description           text NOT NULL CHECK (description <> ''),
  required_fields       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (certbus.valid_field_types(required_fields)),
  max_payload_bytes     integer NOT NULL DEFAULT 65536 CHECK (max_payload_bytes BETWEEN 2 AND 1048576),
  default_max_attempts  integer NOT NULL DEFAULT 5 CHECK (default_max_attempts BETWEEN 1 AND 100),
  validator             regproc
);
COMMENT ON TABLE certbus.job_kinds IS
  'The job kinds certbus accepts and the rules their payloads must follow. Enqueueing a kind not listed here is '
  'refused. Each area registers its kinds from its own migration (INSERT ... ON CONFLICT (kind) DO UPDATE).';
COMMENT ON COLUMN certbus.job_kinds.kind IS 'The kind name, UPPER_SNAKE_CASE, e.g. ISSUE_CERT.';
COMMENT ON COLUMN certbus.job_kinds.description IS 'What a job of this kind does, for people.';
COMMENT ON COLUMN certbus.job_kinds.required_fields IS
  'Fields the JSON payload must contain, with their type: {"certificate_id": "uuid", "reason": "string"}. '
  'Types: any, string (non-empty), uuid, integer, number, boolean, object, array. Other fields are allowed.';
COMMENT ON COLUMN certbus.job_kinds.max_payload_bytes IS 'Largest accepted payload, in bytes of its JSON text (default 64 KiB).';
COMMENT ON COLUMN certbus.job_kinds.default_max_attempts IS 'max_attempts of a job of this kind when the enqueuer gives none.';
COMMENT ON COLUMN certbus.job_kinds.validator IS
  'Optional extra check: a function (payload jsonb) RETURNS text giving the problem with the payload, or NULL when '
  'it is acceptable. Runs after the required-field checks.';

INSERT INTO certbus.job_kinds (kind, description, required_fields, default_max_attempts) VALUES
  ('ISSUE_CERT', 'Issue a certificate from a CSR or with a server-generated key.', '{}', 5),
  ('RENEW_CERT', 'Renew (optionally rekey) a certificate.', '{"certificate_id": "uuid"}', 5),
  ('REVOKE_CERT', 'Revoke a certificate with an RFC 5280 reason.', '{"certificate_id": "uuid", "reason": "string"}', 5),
  ('CA_REFRESH', 'Refresh a CA''s chain, CRL and health.', '{"ca_id": "uuid"}', 3),
  ('VALIDATE_DEPLOYMENT', 'Check that a deployed certificate is served correctly.', '{}', 3),
  ('INSTALL_CERT', 'Install a certificate on an endpoint (run by an agent).', '{}', 5),
  ('DISCOVERY', 'Scan endpoints for certificates.', '{}', 3),
  ('DELIVER_NOTIFICATION', 'Deliver one notification (webhook) with retries.', '{}', 8),
  ('NOOP', 'Does nothing (benchmarks, smoke tests). Optional payload: sleep_ms (integer), '
           'fail ("retryable" or "permanent"), record ("run" or "commit": write a row to certbus.noop_runs).', '{}', 3);

CREATE FUNCTION certbus.job_payload_problem(p_kind text, p_payload jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  k certbus.job_kinds%ROWTYPE;
  f record;
  problem text;
  size integer;
BEGIN
  IF p_kind IS NULL THEN
    RETURN 'the job kind is missing';
  END IF;
  SELECT * INTO k FROM certbus.job_kinds WHERE kind = p_kind;
  IF NOT FOUND THEN
    RETURN format('unknown job kind %L (known kinds: %s)', p_kind,
                  (SELECT string_agg(kind, ', ' ORDER BY kind) FROM certbus.job_kinds));
  END IF;
  IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
    RETURN format('the %s payload must be a JSON object, not %s', p_kind, coalesce(jsonb_typeof(p_payload), 'NULL'));
  END IF;
  size := octet_length(p_payload::text);
  IF size > k.max_payload_bytes THEN
    RETURN format('the %s payload is %s bytes; the limit is %s bytes', p_kind, size, k.max_payload_bytes);
  END IF;
  IF k.required_fields <> '{}'::jsonb THEN
    FOR f IN SELECT key, value #>> '{}' AS type FROM jsonb_each(k.required_fields) ORDER BY key LOOP
      IF NOT p_payload ? f.key OR jsonb_typeof(p_payload -> f.key) = 'null' THEN
        RETURN format('the %s payload needs the field "%s" (%s)', p_kind, f.key, f.type);
      END IF;
      IF NOT certbus.json_value_has_type(p_payload -> f.key, f.type) THEN
        RETURN format('the %s payload field "%s" must be %s %s, not %s', p_kind, f.key,
                      CASE WHEN f.type IN ('any', 'integer', 'object', 'array') THEN 'an' ELSE 'a' END, f.type,
                      left((p_payload -> f.key)::text, 80));
      END IF;
    END LOOP;
  END IF;
  IF k.validator IS NOT NULL THEN
    EXECUTE format('SELECT %s($1)', k.validator) INTO problem USING p_payload;
    IF problem IS NOT NULL THEN
      RETURN format('the %s payload is refused: %s', p_kind, problem);
    END IF;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.job_payload_problem(text, jsonb) IS
  'What is wrong with enqueueing this kind and payload (unknown kind, not an object, too large, a required field '
  'missing or of the wrong type, refused by the kind''s validator), or NULL when it is acceptable.';

-- ---------------------------------------------------------------------------------------------
-- Jobs
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.jobs (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind                   text NOT NULL CHECK (kind ~ '^[A-Z][A-Z0-9_]{0,62}$'),
  name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  queue                  text NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  status                 text NOT NULL DEFAULT 'QUEUED'
                           CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED')),
  priority               integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000),
  run_at                 timestamptz NOT NULL DEFAULT now(),
  payload                jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
  unique_key             text CHECK (length(unique_key) BETWEEN 1 AND 200),
  attempt                integer NOT NULL DEFAULT 0,
  max_attempts           integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 10000),
  ca_id                  uuid,
  certificate_id         uuid,
  triggered_by_type      text NOT NULL DEFAULT 'SYSTEM' CHECK (triggered_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  triggered_by_id        text NOT NULL DEFAULT 'sql' CHECK (length(triggered_by_id) BETWEEN 1 AND 200),
  created_at             timestamptz NOT NULL DEFAULT now(),
  started_at             timestamptz,
  completed_at           timestamptz,
  duration               interval GENERATED ALWAYS AS (completed_at - started_at) STORED,
  locked_by              text,
  lease_expires_at       timestamptz,
  cancel_requested_at    timestamptz,
  output                 jsonb,
  error                  text,
  issued_certificate_id  uuid,
  ca_request_id          text,
  CONSTRAINT jobs_attempt_within_budget CHECK (attempt BETWEEN 0 AND max_attempts),
  CONSTRAINT jobs_running_has_lease
    CHECK ((status = 'RUNNING') = (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CONSTRAINT jobs_finished_has_completion
    CHECK ((status IN ('SUCCESS', 'FAILED', 'CANCELLED')) = (completed_at IS NOT NULL)),
  CONSTRAINT jobs_no_cancel_request_while_queued CHECK (cancel_requested_at IS NULL OR status <> 'QUEUED')
) WITH (
  -- Churn tuning: every job row is updated 2-3 times and then deleted. Free space on each page lets the
  -- new row versions stay on the same page; aggressive autovacuum keeps dead versions and index entries
  -- from piling up, so a queue that has processed millions of jobs claims as fast as a new one.
  fillfactor = 70,
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.05,
  autovacuum_vacuum_cost_delay = 1
);
COMMENT ON TABLE certbus.jobs IS
  'Every lifecycle operation is a job: one row per job, holding what the Failed Job and Successful Job views show. '
  'Enqueue with certbus.enqueue_job(...); workers claim QUEUED rows with FOR UPDATE SKIP LOCKED. Finished jobs are '
  'deleted after the retention period (certbus worker housekeeping).';
COMMENT ON COLUMN certbus.jobs.id IS 'Job id.';
COMMENT ON COLUMN certbus.jobs.kind IS 'Job type, one of certbus.job_kinds: ISSUE_CERT, RENEW_CERT, REVOKE_CERT, CA_REFRESH, VALIDATE_DEPLOYMENT, ...';
COMMENT ON COLUMN certbus.jobs.name IS 'Human-readable name, e.g. "Issue www.example.com" (defaults to the kind).';
COMMENT ON COLUMN certbus.jobs.queue IS 'Queue name; workers serve one or more queues (default "default").';
COMMENT ON COLUMN certbus.jobs.status IS
  'QUEUED (waiting for run_at and a worker), RUNNING (claimed, leased), SUCCESS, FAILED (attempts spent or a '
  'permanent error), CANCELLED (by an operator).';
COMMENT ON COLUMN certbus.jobs.priority IS 'Lower runs first (0 = most urgent, default 100); ties go by run_at, then id.';
COMMENT ON COLUMN certbus.jobs.run_at IS 'Scheduled time: the job is not claimed before it. Retries move it forward by the backoff delay.';
COMMENT ON COLUMN certbus.jobs.payload IS 'Input payload, a JSON object checked against certbus.job_kinds at enqueue time. Never holds secrets.';
COMMENT ON COLUMN certbus.jobs.unique_key IS
  'Optional deduplication key: at most one job per (kind, unique_key) may be QUEUED or RUNNING at a time, '
  'e.g. ''ca:<uuid>'' for CA_REFRESH.';
COMMENT ON COLUMN certbus.jobs.attempt IS 'Attempts started so far (the running attempt included). A shutdown hand-back does not count.';
COMMENT ON COLUMN certbus.jobs.max_attempts IS 'Attempts allowed before the job ends FAILED (default from certbus.job_kinds).';
COMMENT ON COLUMN certbus.jobs.ca_id IS 'The CA the job works with, if any (kept after the CA is deleted: not a foreign key).';
COMMENT ON COLUMN certbus.jobs.certificate_id IS 'The certificate the job acts on (renew, revoke, install), if any.';
COMMENT ON COLUMN certbus.jobs.triggered_by_type IS 'Who caused the job: SYSTEM (a certbus service), USER (an operator) or AGENT.';
COMMENT ON COLUMN certbus.jobs.triggered_by_id IS 'User name, agent id, or the name of the service (scheduler, dispatcher, sql).';
COMMENT ON COLUMN certbus.jobs.created_at IS 'When the job was enqueued.';
COMMENT ON COLUMN certbus.jobs.started_at IS 'When the latest attempt started (database clock).';
COMMENT ON COLUMN certbus.jobs.completed_at IS 'When the job reached SUCCESS, FAILED or CANCELLED.';
COMMENT ON COLUMN certbus.jobs.duration IS 'Execution duration of the final attempt: completed_at - started_at (generated).';
COMMENT ON COLUMN certbus.jobs.locked_by IS 'While RUNNING: the worker holding the job (host:pid:n).';
COMMENT ON COLUMN certbus.jobs.lease_expires_at IS
  'While RUNNING: the worker must finish or extend the lease before this time (database clock), else the rescuer '
  'takes the job back.';
COMMENT ON COLUMN certbus.jobs.cancel_requested_at IS 'When an operator asked to cancel the running job; the worker ends it CANCELLED.';
COMMENT ON COLUMN certbus.jobs.output IS 'Completion metadata returned by the handler (JSON).';
COMMENT ON COLUMN certbus.jobs.error IS 'The last error message (kept on retries; the per-attempt errors are in certbus.job_attempts).';
COMMENT ON COLUMN certbus.jobs.issued_certificate_id IS 'The certificate this job issued (ISSUE_CERT, RENEW_CERT).';
COMMENT ON COLUMN certbus.jobs.ca_request_id IS 'The CA''s external request id (ACME order URL, built-in CA serial).';

CREATE INDEX jobs_claimable ON certbus.jobs (priority, run_at, id) WHERE status = 'QUEUED';
COMMENT ON INDEX certbus.jobs_claimable IS 'Serves the claim: queued jobs in the order workers take them.';
CREATE UNIQUE INDEX jobs_unique_key ON certbus.jobs (kind, unique_key)
  WHERE unique_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING');
COMMENT ON INDEX certbus.jobs_unique_key IS 'At most one QUEUED or RUNNING job per kind and unique key.';
CREATE INDEX jobs_leases ON certbus.jobs (lease_expires_at) WHERE status = 'RUNNING';
COMMENT ON INDEX certbus.jobs_leases IS 'Serves the rescuer (expired leases) and the running-jobs view.';
CREATE INDEX jobs_finished ON certbus.jobs (completed_at) WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED');
COMMENT ON INDEX certbus.jobs_finished IS 'Serves retention deletes and the recent failures view.';
CREATE INDEX jobs_certificate ON certbus.jobs (certificate_id) WHERE certificate_id IS NOT NULL;
COMMENT ON INDEX certbus.jobs_certificate IS 'Jobs of one certificate.';
CREATE INDEX jobs_ca ON certbus.jobs (ca_id) WHERE ca_id IS NOT NULL;
COMMENT ON INDEX certbus.jobs_ca IS 'Jobs of one CA.';

CREATE FUNCTION certbus.jobs_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  problem text;
BEGIN
  problem := certbus.job_payload_problem(NEW.kind, NEW.payload);
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'cannot enqueue job: %', problem
      USING ERRCODE = 'invalid_parameter_value',
            COLUMN = CASE WHEN problem LIKE 'unknown job kind%' OR problem LIKE 'the job kind%' THEN 'kind' ELSE 'payload' END,
            HINT = 'See SELECT * FROM certbus.job_kinds for the kinds and their required payload fields.';
  END IF;
  IF NEW.max_attempts IS NULL THEN
    SELECT default_max_attempts INTO NEW.max_attempts FROM certbus.job_kinds WHERE kind = NEW.kind;
  END IF;
  IF NEW.name IS NULL OR NEW.name = '' THEN
    NEW.name := NEW.kind;
  END IF;
  IF NEW.ca_id IS NULL AND certbus.json_value_has_type(NEW.payload -> 'ca_id', 'uuid') THEN
    NEW.ca_id := (NEW.payload ->> 'ca_id')::uuid;
  END IF;
  IF NEW.certificate_id IS NULL AND certbus.json_value_has_type(NEW.payload -> 'certificate_id', 'uuid') THEN
    NEW.certificate_id := (NEW.payload ->> 'certificate_id')::uuid;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.jobs_before_insert() IS
  'Trigger function on certbus.jobs: refuses unknown kinds and bad payloads (certbus.job_payload_problem), fills '
  'max_attempts from the kind, name from the kind, and ca_id / certificate_id from the payload when not given.';
CREATE TRIGGER jobs_validate BEFORE INSERT ON certbus.jobs
  FOR EACH ROW EXECUTE FUNCTION certbus.jobs_before_insert();

-- ---------------------------------------------------------------------------------------------
-- Per-attempt history
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.job_attempts (
  job_id       bigint NOT NULL,
  attempt      integer NOT NULL CHECK (attempt >= 1),
  kind         text NOT NULL,
  worker_id    text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  duration     interval GENERATED ALWAYS AS (finished_at - started_at) STORED,
  outcome      text NOT NULL CHECK (outcome IN ('SUCCESS', 'RETRY', 'FAILED', 'CANCELLED', 'LEASE_EXPIRED')),
  error        text,
  PRIMARY KEY (job_id, attempt),
  CHECK ((outcome = 'SUCCESS') = (error IS NULL))
);
COMMENT ON TABLE certbus.job_attempts IS
  'One row per finished attempt of a job, so failure-pattern reports count attempts, not just final states. '
  'Rows of deleted jobs are deleted with them by the retention task (no foreign key, to keep the hot path cheap).';
COMMENT ON COLUMN certbus.job_attempts.job_id IS 'The job (certbus.jobs.id).';
COMMENT ON COLUMN certbus.job_attempts.attempt IS 'Attempt number, from 1.';
COMMENT ON COLUMN certbus.job_attempts.kind IS 'The job''s kind (copied, for reports that outlive the job row).';
COMMENT ON COLUMN certbus.job_attempts.worker_id IS 'The worker that ran the attempt (host:pid:n).';
COMMENT ON COLUMN certbus.job_attempts.started_at IS 'When the attempt was claimed (database clock).';
COMMENT ON COLUMN certbus.job_attempts.finished_at IS 'When it ended (database clock).';
COMMENT ON COLUMN certbus.job_attempts.duration IS 'finished_at - started_at (generated).';
COMMENT ON COLUMN certbus.job_attempts.outcome IS
  'SUCCESS; RETRY (failed, will run again after backoff); FAILED (failed for good: permanent error or attempts spent); '
  'CANCELLED; LEASE_EXPIRED (the worker died or overran the kind''s maximum run time; the job was requeued or failed).';
COMMENT ON COLUMN certbus.job_attempts.error IS 'The error of a failed attempt; NULL exactly for SUCCESS.';
CREATE INDEX job_attempts_finished_at ON certbus.job_attempts USING brin (finished_at);
COMMENT ON INDEX certbus.job_attempts_finished_at IS 'Cheap time-range index for weekly failure reports.';

-- ---------------------------------------------------------------------------------------------
-- Enqueue
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.enqueue_job_if_absent(
  p_kind text, p_payload jsonb DEFAULT '{}', p_name text DEFAULT NULL, p_priority int DEFAULT 100,
  p_run_at timestamptz DEFAULT NULL, p_unique_key text DEFAULT NULL, p_max_attempts int DEFAULT NULL,
  p_queue text DEFAULT 'default', p_triggered_by_type text DEFAULT 'SYSTEM', p_triggered_by_id text DEFAULT 'sql',
  p_ca_id uuid DEFAULT NULL, p_certificate_id uuid DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  new_id bigint;
BEGIN
  IF p_unique_key IS NULL THEN
    INSERT INTO certbus.jobs (kind, payload, name, priority, run_at, max_attempts, queue,
                              triggered_by_type, triggered_by_id, ca_id, certificate_id)
    VALUES (p_kind, coalesce(p_payload, '{}'::jsonb), p_name, coalesce(p_priority, 100), coalesce(p_run_at, now()),
            p_max_attempts, coalesce(p_queue, 'default'), coalesce(p_triggered_by_type, 'SYSTEM'),
            coalesce(p_triggered_by_id, 'sql'), p_ca_id, p_certificate_id)
    RETURNING id INTO new_id;
  ELSE
    INSERT INTO certbus.jobs (kind, payload, name, priority, run_at, unique_key, max_attempts, queue,
                              triggered_by_type, triggered_by_id, ca_id, certificate_id)
    VALUES (p_kind, coalesce(p_payload, '{}'::jsonb), p_name, coalesce(p_priority, 100), coalesce(p_run_at, now()),
            p_unique_key, p_max_attempts, coalesce(p_queue, 'default'), coalesce(p_triggered_by_type, 'SYSTEM'),
            coalesce(p_triggered_by_id, 'sql'), p_ca_id, p_certificate_id)
    ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING') DO NOTHING
    RETURNING id INTO new_id;
  END IF;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION certbus.enqueue_job_if_absent(text, jsonb, text, int, timestamptz, text, int, text, text, text, uuid, uuid) IS
  'Like certbus.enqueue_job, but when a job of the same kind and unique key is already QUEUED or RUNNING it '
  'returns NULL instead of raising. Use it where "already queued" is fine (periodic CA refreshes, renewals).';

CREATE FUNCTION certbus.enqueue_job(
  p_kind text, p_payload jsonb DEFAULT '{}', p_name text DEFAULT NULL, p_priority int DEFAULT 100,
  p_run_at timestamptz DEFAULT NULL, p_unique_key text DEFAULT NULL, p_max_attempts int DEFAULT NULL,
  p_queue text DEFAULT 'default', p_triggered_by_type text DEFAULT 'SYSTEM', p_triggered_by_id text DEFAULT 'sql',
  p_ca_id uuid DEFAULT NULL, p_certificate_id uuid DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  new_id bigint;
  existing bigint;
BEGIN
  new_id := certbus.enqueue_job_if_absent(p_kind, p_payload, p_name, p_priority, p_run_at, p_unique_key,
                                          p_max_attempts, p_queue, p_triggered_by_type, p_triggered_by_id,
                                          p_ca_id, p_certificate_id);
  IF new_id IS NULL THEN
    SELECT id INTO existing FROM certbus.jobs
     WHERE kind = p_kind AND unique_key = p_unique_key AND status IN ('QUEUED', 'RUNNING');
    RAISE EXCEPTION 'a % job with unique key % is already queued or running (job %)',
                    p_kind, quote_literal(p_unique_key), coalesce(existing::text, 'just finished')
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'jobs_unique_key',
            DETAIL = format('existing job: %s', coalesce(existing::text, 'unknown')),
            HINT = 'Use certbus.enqueue_job_if_absent(...) to get NULL instead of an error.';
  END IF;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION certbus.enqueue_job(text, jsonb, text, int, timestamptz, text, int, text, text, text, uuid, uuid) IS
  'Enqueues a job and returns its id. Usable from psql: SELECT certbus.enqueue_job(''CA_REFRESH'', '
  '''{"ca_id": "..."}'', p_unique_key => ''ca:...''). NULL arguments mean the default. Refuses an unknown kind or a '
  'bad payload (SQLSTATE 22023) and a unique key already QUEUED or RUNNING (23505, naming the existing job). '
  'Wakes idle workers through NOTIFY when the transaction commits.';

-- ---------------------------------------------------------------------------------------------
-- Operator actions (the command line calls these; psql users may too). Each writes an audit row
-- through certbus.write_audit (sql/020_*) in the same transaction.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.cancel_job(p_job_id bigint, p_actor_type text, p_actor_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j certbus.jobs%ROWTYPE;
  result text;
BEGIN
  SELECT * INTO j FROM certbus.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job with id %', p_job_id USING ERRCODE = 'no_data_found';
  END IF;
  IF j.status = 'QUEUED' THEN
    UPDATE certbus.jobs
       SET status = 'CANCELLED', completed_at = now(),
           error = format('cancelled by %s:%s', p_actor_type, p_actor_id)
     WHERE id = p_job_id;
    result := 'CANCELLED';
  ELSIF j.status = 'RUNNING' THEN
    UPDATE certbus.jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()) WHERE id = p_job_id;
    result := 'CANCEL_REQUESTED';
  ELSE
    RAISE EXCEPTION 'job % is already %; only QUEUED or RUNNING jobs can be cancelled', p_job_id, j.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM certbus.write_audit(
    CASE result WHEN 'CANCELLED' THEN 'JOB_CANCELLED' ELSE 'JOB_CANCEL_REQUESTED' END, 'Job', p_job_id::text,
    p_actor_type, p_actor_id,
    jsonb_build_object('kind', j.kind, 'name', j.name, 'previous_status', j.status, 'attempt', j.attempt));
  RETURN result;
END
$$;
COMMENT ON FUNCTION certbus.cancel_job(bigint, text, text) IS
  'Cancels a job: a QUEUED job becomes CANCELLED at once (returns CANCELLED); a RUNNING job gets cancel_requested_at '
  'and its worker ends it CANCELLED (returns CANCEL_REQUESTED). Refuses finished jobs. Writes an audit row.';

CREATE FUNCTION certbus.retry_job(p_job_id bigint, p_actor_type text, p_actor_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j certbus.jobs%ROWTYPE;
  budget integer;
  other bigint;
BEGIN
  SELECT * INTO j FROM certbus.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job with id %', p_job_id USING ERRCODE = 'no_data_found';
  END IF;
  IF j.status IN ('RUNNING', 'SUCCESS') THEN
    RAISE EXCEPTION 'job % is %; only FAILED, CANCELLED or QUEUED jobs can be retried', p_job_id, j.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF j.status = 'QUEUED' THEN
    -- Waiting for its scheduled time or a retry backoff: run it now.
    UPDATE certbus.jobs SET run_at = now() WHERE id = p_job_id;
  ELSE
    IF j.unique_key IS NOT NULL THEN
      SELECT id INTO other FROM certbus.jobs
       WHERE kind = j.kind AND unique_key = j.unique_key AND status IN ('QUEUED', 'RUNNING') AND id <> p_job_id;
      IF FOUND THEN
        RAISE EXCEPTION 'cannot retry job %: job % with the same unique key % is already queued or running',
                        p_job_id, other, quote_literal(j.unique_key)
          USING ERRCODE = 'unique_violation', CONSTRAINT = 'jobs_unique_key',
                DETAIL = format('existing job: %s', other);
      END IF;
    END IF;
    SELECT default_max_attempts INTO budget FROM certbus.job_kinds WHERE kind = j.kind;
    -- A fresh budget of attempts on top of those already spent.
    UPDATE certbus.jobs
       SET status = 'QUEUED', run_at = now(), completed_at = NULL, cancel_requested_at = NULL, output = NULL,
           max_attempts = least(10000, attempt + coalesce(budget, 1))
     WHERE id = p_job_id;
  END IF;
  PERFORM certbus.write_audit(
    'JOB_RETRIED', 'Job', p_job_id::text, p_actor_type, p_actor_id,
    jsonb_build_object('kind', j.kind, 'name', j.name, 'previous_status', j.status, 'attempt', j.attempt,
                       'last_error', j.error));
  RETURN 'QUEUED';
END
$$;
COMMENT ON FUNCTION certbus.retry_job(bigint, text, text) IS
  'Runs a job again: a FAILED or CANCELLED job is QUEUED now with a fresh budget of its kind''s default attempts '
  '(history kept in certbus.job_attempts); a QUEUED job waiting for its run_at or a backoff runs now. Refuses '
  'RUNNING and SUCCESS jobs and a unique key already in flight. Writes an audit row.';

-- ---------------------------------------------------------------------------------------------
-- NOOP handler side effects (tests, smoke checks, benchmarks)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.noop_runs (
  job_id     bigint NOT NULL,
  attempt    integer NOT NULL,
  worker_id  text NOT NULL,
  phase      text NOT NULL CHECK (phase IN ('run', 'commit')),
  at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.noop_runs IS
  'Written by NOOP jobs whose payload says "record": "run" (when the handler runs, outside the job''s transaction) or '
  '"commit" (inside the transaction that marks the job SUCCESS). Lets smoke tests check that each job ran once.';
COMMENT ON COLUMN certbus.noop_runs.job_id IS 'The NOOP job.';
COMMENT ON COLUMN certbus.noop_runs.attempt IS 'Its attempt number.';
COMMENT ON COLUMN certbus.noop_runs.worker_id IS 'The worker that ran it.';
COMMENT ON COLUMN certbus.noop_runs.phase IS 'run (the handler ran) or commit (the success committed).';
COMMENT ON COLUMN certbus.noop_runs.at IS 'When the row was written.';
