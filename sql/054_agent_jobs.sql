-- 054_agent_jobs.sql — INSTALL_CERT jobs, run by agents through agent-scoped functions only;
-- payload rules of the endpoint area's job kinds; enqueueing validations and installs.
--
-- An agent's jobs run on its own queue, agent-<agent id>. The agent never touches certbus.jobs:
-- it claims, extends, and finishes them with the SECURITY DEFINER functions below, each of which
-- checks the caller (certbus.agent_require) and that the job is on that agent's queue, is RUNNING
-- for it (locked_by = agent:<id>) at the attempt it claimed, and concerns one of its endpoints.

-- ---------------------------------------------------------------------------------------------
-- Payload rules
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.discovery_payload_problem(p_payload jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN jsonb_array_length(p_payload -> 'targets') = 0 THEN 'targets is empty'
    WHEN jsonb_array_length(p_payload -> 'targets') > 1024 THEN 'more than 1024 targets'
    WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p_payload -> 'targets') t
                  WHERE jsonb_typeof(t) <> 'string' OR length(t #>> '{}') NOT BETWEEN 3 AND 300)
      THEN 'every target must be a string like host:port or 192.0.2.0/28:443'
  END
$$;
COMMENT ON FUNCTION certbus.discovery_payload_problem(jsonb) IS
  'Validator of DISCOVERY payloads (certbus.job_kinds.validator): 1 to 1024 targets, each a string. The handler '
  'checks each target''s syntax and range size (at most 256 addresses) before probing.';

INSERT INTO certbus.job_kinds (kind, description, required_fields, default_max_attempts, validator) VALUES
  ('VALIDATE_DEPLOYMENT', 'Check that an endpoint serves its expected certificate (TLS probe).', '{"endpoint_id": "uuid"}', 3, NULL),
  ('INSTALL_CERT', 'Install a certificate on an endpoint (run by the endpoint''s agent, on queue agent-<id>).',
   '{"endpoint_id": "uuid"}', 5, NULL),
  ('DISCOVERY', 'Probe host:port targets over TLS and record the certificates they serve.', '{"targets": "array"}', 3,
   'certbus.discovery_payload_problem'::regproc)
ON CONFLICT (kind) DO UPDATE
  SET description = EXCLUDED.description, required_fields = EXCLUDED.required_fields,
      default_max_attempts = EXCLUDED.default_max_attempts, validator = EXCLUDED.validator;

-- ---------------------------------------------------------------------------------------------
-- Service side: validations and install requests
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.agent_queue(p_agent_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'agent-' || p_agent_id::text $$;
COMMENT ON FUNCTION certbus.agent_queue(uuid) IS 'The job queue of an agent: agent-<agent id>.';

CREATE FUNCTION certbus.agent_worker_id(p_agent_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'agent:' || p_agent_id::text $$;
COMMENT ON FUNCTION certbus.agent_worker_id(uuid) IS 'The locked_by value of jobs an agent is running: agent:<agent id>.';

CREATE FUNCTION certbus.enqueue_deployment_validation(
  p_endpoint_id uuid, p_actor_type text DEFAULT 'SYSTEM', p_actor_id text DEFAULT 'sql', p_run_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_name text;
  v_id bigint;
BEGIN
  SELECT name INTO v_name FROM certbus.endpoints WHERE id = p_endpoint_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no endpoint with id %', coalesce(p_endpoint_id::text, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  v_id := certbus.enqueue_job_if_absent('VALIDATE_DEPLOYMENT', jsonb_build_object('endpoint_id', p_endpoint_id),
            'Validate deployment on ' || v_name, 100, p_run_at, 'validate:' || p_endpoint_id::text, NULL, 'default',
            p_actor_type, p_actor_id);
  IF v_id IS NULL THEN
    SELECT id INTO v_id FROM certbus.jobs
     WHERE kind = 'VALIDATE_DEPLOYMENT' AND unique_key = 'validate:' || p_endpoint_id::text AND status IN ('QUEUED', 'RUNNING');
  END IF;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION certbus.enqueue_deployment_validation(uuid, text, text, timestamptz) IS
  'Enqueues a VALIDATE_DEPLOYMENT job for the endpoint (unique key validate:<endpoint id>) and returns its id, or the '
  'id of the one already queued or running.';

CREATE FUNCTION certbus.request_install(
  p_endpoint_id uuid, p_certificate_id uuid DEFAULT NULL, p_profile text DEFAULT NULL, p_key_algorithm text DEFAULT NULL,
  p_names text[] DEFAULT NULL, p_actor_type text DEFAULT 'SYSTEM', p_actor_id text DEFAULT 'sql')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  e certbus.endpoints;
  v_payload jsonb;
  v_id bigint;
BEGIN
  SELECT * INTO e FROM certbus.endpoints WHERE id = p_endpoint_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no endpoint with id %', coalesce(p_endpoint_id::text, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  IF e.kind <> 'AGENT' OR e.agent_id IS NULL THEN
    RAISE EXCEPTION 'endpoint % has no agent: only AGENT endpoints with an agent get INSTALL_CERT jobs', e.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (p_certificate_id IS NULL) = (p_profile IS NULL) THEN
    RAISE EXCEPTION 'give either a certificate to install or a profile (the agent then generates a key and submits a CSR)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_certificate_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certbus.certificates WHERE id = p_certificate_id) THEN
    RAISE EXCEPTION 'no certificate with id %', p_certificate_id USING ERRCODE = 'no_data_found';
  END IF;
  IF p_key_algorithm IS NOT NULL AND p_key_algorithm NOT IN ('EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096', 'ED25519') THEN
    RAISE EXCEPTION 'unknown key algorithm % (EC-P256, EC-P384, RSA-2048, RSA-3072, RSA-4096, ED25519)', p_key_algorithm
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_payload := jsonb_strip_nulls(jsonb_build_object(
    'endpoint_id', e.id, 'certificate_id', p_certificate_id, 'profile', p_profile, 'key_algorithm', p_key_algorithm,
    'names', to_jsonb(p_names)));
  v_id := certbus.enqueue_job('INSTALL_CERT', v_payload, 'Install certificate on ' || e.name, 100, NULL,
            'install:' || e.id::text, NULL, certbus.agent_queue(e.agent_id), p_actor_type, p_actor_id, NULL, p_certificate_id);
  PERFORM certbus.change_endpoint_status(e.id, 'AUTOMATION_REQUESTED', p_actor_type, p_actor_id,
                                         'installation requested', v_id);
  IF p_certificate_id IS NOT NULL THEN
    PERFORM certbus.change_endpoint_status(e.id, 'READY_TO_BE_INSTALLED', p_actor_type, p_actor_id,
                                           'certificate ' || p_certificate_id::text || ' is ready', v_id);
  END IF;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION certbus.request_install(uuid, uuid, text, text, text[], text, text) IS
  'Asks the endpoint''s agent to install a certificate: an issued one (p_certificate_id; the agent must hold its key) '
  'or a new one (p_profile: the agent generates the key locally and submits a CSR; p_names default to the endpoint''s '
  'server name). Enqueues INSTALL_CERT on queue agent-<id> (one per endpoint at a time, unique key install:<endpoint>) '
  'and moves the endpoint to Automation requested (and Ready to be installed). Returns the job id.';

-- ---------------------------------------------------------------------------------------------
-- Agent side (SECURITY DEFINER; certbus_agent may execute only these)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE certbus.agent_csr_submissions (
  install_job_id  bigint PRIMARY KEY,
  agent_id        uuid NOT NULL REFERENCES certbus.agents (id) ON DELETE CASCADE,
  endpoint_id     uuid NOT NULL REFERENCES certbus.endpoints (id) ON DELETE CASCADE,
  issue_job_id    bigint NOT NULL,
  csr_sha256      text NOT NULL CHECK (csr_sha256 ~ '^[0-9a-f]{64}$'),
  submitted_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.agent_csr_submissions IS
  'CSRs agents submitted for INSTALL_CERT jobs: the agent generated the key locally and only the CSR left the host. '
  'Links the install job to the ISSUE_CERT job that signs it, so a retried install reuses the same submission.';
COMMENT ON COLUMN certbus.agent_csr_submissions.install_job_id IS 'The INSTALL_CERT job (certbus.jobs.id).';
COMMENT ON COLUMN certbus.agent_csr_submissions.agent_id IS 'The agent that generated the key.';
COMMENT ON COLUMN certbus.agent_csr_submissions.endpoint_id IS 'The endpoint the certificate is for.';
COMMENT ON COLUMN certbus.agent_csr_submissions.issue_job_id IS 'The ISSUE_CERT job enqueued for the CSR (idempotency key install:<install job id>).';
COMMENT ON COLUMN certbus.agent_csr_submissions.csr_sha256 IS 'SHA-256 of the submitted CSR PEM text.';
COMMENT ON COLUMN certbus.agent_csr_submissions.submitted_at IS 'When it was submitted.';

CREATE FUNCTION certbus.agent_running_job(p_agent_id uuid, p_job_id bigint, p_attempt integer)
RETURNS certbus.jobs
LANGUAGE plpgsql SET search_path = pg_catalog, certbus AS $$
DECLARE
  j certbus.jobs;
BEGIN
  PERFORM certbus.agent_require(p_agent_id);
  SELECT * INTO j FROM certbus.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND OR j.queue <> certbus.agent_queue(p_agent_id) OR j.kind <> 'INSTALL_CERT' THEN
    RAISE EXCEPTION 'job % is not an INSTALL_CERT job of agent %', p_job_id, p_agent_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF j.status <> 'RUNNING' OR j.locked_by <> certbus.agent_worker_id(p_agent_id) OR j.attempt <> p_attempt THEN
    RAISE EXCEPTION 'job % is no longer running for this agent at attempt % (status %, attempt %)',
        p_job_id, p_attempt, j.status, j.attempt
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM certbus.endpoints WHERE id = (j.payload ->> 'endpoint_id')::uuid AND agent_id = p_agent_id) THEN
    RAISE EXCEPTION 'job % is for an endpoint that is not agent %''s', p_job_id, p_agent_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN j;
END
$$;
COMMENT ON FUNCTION certbus.agent_running_job(uuid, bigint, integer) IS
  'The INSTALL_CERT job p_job_id, locked, after checking that the caller may act for the agent, that the job is on '
  'the agent''s queue, RUNNING for it at p_attempt, and for one of its endpoints. Raises otherwise.';

CREATE FUNCTION certbus.agent_move_if_legal(p_endpoint_id uuid, p_to text, p_agent_id uuid, p_message text, p_job_id bigint)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, certbus AS $$
DECLARE
  e certbus.endpoints;
BEGIN
  SELECT * INTO e FROM certbus.endpoints WHERE id = p_endpoint_id FOR UPDATE;
  IF e.automation_status = p_to OR certbus.automation_move_problem(e.automation_status, p_to, e.kind) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM certbus.change_endpoint_status(p_endpoint_id, p_to, 'AGENT', p_agent_id::text, p_message, p_job_id);
  RETURN true;
END
$$;
COMMENT ON FUNCTION certbus.agent_move_if_legal(uuid, text, uuid, text, bigint) IS
  'Moves an endpoint to p_to on behalf of an agent when the state machine allows it from where it is; returns '
  'whether it moved (a retried job finds the endpoint already there). Internal to the agent_* functions.';

CREATE FUNCTION certbus.agent_claim_jobs(
  p_agent_id uuid, p_limit integer DEFAULT 1, p_lease_seconds double precision DEFAULT 300, p_endpoint_ids uuid[] DEFAULT NULL)
RETURNS TABLE (id bigint, name text, payload jsonb, attempt integer, max_attempts integer,
               triggered_by_type text, triggered_by_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
#variable_conflict use_column
BEGIN
  PERFORM certbus.agent_require(p_agent_id);
  IF p_limit NOT BETWEEN 1 AND 100 OR p_lease_seconds NOT BETWEEN 5 AND 86400 THEN
    RAISE EXCEPTION 'claim between 1 and 100 jobs with a lease of 5 s to 1 day' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    UPDATE certbus.jobs j
       SET status = 'RUNNING', attempt = j.attempt + 1, started_at = now(),
           locked_by = certbus.agent_worker_id(p_agent_id),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds)
     WHERE j.id = ANY (ARRAY(
             SELECT q.id FROM certbus.jobs q
              WHERE q.status = 'QUEUED' AND q.run_at <= now() AND q.queue = certbus.agent_queue(p_agent_id)
                AND q.kind = 'INSTALL_CERT'
                AND (q.payload ->> 'endpoint_id')::uuid IN (SELECT e.id FROM certbus.endpoints e WHERE e.agent_id = p_agent_id)
                AND (p_endpoint_ids IS NULL OR (q.payload ->> 'endpoint_id')::uuid = ANY (p_endpoint_ids))
              ORDER BY q.priority, q.run_at, q.id
              LIMIT p_limit
                FOR UPDATE SKIP LOCKED))
    RETURNING j.id, j.name, j.payload, j.attempt, j.max_attempts, j.triggered_by_type, j.triggered_by_id;
END
$$;
COMMENT ON FUNCTION certbus.agent_claim_jobs(uuid, integer, double precision, uuid[]) IS
  'Claims up to p_limit due INSTALL_CERT jobs of the agent''s own queue (agent-<id>) for its own endpoints (only '
  'those of p_endpoint_ids when given), with FOR UPDATE SKIP LOCKED, marking them RUNNING (locked_by agent:<id>) '
  'with a lease. Agent role or certbus_service only.';

CREATE FUNCTION certbus.agent_extend_lease(p_agent_id uuid, p_job_id bigint, p_attempt integer, p_lease_seconds double precision DEFAULT 300)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  j certbus.jobs;
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  UPDATE certbus.jobs SET lease_expires_at = now() + make_interval(secs => least(greatest(p_lease_seconds, 5), 86400))
   WHERE id = p_job_id;
  RETURN j.cancel_requested_at IS NULL;
END
$$;
COMMENT ON FUNCTION certbus.agent_extend_lease(uuid, bigint, integer, double precision) IS
  'Extends the lease of a job the agent is running; returns false when an operator asked to cancel it.';

CREATE FUNCTION certbus.agent_install_details(p_agent_id uuid, p_job_id bigint, p_attempt integer)
RETURNS TABLE (endpoint_id uuid, endpoint_name text, server_name text, certificate_id uuid, certificate_pem text,
               chain_pem text, profile text, key_algorithm text, names text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
#variable_conflict use_column
DECLARE
  j certbus.jobs;
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  RETURN QUERY
    SELECT e.id, e.name, coalesce(e.server_name, CASE WHEN e.host ~ '[A-Za-z]' AND e.host NOT LIKE '%:%' THEN e.host END),
           c.id, c.certificate_pem, c.chain_pem, j.payload ->> 'profile', coalesce(j.payload ->> 'key_algorithm', 'EC-P256'),
           CASE WHEN j.payload ? 'names' THEN ARRAY(SELECT jsonb_array_elements_text(j.payload -> 'names')) END
      FROM certbus.endpoints e
      LEFT JOIN certbus.certificates c ON c.id = (j.payload ->> 'certificate_id')::uuid
     WHERE e.id = (j.payload ->> 'endpoint_id')::uuid;
END
$$;
COMMENT ON FUNCTION certbus.agent_install_details(uuid, bigint, integer) IS
  'What a running INSTALL_CERT job asks for: the endpoint, and either the certificate to install (PEM and chain) or '
  'the profile, key algorithm and names of the CSR the agent should make.';

CREATE FUNCTION certbus.agent_submit_csr(p_agent_id uuid, p_job_id bigint, p_attempt integer, p_csr_pem text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  j certbus.jobs;
  v_endpoint uuid;
  v_issue bigint;
  v_sha text;
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  v_endpoint := (j.payload ->> 'endpoint_id')::uuid;
  SELECT issue_job_id INTO v_issue FROM certbus.agent_csr_submissions WHERE install_job_id = p_job_id;
  IF FOUND THEN
    RETURN v_issue;
  END IF;
  IF j.payload ->> 'profile' IS NULL THEN
    RAISE EXCEPTION 'job % installs an issued certificate; it takes no CSR', p_job_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_csr_pem IS NULL OR length(p_csr_pem) > 16384
     OR p_csr_pem !~ '^\s*-----BEGIN CERTIFICATE REQUEST-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE REQUEST-----\s*$' THEN
    RAISE EXCEPTION 'the CSR must be one PEM CERTIFICATE REQUEST of at most 16 KiB' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_sha := encode(sha256(convert_to(p_csr_pem, 'UTF8')), 'hex');
  v_issue := certbus.enqueue_job('ISSUE_CERT',
               jsonb_build_object('profile', j.payload ->> 'profile', 'csr', p_csr_pem,
                                  'idempotencyKey', 'install:' || p_job_id::text),
               'Issue for agent install job ' || p_job_id::text, 100, NULL, 'install:' || p_job_id::text, NULL, 'default',
               'AGENT', p_agent_id::text);
  INSERT INTO certbus.agent_csr_submissions (install_job_id, agent_id, endpoint_id, issue_job_id, csr_sha256)
  VALUES (p_job_id, p_agent_id, v_endpoint, v_issue, v_sha);
  PERFORM certbus.agent_move_if_legal(v_endpoint, 'ISSUING_CERTIFICATE', p_agent_id, 'CSR submitted (ISSUE_CERT job ' || v_issue || ')', p_job_id);
  PERFORM certbus.write_audit('CSR_SUBMITTED', 'Endpoint', v_endpoint::text, 'AGENT', p_agent_id::text,
            jsonb_build_object('install_job_id', p_job_id, 'issue_job_id', v_issue, 'csr_sha256', v_sha,
                               'profile', j.payload ->> 'profile', 'key_generated_on', 'agent'));
  RETURN v_issue;
END
$$;
COMMENT ON FUNCTION certbus.agent_submit_csr(uuid, bigint, integer, text) IS
  'The agent submits the CSR for a running INSTALL_CERT job (the private key stays on the agent): enqueues ISSUE_CERT '
  'with the job''s profile (idempotency key install:<job>), records it in agent_csr_submissions, moves the endpoint '
  'to Issuing certificate and audits CSR_SUBMITTED. Returns the ISSUE_CERT job id; a second call returns the same id.';

CREATE FUNCTION certbus.agent_issuance(p_agent_id uuid, p_job_id bigint)
RETURNS TABLE (state text, error text, certificate_id uuid, certificate_pem text, chain_pem text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
#variable_conflict use_column
DECLARE
  s certbus.agent_csr_submissions;
  i certbus.jobs;
BEGIN
  PERFORM certbus.agent_require(p_agent_id);
  SELECT * INTO s FROM certbus.agent_csr_submissions WHERE install_job_id = p_job_id AND agent_id = p_agent_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'agent % submitted no CSR for job %', p_agent_id, p_job_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT * INTO i FROM certbus.jobs WHERE id = s.issue_job_id;
  IF FOUND AND i.status IN ('QUEUED', 'RUNNING') THEN
    RETURN QUERY SELECT 'PENDING'::text, NULL::text, NULL::uuid, NULL::text, NULL::text;
  ELSIF FOUND AND i.status = 'SUCCESS' AND i.issued_certificate_id IS NOT NULL THEN
    RETURN QUERY SELECT 'ISSUED'::text, NULL::text, c.id, c.certificate_pem, c.chain_pem
                   FROM certbus.certificates c WHERE c.id = i.issued_certificate_id;
  ELSIF FOUND AND i.status = 'SUCCESS' THEN
    -- The ISSUE_CERT job finished without a certificate: the request waits for an approval (or was decided).
    RETURN QUERY
      SELECT CASE r.status WHEN 'ISSUED' THEN 'ISSUED' WHEN 'FAILED' THEN 'FAILED' WHEN 'DENIED' THEN 'FAILED'
                           WHEN 'EXPIRED' THEN 'FAILED' ELSE 'PENDING' END,
             r.error, c.id, c.certificate_pem, c.chain_pem
        FROM (SELECT 1) one
        LEFT JOIN certbus.certificate_requests r ON r.idempotency_key = 'install:' || p_job_id::text
        LEFT JOIN certbus.certificates c ON c.id = r.certificate_id;
  ELSIF FOUND THEN
    RETURN QUERY SELECT 'FAILED'::text, coalesce(i.error, 'the ISSUE_CERT job ended ' || i.status), NULL::uuid, NULL::text, NULL::text;
  ELSE
    RETURN QUERY SELECT CASE WHEN c.id IS NOT NULL THEN 'ISSUED' ELSE 'FAILED' END,
                        CASE WHEN c.id IS NULL THEN 'the ISSUE_CERT job is gone and no certificate was issued' END,
                        c.id, c.certificate_pem, c.chain_pem
                   FROM (SELECT 1) one
                   LEFT JOIN certbus.certificate_requests r ON r.idempotency_key = 'install:' || p_job_id::text AND r.status = 'ISSUED'
                   LEFT JOIN certbus.certificates c ON c.id = r.certificate_id;
  END IF;
END
$$;
COMMENT ON FUNCTION certbus.agent_issuance(uuid, bigint) IS
  'How the issuance of the CSR an agent submitted for an install job stands: PENDING, ISSUED (with the certificate and '
  'chain, public data) or FAILED (with the error).';

CREATE FUNCTION certbus.agent_installing(p_agent_id uuid, p_job_id bigint, p_attempt integer, p_certificate_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  j certbus.jobs;
  v_endpoint uuid;
  v_moved boolean := false;
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  v_endpoint := (j.payload ->> 'endpoint_id')::uuid;
  IF p_certificate_id IS DISTINCT FROM (j.payload ->> 'certificate_id')::uuid
     AND NOT EXISTS (SELECT 1 FROM certbus.agent_csr_submissions s JOIN certbus.jobs i ON i.id = s.issue_job_id
                      WHERE s.install_job_id = p_job_id AND i.issued_certificate_id = p_certificate_id)
     AND NOT EXISTS (SELECT 1 FROM certbus.certificate_requests r
                      WHERE r.idempotency_key = 'install:' || p_job_id::text AND r.certificate_id = p_certificate_id) THEN
    RAISE EXCEPTION 'certificate % is not the one job % installs', p_certificate_id, p_job_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM certbus.agent_move_if_legal(v_endpoint, 'CERTIFICATE_ISSUED', p_agent_id, 'certificate ' || p_certificate_id::text || ' issued', p_job_id);
  v_moved := certbus.agent_move_if_legal(v_endpoint, 'INSTALLING_CERTIFICATE', p_agent_id, 'installing certificate ' || p_certificate_id::text, p_job_id);
  IF v_moved THEN
    PERFORM certbus.write_audit('DEPLOYMENT_STARTED', 'Endpoint', v_endpoint::text, 'AGENT', p_agent_id::text,
              jsonb_build_object('job_id', p_job_id, 'certificate_id', p_certificate_id));
  END IF;
END
$$;
COMMENT ON FUNCTION certbus.agent_installing(uuid, bigint, integer, uuid) IS
  'The agent starts writing the certificate of its running install job: the endpoint moves (Certificate issued ->) '
  'Installing certificate, audit DEPLOYMENT_STARTED. Only for the job''s own certificate (given, or issued from its CSR).';

CREATE FUNCTION certbus.agent_finish_install(
  p_agent_id uuid, p_job_id bigint, p_attempt integer, p_outcome text, p_message text DEFAULT '',
  p_certificate_id uuid DEFAULT NULL, p_delay_seconds double precision DEFAULT 30)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  j certbus.jobs;
  v_endpoint uuid;
  v_validation bigint;
  v_status text;
  v_message text := left(coalesce(p_message, ''), 1900);
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  v_endpoint := (j.payload ->> 'endpoint_id')::uuid;
  IF p_outcome NOT IN ('INSTALLED', 'INSTALLATION_FAILED', 'SCRIPT_ERROR', 'AGENT_ERROR', 'ISSUANCE_FAILED', 'RETRY', 'WAIT') THEN
    RAISE EXCEPTION 'unknown install outcome % (INSTALLED, INSTALLATION_FAILED, SCRIPT_ERROR, AGENT_ERROR, ISSUANCE_FAILED, RETRY, WAIT)',
        coalesce(p_outcome, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF j.cancel_requested_at IS NOT NULL THEN
    UPDATE certbus.jobs SET status = 'CANCELLED', completed_at = now(), locked_by = NULL, lease_expires_at = NULL,
           error = 'cancelled by an operator' WHERE id = p_job_id;
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
    VALUES (p_job_id, j.attempt, j.kind, j.locked_by, j.started_at, now(), 'CANCELLED', 'cancelled by an operator');
    RETURN 'CANCELLED';
  END IF;

  IF p_outcome = 'INSTALLED' THEN
    PERFORM certbus.agent_installing(p_agent_id, p_job_id, p_attempt, p_certificate_id);
    PERFORM certbus.agent_move_if_legal(v_endpoint, 'INSTALLATION_COMPLETED', p_agent_id, coalesce(nullif(v_message, ''), 'installed'), p_job_id);
    UPDATE certbus.endpoints SET expected_certificate_id = p_certificate_id WHERE id = v_endpoint;
    v_validation := certbus.enqueue_deployment_validation(v_endpoint, 'AGENT', p_agent_id::text);
    PERFORM certbus.agent_move_if_legal(v_endpoint, 'INSTALL_VALIDATION_IN_PROGRESS', p_agent_id,
              'VALIDATE_DEPLOYMENT job ' || v_validation, p_job_id);
    PERFORM certbus.write_audit('DEPLOYMENT_COMPLETED', 'Endpoint', v_endpoint::text, 'AGENT', p_agent_id::text,
              jsonb_build_object('job_id', p_job_id, 'certificate_id', p_certificate_id, 'validation_job_id', v_validation,
                                 'message', v_message));
    UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, error = NULL,
           output = jsonb_build_object('endpoint_id', v_endpoint, 'certificate_id', p_certificate_id,
                                      'validation_job_id', v_validation)
     WHERE id = p_job_id;
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome)
    VALUES (p_job_id, j.attempt, j.kind, j.locked_by, j.started_at, now(), 'SUCCESS');
    RETURN 'SUCCESS';
  END IF;

  IF p_outcome = 'WAIT' THEN
    -- Not an attempt: the issuance is still pending (e.g. an approval). Give the job back for later.
    UPDATE certbus.jobs SET status = 'QUEUED', attempt = j.attempt - 1, locked_by = NULL, lease_expires_at = NULL,
           run_at = now() + make_interval(secs => least(greatest(p_delay_seconds, 1), 86400)), error = nullif(v_message, '')
     WHERE id = p_job_id;
    RETURN 'QUEUED';
  END IF;

  IF p_outcome = 'RETRY' AND j.attempt < j.max_attempts THEN
    UPDATE certbus.jobs SET status = 'QUEUED', locked_by = NULL, lease_expires_at = NULL, error = v_message,
           run_at = now() + make_interval(secs => least(greatest(p_delay_seconds, 1), 86400))
     WHERE id = p_job_id;
    INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
    VALUES (p_job_id, j.attempt, j.kind, j.locked_by, j.started_at, now(), 'RETRY', coalesce(nullif(v_message, ''), 'retry'));
    RETURN 'QUEUED';
  END IF;

  v_status := CASE p_outcome WHEN 'RETRY' THEN 'AGENT_ERROR' ELSE p_outcome END;
  PERFORM certbus.agent_move_if_legal(v_endpoint, v_status, p_agent_id, v_message, p_job_id);
  PERFORM certbus.write_audit('DEPLOYMENT_FAILED', 'Endpoint', v_endpoint::text, 'AGENT', p_agent_id::text,
            jsonb_build_object('job_id', p_job_id, 'outcome', v_status, 'error', v_message));
  UPDATE certbus.jobs SET status = 'FAILED', completed_at = now(), locked_by = NULL, lease_expires_at = NULL,
         error = coalesce(nullif(v_message, ''), v_status)
   WHERE id = p_job_id;
  INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
  VALUES (p_job_id, j.attempt, j.kind, j.locked_by, j.started_at, now(), 'FAILED', coalesce(nullif(v_message, ''), v_status));
  RETURN 'FAILED';
END
$$;
COMMENT ON FUNCTION certbus.agent_finish_install(uuid, bigint, integer, text, text, uuid, double precision) IS
  'Ends the agent''s attempt of an install job, in one transaction. INSTALLED: endpoint -> Installation completed -> '
  'Install validation in progress, expected certificate set, VALIDATE_DEPLOYMENT enqueued, DEPLOYMENT_COMPLETED, job '
  'SUCCESS. INSTALLATION_FAILED, SCRIPT_ERROR, AGENT_ERROR, ISSUANCE_FAILED: endpoint -> that status, DEPLOYMENT_FAILED, '
  'job FAILED. RETRY: requeued after p_delay_seconds while attempts remain (then AGENT_ERROR). WAIT: requeued without '
  'counting the attempt (issuance pending). A job an operator asked to cancel ends CANCELLED.';

CREATE FUNCTION certbus.agent_lookup(p_name text) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  v_id uuid;
BEGIN
  SELECT id INTO v_id FROM certbus.agents WHERE name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no agent named %', coalesce(quote_literal(p_name), 'NULL') USING ERRCODE = 'no_data_found',
      HINT = 'Register it with certbus agent register NAME or certbus endpoint add --agent NAME.';
  END IF;
  PERFORM certbus.agent_require(v_id);
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION certbus.agent_lookup(text) IS
  'The id of the agent named p_name, for an agent starting up by name: only its own role (or certbus_service) gets '
  'an answer; others get insufficient_privilege. Unknown names: no_data_found.';

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'certbus.agent_claim_jobs(uuid, integer, double precision, uuid[])',
    'certbus.agent_lookup(text)',
    'certbus.agent_extend_lease(uuid, bigint, integer, double precision)',
    'certbus.agent_install_details(uuid, bigint, integer)',
    'certbus.agent_submit_csr(uuid, bigint, integer, text)',
    'certbus.agent_issuance(uuid, bigint)',
    'certbus.agent_installing(uuid, bigint, integer, uuid)',
    'certbus.agent_finish_install(uuid, bigint, integer, text, text, uuid, double precision)'
  ] LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO certbus_agent', f);
  END LOOP;
  -- Internal helpers: not callable by agents directly.
  FOREACH f IN ARRAY ARRAY[
    'certbus.agent_running_job(uuid, bigint, integer)',
    'certbus.agent_move_if_legal(uuid, text, uuid, text, bigint)',
    'certbus.request_install(uuid, uuid, text, text, text[], text, text)',
    'certbus.enqueue_deployment_validation(uuid, text, text, timestamptz)',
    'certbus.change_endpoint_status(uuid, text, text, text, text, bigint)',
    'certbus.mark_silent_agents_offline(interval)',
    'certbus.revert_successful_endpoints(interval, integer)'
  ] LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
