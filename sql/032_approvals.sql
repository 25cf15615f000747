-- 032_approvals.sql — approvals of certificate requests for profiles that require them.

CREATE TABLE certbus.approvals (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id         uuid NOT NULL REFERENCES certbus.certificate_requests (id),
  status             text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'DENIED', 'EXPIRED')),
  binding_sha256     text NOT NULL CHECK (binding_sha256 ~ '^[0-9a-f]{64}$'),
  summary            text NOT NULL,
  requested_by_type  text NOT NULL CHECK (requested_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  requested_by_id    text NOT NULL,
  decided_by_type    text CHECK (decided_by_type IN ('SYSTEM', 'USER', 'AGENT')),
  decided_by_id      text,
  decided_at         timestamptz,
  comment            text,
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'PENDING') = (decided_at IS NULL)),
  CHECK (expires_at > created_at)
);
COMMENT ON TABLE certbus.approvals IS
  'Approvals of certificate requests whose RA profile requires one. Bound to the SHA-256 of the exact request (CSR and parameters): approving releases only that request. PENDING until approved, denied or expired.';
COMMENT ON COLUMN certbus.approvals.id IS 'Approval id, used by `certbus approval approve|deny`.';
COMMENT ON COLUMN certbus.approvals.request_id IS 'The certificate request waiting for this approval.';
COMMENT ON COLUMN certbus.approvals.status IS 'PENDING, APPROVED, DENIED or EXPIRED.';
COMMENT ON COLUMN certbus.approvals.binding_sha256 IS 'SHA-256 of the request''s canonical parameters when approval was requested; must equal the request''s when it is issued.';
COMMENT ON COLUMN certbus.approvals.summary IS 'What is being approved, for people: profile, names, key.';
COMMENT ON COLUMN certbus.approvals.requested_by_type IS 'Who asked for the certificate: SYSTEM, USER or AGENT.';
COMMENT ON COLUMN certbus.approvals.requested_by_id IS 'Their id.';
COMMENT ON COLUMN certbus.approvals.decided_by_type IS 'Who decided (or SYSTEM for expiry).';
COMMENT ON COLUMN certbus.approvals.decided_by_id IS 'Their id.';
COMMENT ON COLUMN certbus.approvals.decided_at IS 'When it was decided; NULL exactly while PENDING.';
COMMENT ON COLUMN certbus.approvals.comment IS 'The approver''s comment or reason.';
COMMENT ON COLUMN certbus.approvals.expires_at IS 'A PENDING approval becomes EXPIRED after this time.';
COMMENT ON COLUMN certbus.approvals.created_at IS 'When approval was requested.';
CREATE UNIQUE INDEX approvals_one_open_per_request ON certbus.approvals (request_id) WHERE status IN ('PENDING', 'APPROVED');
COMMENT ON INDEX certbus.approvals_one_open_per_request IS 'A request has at most one pending or approved approval.';
CREATE INDEX approvals_pending ON certbus.approvals (expires_at) WHERE status = 'PENDING';
COMMENT ON INDEX certbus.approvals_pending IS 'Serves `approval list` and the expiry of pending approvals.';
