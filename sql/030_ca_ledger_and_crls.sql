-- 030_ca_ledger_and_crls.sql — what a certificate authority itself remembers: the certificates
-- it signed (keyed by the request's idempotency key, so a repeated request never signs twice),
-- their revocations, and the CRLs it published.

-- CA kinds are decided by the connector registry in the code (one connector file per kind);
-- the table only checks the spelling, so a new kind does not need a migration.
ALTER TABLE certbus.certificate_authorities DROP CONSTRAINT IF EXISTS certificate_authorities_kind_check;
ALTER TABLE certbus.certificate_authorities
  ADD CONSTRAINT certificate_authorities_kind_check CHECK (kind ~ '^[A-Z][A-Z0-9_]{1,31}$');
COMMENT ON COLUMN certbus.certificate_authorities.kind IS
  'Which connector talks to this CA: BUILT_IN (certbus signs itself) or ACME (RFC 8555). Spelled in capitals; the connector registry refuses kinds it does not know.';

ALTER TABLE certbus.certificate_authorities
  ADD COLUMN certificate_not_after timestamptz,
  ADD COLUMN certificate_fingerprint_sha256 text CHECK (certificate_fingerprint_sha256 ~ '^[0-9a-f]{64}$');
COMMENT ON COLUMN certbus.certificate_authorities.certificate_not_after IS
  'Expiry of the CA''s own certificate (built-in CAs), for the near-expiry warning of CA_REFRESH.';
COMMENT ON COLUMN certbus.certificate_authorities.certificate_fingerprint_sha256 IS
  'SHA-256 of the CA certificate''s DER, lowercase hex.';

CREATE TABLE certbus.ca_issued_certificates (
  ca_id               uuid NOT NULL REFERENCES certbus.certificate_authorities (id),
  serial_number       text NOT NULL CHECK (serial_number ~ '^[0-9a-f]+$'),
  idempotency_key     text NOT NULL,
  fingerprint_sha256  text NOT NULL CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
  certificate_pem     text NOT NULL,
  not_after           timestamptz NOT NULL,
  issued_at           timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz,
  revocation_reason   text,
  PRIMARY KEY (ca_id, serial_number),
  UNIQUE (ca_id, idempotency_key),
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
);
COMMENT ON TABLE certbus.ca_issued_certificates IS
  'The built-in CAs'' own ledger: every certificate a built-in CA signed, keyed by the request''s idempotency key (a retried request gets the same certificate back instead of a second one), and its revocation. CRLs are generated from it.';
COMMENT ON COLUMN certbus.ca_issued_certificates.ca_id IS 'The built-in CA that signed.';
COMMENT ON COLUMN certbus.ca_issued_certificates.serial_number IS 'Serial number, lowercase hex (128 random bits).';
COMMENT ON COLUMN certbus.ca_issued_certificates.idempotency_key IS 'The certificate request''s idempotency key; at most one certificate per key and CA.';
COMMENT ON COLUMN certbus.ca_issued_certificates.fingerprint_sha256 IS 'SHA-256 of the certificate DER, lowercase hex.';
COMMENT ON COLUMN certbus.ca_issued_certificates.certificate_pem IS 'The signed certificate, PEM.';
COMMENT ON COLUMN certbus.ca_issued_certificates.not_after IS 'Expiry; expired entries drop off later CRLs.';
COMMENT ON COLUMN certbus.ca_issued_certificates.issued_at IS 'When the CA signed it.';
COMMENT ON COLUMN certbus.ca_issued_certificates.revoked_at IS 'When the CA revoked it; NULL while not revoked.';
COMMENT ON COLUMN certbus.ca_issued_certificates.revocation_reason IS 'RFC 5280 reason name given at revocation.';
CREATE INDEX ca_issued_certificates_revoked ON certbus.ca_issued_certificates (ca_id, not_after)
  WHERE revoked_at IS NOT NULL;
COMMENT ON INDEX certbus.ca_issued_certificates_revoked IS 'Serves CRL generation: the revoked, unexpired entries of a CA.';

CREATE TABLE certbus.ca_crls (
  ca_id         uuid NOT NULL REFERENCES certbus.certificate_authorities (id),
  crl_number    bigint NOT NULL CHECK (crl_number >= 1),
  this_update   timestamptz NOT NULL,
  next_update   timestamptz NOT NULL,
  entry_count   integer NOT NULL CHECK (entry_count >= 0),
  crl_pem       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ca_id, crl_number),
  CHECK (next_update > this_update)
);
COMMENT ON TABLE certbus.ca_crls IS
  'Every CRL a built-in CA published, numbered per CA (cRLNumber increases by one each time). The newest row of a CA is its current CRL; see certbus.current_crls.';
COMMENT ON COLUMN certbus.ca_crls.ca_id IS 'The CA that signed the CRL.';
COMMENT ON COLUMN certbus.ca_crls.crl_number IS 'The cRLNumber extension value: 1, 2, 3 ... per CA.';
COMMENT ON COLUMN certbus.ca_crls.this_update IS 'thisUpdate of the CRL.';
COMMENT ON COLUMN certbus.ca_crls.next_update IS 'nextUpdate: a new CRL is published before this time (CA_REFRESH).';
COMMENT ON COLUMN certbus.ca_crls.entry_count IS 'How many revoked certificates the CRL lists.';
COMMENT ON COLUMN certbus.ca_crls.crl_pem IS 'The signed CRL, PEM ("BEGIN X509 CRL").';
COMMENT ON COLUMN certbus.ca_crls.created_at IS 'When certbus generated it.';

CREATE VIEW certbus.current_crls AS
  SELECT DISTINCT ON (r.ca_id) r.ca_id, a.name AS ca_name, r.crl_number, r.this_update, r.next_update,
         r.entry_count, r.next_update <= now() AS is_stale, r.crl_pem
    FROM certbus.ca_crls r JOIN certbus.certificate_authorities a ON a.id = r.ca_id
   ORDER BY r.ca_id, r.crl_number DESC;
COMMENT ON VIEW certbus.current_crls IS 'The newest CRL of each built-in CA, and whether its nextUpdate has passed.';
COMMENT ON COLUMN certbus.current_crls.ca_id IS 'The CA.';
COMMENT ON COLUMN certbus.current_crls.ca_name IS 'The CA''s name.';
COMMENT ON COLUMN certbus.current_crls.crl_number IS 'cRLNumber of the current CRL.';
COMMENT ON COLUMN certbus.current_crls.this_update IS 'thisUpdate of the current CRL.';
COMMENT ON COLUMN certbus.current_crls.next_update IS 'nextUpdate of the current CRL.';
COMMENT ON COLUMN certbus.current_crls.entry_count IS 'Revoked certificates listed.';
COMMENT ON COLUMN certbus.current_crls.is_stale IS 'True when nextUpdate has passed (CA_REFRESH is overdue).';
COMMENT ON COLUMN certbus.current_crls.crl_pem IS 'The CRL, PEM.';
