-- 053_discovery.sql — discovery runs (DISCOVERY jobs) and what each probed target served.
-- New certificates go into certbus.certificates with source DISCOVERED (deduplicated by fingerprint).

CREATE TABLE certbus.discovery_runs (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id              bigint,
  name                text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  targets             text[] NOT NULL,
  status              text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'ABANDONED')),
  started_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  targets_probed      integer NOT NULL DEFAULT 0 CHECK (targets_probed >= 0),
  targets_reachable   integer NOT NULL DEFAULT 0 CHECK (targets_reachable >= 0),
  certificates_found  integer NOT NULL DEFAULT 0 CHECK (certificates_found >= 0),
  new_certificates    integer NOT NULL DEFAULT 0 CHECK (new_certificates >= 0),
  started_by_type     text NOT NULL CHECK (started_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  started_by_id       text NOT NULL,
  CHECK ((status = 'RUNNING') = (finished_at IS NULL))
);
COMMENT ON TABLE certbus.discovery_runs IS
  'One row per attempt of a DISCOVERY job: the targets probed and what was found. RUNNING while probing; COMPLETED '
  'with the findings; ABANDONED when the attempt died and a later attempt of the same job started.';
COMMENT ON COLUMN certbus.discovery_runs.id IS 'Discovery id (the resource id of DISCOVERY_FINISHED events).';
COMMENT ON COLUMN certbus.discovery_runs.job_id IS 'The DISCOVERY job (certbus.jobs.id; no foreign key, jobs are deleted by retention).';
COMMENT ON COLUMN certbus.discovery_runs.name IS 'Optional name given by the operator.';
COMMENT ON COLUMN certbus.discovery_runs.targets IS 'The targets as given: host:port, [ipv6]:port, or small CIDR ranges address/prefix:port.';
COMMENT ON COLUMN certbus.discovery_runs.status IS 'RUNNING, COMPLETED or ABANDONED.';
COMMENT ON COLUMN certbus.discovery_runs.started_at IS 'When probing started.';
COMMENT ON COLUMN certbus.discovery_runs.finished_at IS 'When the findings were recorded (or the run was abandoned).';
COMMENT ON COLUMN certbus.discovery_runs.targets_probed IS 'Distinct host:port targets probed (ranges expanded).';
COMMENT ON COLUMN certbus.discovery_runs.targets_reachable IS 'Targets that completed a TLS handshake.';
COMMENT ON COLUMN certbus.discovery_runs.certificates_found IS 'Distinct leaf certificates served by the reachable targets.';
COMMENT ON COLUMN certbus.discovery_runs.new_certificates IS 'How many of them certbus did not know before (each got a CERTIFICATE_DISCOVERED event).';
COMMENT ON COLUMN certbus.discovery_runs.started_by_type IS 'Who asked for the discovery: SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.discovery_runs.started_by_id IS 'User name, agent id or service.';
CREATE INDEX discovery_runs_job ON certbus.discovery_runs (job_id);
COMMENT ON INDEX certbus.discovery_runs_job IS 'Runs of a job (a retried job has several).';

CREATE TABLE certbus.discovery_findings (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id              uuid NOT NULL REFERENCES certbus.discovery_runs (id) ON DELETE CASCADE,
  host                text NOT NULL,
  port                integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  probed_at           timestamptz NOT NULL DEFAULT now(),
  outcome             text NOT NULL CHECK (outcome IN ('CERTIFICATE', 'UNREACHABLE', 'NOT_TLS', 'TLS_ERROR')),
  certificate_id      uuid REFERENCES certbus.certificates (id),
  fingerprint_sha256  text CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
  is_new              boolean NOT NULL DEFAULT false,
  protocol            text,
  cipher              text,
  error               text,
  CHECK ((outcome = 'CERTIFICATE') = (certificate_id IS NOT NULL))
);
COMMENT ON TABLE certbus.discovery_findings IS
  'What each probed target of a discovery run served: a certificate (linked to certbus.certificates) or why not.';
COMMENT ON COLUMN certbus.discovery_findings.id IS 'Finding id.';
COMMENT ON COLUMN certbus.discovery_findings.run_id IS 'The discovery run.';
COMMENT ON COLUMN certbus.discovery_findings.host IS 'Host or IP address probed.';
COMMENT ON COLUMN certbus.discovery_findings.port IS 'TCP port probed.';
COMMENT ON COLUMN certbus.discovery_findings.probed_at IS 'When the finding was recorded.';
COMMENT ON COLUMN certbus.discovery_findings.outcome IS
  'CERTIFICATE (TLS handshake completed), UNREACHABLE (refused, timeout, no route, DNS), NOT_TLS (answered, but not '
  'with TLS), TLS_ERROR (a TLS peer that failed the handshake).';
COMMENT ON COLUMN certbus.discovery_findings.certificate_id IS 'The served leaf certificate, for outcome CERTIFICATE.';
COMMENT ON COLUMN certbus.discovery_findings.fingerprint_sha256 IS 'SHA-256 of the served leaf.';
COMMENT ON COLUMN certbus.discovery_findings.is_new IS 'True when this run added the certificate to the inventory.';
COMMENT ON COLUMN certbus.discovery_findings.protocol IS 'Negotiated TLS version.';
COMMENT ON COLUMN certbus.discovery_findings.cipher IS 'Negotiated cipher suite.';
COMMENT ON COLUMN certbus.discovery_findings.error IS 'Why no certificate was obtained.';
CREATE INDEX discovery_findings_run ON certbus.discovery_findings (run_id, id);
COMMENT ON INDEX certbus.discovery_findings_run IS 'Findings of a run.';
CREATE INDEX discovery_findings_certificate ON certbus.discovery_findings (certificate_id) WHERE certificate_id IS NOT NULL;
COMMENT ON INDEX certbus.discovery_findings_certificate IS 'Where a certificate was seen.';

CREATE VIEW certbus.certificate_locations AS
SELECT DISTINCT ON (f.certificate_id, f.host, f.port)
       f.certificate_id, c.common_name, c.not_after, f.host, f.port, f.probed_at AS last_seen_at, f.protocol, r.id AS run_id
  FROM certbus.discovery_findings f
  JOIN certbus.certificates c ON c.id = f.certificate_id
  JOIN certbus.discovery_runs r ON r.id = f.run_id
 ORDER BY f.certificate_id, f.host, f.port, f.probed_at DESC;
COMMENT ON VIEW certbus.certificate_locations IS
  'Where discovery last saw each certificate served: one row per certificate and host:port, with the latest sighting.';
COMMENT ON COLUMN certbus.certificate_locations.certificate_id IS 'The certificate.';
COMMENT ON COLUMN certbus.certificate_locations.common_name IS 'Its subject common name.';
COMMENT ON COLUMN certbus.certificate_locations.not_after IS 'Its expiry.';
COMMENT ON COLUMN certbus.certificate_locations.host IS 'Host where it was served.';
COMMENT ON COLUMN certbus.certificate_locations.port IS 'Port where it was served.';
COMMENT ON COLUMN certbus.certificate_locations.last_seen_at IS 'Latest discovery that saw it there.';
COMMENT ON COLUMN certbus.certificate_locations.protocol IS 'TLS version negotiated then.';
COMMENT ON COLUMN certbus.certificate_locations.run_id IS 'That discovery run.';
