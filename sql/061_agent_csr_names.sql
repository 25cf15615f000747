-- 061_agent_csr_names.sql — an agent's CSR may name only what its install job is for.
--
-- Until now certbus.agent_submit_csr enqueued ISSUE_CERT with the agent's CSR and the job's profile,
-- and the profile's domain patterns were the only limit: an agent holding an install job for its
-- endpoint could submit a CSR for any name the profile allows, including another agent's endpoint
-- (a certificate for b.example.com obtained by the agent of a.example.com). The ISSUE_CERT payload
-- now carries allowed_names: the names of the install job (its names, else the endpoint's server
-- name, exactly what certbus.agent_install_details tells the agent to ask for). The ISSUE_CERT job
-- refuses a CSR naming anything else, before any CA is asked.

CREATE OR REPLACE FUNCTION certbus.agent_submit_csr(p_agent_id uuid, p_job_id bigint, p_attempt integer, p_csr_pem text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus, pg_temp AS $$
DECLARE
  j certbus.jobs;
  e certbus.endpoints;
  v_issue bigint;
  v_sha text;
  v_names jsonb;
BEGIN
  j := certbus.agent_running_job(p_agent_id, p_job_id, p_attempt);
  SELECT * INTO e FROM certbus.endpoints WHERE id = (j.payload ->> 'endpoint_id')::uuid;
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
  v_names := coalesce(
    j.payload -> 'names',
    jsonb_build_array(coalesce(e.server_name, CASE WHEN e.host ~ '[A-Za-z]' AND e.host NOT LIKE '%:%' THEN e.host END)) - '');
  v_names := coalesce((SELECT jsonb_agg(n) FROM jsonb_array_elements(v_names) n WHERE jsonb_typeof(n) = 'string'), '[]'::jsonb);
  v_sha := encode(sha256(convert_to(p_csr_pem, 'UTF8')), 'hex');
  v_issue := certbus.enqueue_job('ISSUE_CERT',
               jsonb_build_object('profile', j.payload ->> 'profile', 'csr', p_csr_pem,
                                  'idempotencyKey', 'install:' || p_job_id::text, 'allowed_names', v_names),
               'Issue for agent install job ' || p_job_id::text, 100, NULL, 'install:' || p_job_id::text, NULL, 'default',
               'AGENT', p_agent_id::text);
  INSERT INTO certbus.agent_csr_submissions (install_job_id, agent_id, endpoint_id, issue_job_id, csr_sha256)
  VALUES (p_job_id, p_agent_id, e.id, v_issue, v_sha);
  PERFORM certbus.agent_move_if_legal(e.id, 'ISSUING_CERTIFICATE', p_agent_id, 'CSR submitted (ISSUE_CERT job ' || v_issue || ')', p_job_id);
  PERFORM certbus.write_audit('CSR_SUBMITTED', 'Endpoint', e.id::text, 'AGENT', p_agent_id::text,
            jsonb_build_object('install_job_id', p_job_id, 'issue_job_id', v_issue, 'csr_sha256', v_sha,
                               'profile', j.payload ->> 'profile', 'key_generated_on', 'agent', 'allowed_names', v_names));
  RETURN v_issue;
END
$$;
COMMENT ON FUNCTION certbus.agent_submit_csr(uuid, bigint, integer, text) IS
  'The agent submits the CSR for a running INSTALL_CERT job (the private key stays on the agent): enqueues ISSUE_CERT '
  'with the job''s profile (idempotency key install:<job>) and allowed_names (the install job''s names, else the '
  'endpoint''s server name: the ISSUE_CERT job refuses a CSR naming anything else), records it in '
  'agent_csr_submissions, moves the endpoint to Issuing certificate and audits CSR_SUBMITTED. Returns the ISSUE_CERT '
  'job id; a second call returns the same id.';
