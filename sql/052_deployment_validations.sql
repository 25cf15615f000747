-- 052_deployment_validations.sql — results of VALIDATE_DEPLOYMENT jobs, and an endpoint overview for psql.

CREATE TABLE certbus.deployment_validations (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id           uuid NOT NULL REFERENCES certbus.endpoints (id) ON DELETE CASCADE,
  job_id                bigint,
  checked_at            timestamptz NOT NULL DEFAULT now(),
  outcome               text NOT NULL CHECK (outcome IN ('VALIDATED', 'FAILED', 'UNREACHABLE')),
  address               text NOT NULL,
  server_name           text,
  expected_fingerprint  text CHECK (expected_fingerprint ~ '^[0-9a-f]{64}$'),
  served_fingerprint    text CHECK (served_fingerprint ~ '^[0-9a-f]{64}$'),
  protocol              text,
  cipher                text,
  chain_checked         boolean NOT NULL DEFAULT false,
  problems              jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(problems) = 'array'),
  error                 text,
  CHECK ((outcome = 'VALIDATED') = (problems = '[]'::jsonb AND error IS NULL))
);
COMMENT ON TABLE certbus.deployment_validations IS
  'One row per finished deployment validation (VALIDATE_DEPLOYMENT job): what the endpoint served compared with the '
  'certificate expected there. The newest row per endpoint is its current validation state.';
COMMENT ON COLUMN certbus.deployment_validations.id IS 'Validation id, increasing.';
COMMENT ON COLUMN certbus.deployment_validations.endpoint_id IS 'The endpoint checked.';
COMMENT ON COLUMN certbus.deployment_validations.job_id IS 'The VALIDATE_DEPLOYMENT job (certbus.jobs.id; no foreign key, jobs are deleted by retention).';
COMMENT ON COLUMN certbus.deployment_validations.checked_at IS 'When the result was recorded.';
COMMENT ON COLUMN certbus.deployment_validations.outcome IS
  'VALIDATED (expected certificate served, valid, names cover the server name, chain verifies), FAILED (something '
  'else or something wrong is served), UNREACHABLE (no TCP connection or no TLS answer).';
COMMENT ON COLUMN certbus.deployment_validations.address IS 'host:port probed.';
COMMENT ON COLUMN certbus.deployment_validations.server_name IS 'SNI sent and name checked, NULL for an IP address without a server name.';
COMMENT ON COLUMN certbus.deployment_validations.expected_fingerprint IS 'SHA-256 of the expected certificate (NULL when the endpoint had none).';
COMMENT ON COLUMN certbus.deployment_validations.served_fingerprint IS 'SHA-256 of the leaf certificate the server presented (NULL when unreachable).';
COMMENT ON COLUMN certbus.deployment_validations.protocol IS 'Negotiated TLS version, e.g. TLSv1.3.';
COMMENT ON COLUMN certbus.deployment_validations.cipher IS 'Negotiated cipher suite.';
COMMENT ON COLUMN certbus.deployment_validations.chain_checked IS 'True when the chain was verified against the issuing CA (false when the CA is unknown).';
COMMENT ON COLUMN certbus.deployment_validations.problems IS
  'What was wrong, a JSON array of {code, message}: FINGERPRINT_MISMATCH, EXPIRED, NOT_YET_VALID, NAME_NOT_COVERED, '
  'CHAIN_DOES_NOT_VERIFY, NO_EXPECTED_CERTIFICATE, UNREADABLE_CERTIFICATE. Empty when validated.';
COMMENT ON COLUMN certbus.deployment_validations.error IS 'For UNREACHABLE (and TLS failures): the probe error, e.g. connection refused.';
CREATE INDEX deployment_validations_endpoint ON certbus.deployment_validations (endpoint_id, id DESC);
COMMENT ON INDEX certbus.deployment_validations_endpoint IS 'Latest validation of an endpoint.';

CREATE VIEW certbus.endpoint_overview AS
SELECT e.name,
       e.kind,
       CASE WHEN e.host LIKE '%:%' THEN '[' || e.host || ']:' || e.port ELSE e.host || ':' || e.port END AS address,
       coalesce(e.server_name, CASE WHEN e.host ~ '[A-Za-z]' AND e.host NOT LIKE '%:%' THEN e.host END) AS server_name,
       s.title AS automation_status,
       s.is_error AS status_is_error,
       e.automation_status_since AS status_since,
       a.name AS agent,
       a.status AS agent_status,
       c.common_name AS expected_certificate,
       c.not_after AS expected_certificate_expires,
       v.outcome AS last_validation,
       v.checked_at AS last_validated_at,
       e.id AS endpoint_id
  FROM certbus.endpoints e
  JOIN certbus.automation_statuses s ON s.code = e.automation_status
  LEFT JOIN certbus.agents a ON a.id = e.agent_id
  LEFT JOIN certbus.certificates c ON c.id = e.expected_certificate_id
  LEFT JOIN LATERAL (SELECT outcome, checked_at FROM certbus.deployment_validations d
                      WHERE d.endpoint_id = e.id ORDER BY d.id DESC LIMIT 1) v ON true;
COMMENT ON VIEW certbus.endpoint_overview IS
  'One line per endpoint for people: address, automation status title (and whether it is an error), agent and its '
  'liveness, expected certificate and its expiry, last deployment validation.';
COMMENT ON COLUMN certbus.endpoint_overview.name IS 'Endpoint name.';
COMMENT ON COLUMN certbus.endpoint_overview.kind IS 'AGENT, SENSOR or ADMIN_WEB_REQUEST.';
COMMENT ON COLUMN certbus.endpoint_overview.address IS 'host:port.';
COMMENT ON COLUMN certbus.endpoint_overview.server_name IS 'Name checked on the certificate (server_name, else a host name).';
COMMENT ON COLUMN certbus.endpoint_overview.automation_status IS 'Automation status as operators see it, e.g. Install validation failed.';
COMMENT ON COLUMN certbus.endpoint_overview.status_is_error IS 'True when the status is an error status.';
COMMENT ON COLUMN certbus.endpoint_overview.status_since IS 'When the endpoint entered that status.';
COMMENT ON COLUMN certbus.endpoint_overview.agent IS 'Agent name (AGENT endpoints).';
COMMENT ON COLUMN certbus.endpoint_overview.agent_status IS 'NEVER_SEEN, ONLINE or OFFLINE.';
COMMENT ON COLUMN certbus.endpoint_overview.expected_certificate IS 'Common name of the certificate expected there.';
COMMENT ON COLUMN certbus.endpoint_overview.expected_certificate_expires IS 'Its expiry.';
COMMENT ON COLUMN certbus.endpoint_overview.last_validation IS 'Outcome of the last deployment validation: VALIDATED, FAILED, UNREACHABLE.';
COMMENT ON COLUMN certbus.endpoint_overview.last_validated_at IS 'When it was recorded.';
COMMENT ON COLUMN certbus.endpoint_overview.endpoint_id IS 'Endpoint id.';
