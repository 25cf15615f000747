-- 031_certificate_requests.sql — certificate requests (the RA side of issuance and renewal):
-- the idempotency record written before a CA is asked, the CSR or the server-generated key,
-- and the outcome. Plus what certificates need for renewal and lineage.

CREATE TABLE certbus.certificate_requests (
  id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  idempotency_key            text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  operation                  text NOT NULL CHECK (operation IN ('ISSUE', 'RENEW')),
  status                     text NOT NULL CHECK (status IN
                               ('PENDING_APPROVAL', 'QUEUED', 'SUBMITTED', 'ISSUED', 'FAILED', 'DENIED', 'EXPIRED')),
  profile_id                 uuid NOT NULL REFERENCES certbus.ra_profiles (id),
  ca_id                      uuid NOT NULL REFERENCES certbus.certificate_authorities (id),
  group_id                   uuid REFERENCES certbus.certificate_groups (id),
  predecessor_id             uuid REFERENCES certbus.certificates (id),
  key_source                 text NOT NULL CHECK (key_source IN ('CSR', 'GENERATED')),
  generated_key_algorithm    text CHECK (generated_key_algorithm IN ('EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096', 'ED25519')),
  csr_pem                    text,
  encrypted_private_key      bytea,
  common_name                text,
  subject_alternative_names  text[] NOT NULL DEFAULT ARRAY[]::text[],
  validity_days              integer NOT NULL CHECK (validity_days BETWEEN 1 AND 3650),
  binding_sha256             text NOT NULL CHECK (binding_sha256 ~ '^[0-9a-f]{64}$'),
  requested_by_type          text NOT NULL CHECK (requested_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  requested_by_id            text NOT NULL,
  job_id                     bigint,
  ca_request_id              text,
  certificate_id             uuid REFERENCES certbus.certificates (id),
  error                      text,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  completed_at               timestamptz,
  CHECK ((key_source = 'CSR') = (generated_key_algorithm IS NULL)),
  CHECK (key_source = 'GENERATED' OR csr_pem IS NOT NULL),
  CHECK ((status = 'ISSUED') = (certificate_id IS NOT NULL)),
  CHECK ((operation = 'RENEW') = (predecessor_id IS NOT NULL))
);
COMMENT ON TABLE certbus.certificate_requests IS
  'Certificate requests: one row per issuance or renewal, written before any CA is asked. The idempotency key (and the row id, which the CA connector uses as its key) make a retried or crashed job fetch the same certificate instead of issuing a second one. Approvals bind to binding_sha256.';
COMMENT ON COLUMN certbus.certificate_requests.id IS 'Request id; also the idempotency key sent to the CA connector.';
COMMENT ON COLUMN certbus.certificate_requests.idempotency_key IS 'Caller-chosen key (or job:<job id>): submitting the same key twice returns the first request.';
COMMENT ON COLUMN certbus.certificate_requests.operation IS 'ISSUE (a new certificate) or RENEW (a successor of predecessor_id).';
COMMENT ON COLUMN certbus.certificate_requests.status IS 'PENDING_APPROVAL, QUEUED, SUBMITTED (sent to the CA), ISSUED, FAILED, DENIED (approval denied), EXPIRED (approval expired).';
COMMENT ON COLUMN certbus.certificate_requests.profile_id IS 'The RA profile the request was checked against.';
COMMENT ON COLUMN certbus.certificate_requests.ca_id IS 'The CA asked to sign (the profile''s CA when the request was made).';
COMMENT ON COLUMN certbus.certificate_requests.group_id IS 'Group the issued certificate joins.';
COMMENT ON COLUMN certbus.certificate_requests.predecessor_id IS 'For renewals: the certificate being renewed.';
COMMENT ON COLUMN certbus.certificate_requests.key_source IS 'CSR (the requester keeps its key) or GENERATED (certbus generates the key and keeps it sealed).';
COMMENT ON COLUMN certbus.certificate_requests.generated_key_algorithm IS 'For GENERATED: the key type to generate.';
COMMENT ON COLUMN certbus.certificate_requests.csr_pem IS 'The CSR sent to the CA, PEM (for GENERATED requests, set once the key exists).';
COMMENT ON COLUMN certbus.certificate_requests.encrypted_private_key IS 'For GENERATED requests until issued: the key sealed with AES-256-GCM under the KEK (it moves to the certificate when issued).';
COMMENT ON COLUMN certbus.certificate_requests.common_name IS 'Requested subject common name.';
COMMENT ON COLUMN certbus.certificate_requests.subject_alternative_names IS 'Requested DNS names and IP addresses.';
COMMENT ON COLUMN certbus.certificate_requests.validity_days IS 'Requested lifetime in days (the profile''s at request time).';
COMMENT ON COLUMN certbus.certificate_requests.binding_sha256 IS 'SHA-256 of the canonical request parameters (ApprovalBinding); an approval only releases a request with the same hash.';
COMMENT ON COLUMN certbus.certificate_requests.requested_by_type IS 'Who asked: SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.certificate_requests.requested_by_id IS 'User name, agent id or service name.';
COMMENT ON COLUMN certbus.certificate_requests.job_id IS 'The ISSUE_CERT or RENEW_CERT job processing it (jobs are purged later; this is not a foreign key).';
COMMENT ON COLUMN certbus.certificate_requests.ca_request_id IS 'The CA''s own id for the request (ACME order URL, built-in serial).';
COMMENT ON COLUMN certbus.certificate_requests.certificate_id IS 'The issued certificate; set exactly when status is ISSUED.';
COMMENT ON COLUMN certbus.certificate_requests.error IS 'Why the request failed, was denied or expired.';
COMMENT ON COLUMN certbus.certificate_requests.created_at IS 'When the request was made.';
COMMENT ON COLUMN certbus.certificate_requests.updated_at IS 'When the row last changed.';
COMMENT ON COLUMN certbus.certificate_requests.completed_at IS 'When it reached a final status.';
CREATE TRIGGER certificate_requests_touch BEFORE UPDATE ON certbus.certificate_requests
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();
CREATE INDEX certificate_requests_open ON certbus.certificate_requests (status, created_at)
  WHERE status IN ('PENDING_APPROVAL', 'QUEUED', 'SUBMITTED');
COMMENT ON INDEX certbus.certificate_requests_open IS 'Finds requests that are not finished.';
CREATE INDEX certificate_requests_predecessor ON certbus.certificate_requests (predecessor_id)
  WHERE predecessor_id IS NOT NULL;
COMMENT ON INDEX certbus.certificate_requests_predecessor IS 'Renewal requests of a certificate.';

CREATE FUNCTION certbus.notify_certificate_request() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('ISSUED', 'FAILED', 'DENIED', 'EXPIRED', 'PENDING_APPROVAL')
     AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
    PERFORM pg_notify('certbus_certificate_requests', NEW.id::text);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.notify_certificate_request() IS
  'Trigger function: NOTIFY certbus_certificate_requests with the request id when a request reaches a final status or starts waiting for approval (`certbus cert request --wait` listens).';
CREATE TRIGGER certificate_requests_notify AFTER INSERT OR UPDATE OF status ON certbus.certificate_requests
  FOR EACH ROW EXECUTE FUNCTION certbus.notify_certificate_request();

ALTER TABLE certbus.certificates
  ADD COLUMN request_id uuid REFERENCES certbus.certificate_requests (id),
  ADD COLUMN renewal_failures integer NOT NULL DEFAULT 0 CHECK (renewal_failures >= 0),
  ADD COLUMN renewal_last_error text,
  ADD COLUMN renewal_scheduled_at timestamptz;
COMMENT ON COLUMN certbus.certificates.request_id IS 'The certificate request that produced it (NULL for imported or discovered certificates).';
COMMENT ON COLUMN certbus.certificates.renewal_failures IS 'Consecutive failed automatic renewals; reset when a renewal succeeds. Each failure pushes renew_at forward (backoff).';
COMMENT ON COLUMN certbus.certificates.renewal_last_error IS 'Why the last renewal failed, NULL after a success.';
COMMENT ON COLUMN certbus.certificates.renewal_scheduled_at IS 'When the scheduler last enqueued an automatic renewal ("Auto renew scheduled").';
CREATE UNIQUE INDEX certificates_request ON certbus.certificates (request_id) WHERE request_id IS NOT NULL;
COMMENT ON INDEX certbus.certificates_request IS 'A request issues at most one certificate.';

CREATE VIEW certbus.certificate_lineage AS
  WITH RECURSIVE chain AS (
    SELECT c.id AS root_id, c.id, c.predecessor_id, 0 AS generation
      FROM certbus.certificates c WHERE c.predecessor_id IS NULL
    UNION ALL
    SELECT chain.root_id, c.id, c.predecessor_id, chain.generation + 1
      FROM certbus.certificates c JOIN chain ON c.predecessor_id = chain.id
  )
  SELECT chain.root_id, chain.generation, c.id AS certificate_id, c.predecessor_id,
         (SELECT s.id FROM certbus.certificates s WHERE s.predecessor_id = c.id ORDER BY s.created_at LIMIT 1) AS successor_id,
         c.common_name, c.serial_number, c.not_before, c.not_after, c.status
    FROM chain JOIN certbus.certificates c ON c.id = chain.id;
COMMENT ON VIEW certbus.certificate_lineage IS
  'Renewal lineage: every certificate with the first certificate of its line (root_id), its generation (0 = first), its predecessor and its successor. Filter by root_id to see a whole line.';
COMMENT ON COLUMN certbus.certificate_lineage.root_id IS 'The first certificate of the line.';
COMMENT ON COLUMN certbus.certificate_lineage.generation IS 'How many renewals separate it from root_id.';
COMMENT ON COLUMN certbus.certificate_lineage.certificate_id IS 'The certificate.';
COMMENT ON COLUMN certbus.certificate_lineage.predecessor_id IS 'The certificate it renewed.';
COMMENT ON COLUMN certbus.certificate_lineage.successor_id IS 'The certificate that renewed it, if any.';
COMMENT ON COLUMN certbus.certificate_lineage.common_name IS 'Subject common name.';
COMMENT ON COLUMN certbus.certificate_lineage.serial_number IS 'Serial number, hex.';
COMMENT ON COLUMN certbus.certificate_lineage.not_before IS 'Start of validity.';
COMMENT ON COLUMN certbus.certificate_lineage.not_after IS 'Expiry.';
COMMENT ON COLUMN certbus.certificate_lineage.status IS 'VALID, EXPIRING, EXPIRED or REVOKED.';
