-- 034_certificate_job_payloads.sql — what an ISSUE_CERT payload must hold, checked at enqueue time
-- (psql users get the error at once instead of a FAILED job).

CREATE FUNCTION certbus.issue_cert_payload_problem(p_payload jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_payload ? 'request_id' THEN
    IF NOT certbus.json_value_has_type(p_payload -> 'request_id', 'uuid') THEN
      RETURN 'request_id must be a UUID string';
    END IF;
    RETURN NULL;
  END IF;
  IF NOT certbus.json_value_has_type(p_payload -> 'profile', 'string') THEN
    RETURN 'give request_id, or profile (a profile name) with csr (PEM) or common_name / subject_alternative_names';
  END IF;
  IF p_payload ? 'csr' AND NOT certbus.json_value_has_type(p_payload -> 'csr', 'string') THEN
    RETURN 'csr must be the PEM text of a certificate signing request';
  END IF;
  IF NOT p_payload ? 'csr' AND NOT certbus.json_value_has_type(p_payload -> 'common_name', 'string')
     AND NOT certbus.json_value_has_type(p_payload -> 'subject_alternative_names', 'array') THEN
    RETURN 'without csr, give common_name or subject_alternative_names (certbus then generates the key)';
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.issue_cert_payload_problem(jsonb) IS
  'Validator of ISSUE_CERT payloads (certbus.job_kinds.validator): either request_id (a request made by certbus cert '
  'request or released by an approval), or profile plus csr, or profile plus common_name / subject_alternative_names '
  'for a server-generated key. Returns the problem, or NULL when the payload is acceptable. The CSR itself and the '
  'names are checked against the profile by the job.';

UPDATE certbus.job_kinds SET validator = 'certbus.issue_cert_payload_problem'::regproc WHERE kind = 'ISSUE_CERT';
