-- 002_authorities_profiles_certificates.sql — CAs, RA profiles, groups, certificates.

CREATE TABLE certbus.certificate_authorities (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                   text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  kind                   text NOT NULL CHECK (kind IN ('BUILT_IN', 'ACME')),
  status                 text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DISABLED')),
  parent_id              uuid REFERENCES certbus.certificate_authorities (id),
  certificate_pem        text,
  chain_pem              text,
  encrypted_private_key  bytea,
  configuration          jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_refreshed_at      timestamptz,
  last_error             text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.certificate_authorities IS
  'Certificate authorities certbus issues through: BUILT_IN (its own OpenSSL CA, root or intermediate) or ACME (RFC 8555).';
COMMENT ON COLUMN certbus.certificate_authorities.id IS 'CA id, referenced by profiles, certificates and jobs.';
COMMENT ON COLUMN certbus.certificate_authorities.name IS 'Short unique name used on the command line (letters, digits, . _ -).';
COMMENT ON COLUMN certbus.certificate_authorities.kind IS 'BUILT_IN or ACME: which connector talks to this CA.';
COMMENT ON COLUMN certbus.certificate_authorities.status IS 'ACTIVE (accepts requests) or DISABLED (refuses new issuance; existing certificates stay valid).';
COMMENT ON COLUMN certbus.certificate_authorities.parent_id IS 'For a built-in intermediate CA: the CA that signed it.';
COMMENT ON COLUMN certbus.certificate_authorities.certificate_pem IS 'The CA''s own certificate (built-in), PEM.';
COMMENT ON COLUMN certbus.certificate_authorities.chain_pem IS 'Certificates above this CA up to the root, PEM, for building issued chains.';
COMMENT ON COLUMN certbus.certificate_authorities.encrypted_private_key IS 'Built-in CA private key sealed with AES-256-GCM under the key-encryption key (CERTBUS_KEK_FILE). Never the plain key.';
COMMENT ON COLUMN certbus.certificate_authorities.configuration IS 'Connector settings: ACME directory URL and contact, CRL and AIA URLs, validity limits.';
COMMENT ON COLUMN certbus.certificate_authorities.last_refreshed_at IS 'When the last CA_REFRESH job finished for this CA.';
COMMENT ON COLUMN certbus.certificate_authorities.last_error IS 'The last refresh or connection error, NULL when healthy.';
COMMENT ON COLUMN certbus.certificate_authorities.created_at IS 'When the CA was added to certbus.';
COMMENT ON COLUMN certbus.certificate_authorities.updated_at IS 'When the row last changed.';
CREATE TRIGGER certificate_authorities_touch BEFORE UPDATE ON certbus.certificate_authorities
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE TABLE certbus.certificate_groups (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL UNIQUE,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.certificate_groups IS
  'Groups of certificates (a team, an application). Event triggers defined on a group override profile and platform triggers.';
COMMENT ON COLUMN certbus.certificate_groups.id IS 'Group id.';
COMMENT ON COLUMN certbus.certificate_groups.name IS 'Unique group name.';
COMMENT ON COLUMN certbus.certificate_groups.description IS 'Free text for people.';
COMMENT ON COLUMN certbus.certificate_groups.created_at IS 'When the group was created.';

CREATE TABLE certbus.ra_profiles (
  id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                     text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  ca_id                    uuid NOT NULL REFERENCES certbus.certificate_authorities (id),
  validity_days            integer NOT NULL DEFAULT 90 CHECK (validity_days BETWEEN 1 AND 3650),
  allowed_key_algorithms   text[] NOT NULL DEFAULT ARRAY['EC-P256', 'EC-P384', 'RSA', 'ED25519'],
  minimum_rsa_bits         integer NOT NULL DEFAULT 2048 CHECK (minimum_rsa_bits >= 2048),
  allowed_domains          text[] NOT NULL DEFAULT ARRAY[]::text[],
  requires_approval        boolean NOT NULL DEFAULT false,
  auto_renew               boolean NOT NULL DEFAULT true,
  renew_before             interval,
  expiry_alert_days        integer[] NOT NULL DEFAULT ARRAY[30, 14, 7, 1],
  enabled                  boolean NOT NULL DEFAULT true,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE certbus.ra_profiles IS
  'Registration-authority profiles: the policy a certificate request is checked against (CA, validity, keys, domains, approval, renewal, alert thresholds).';
COMMENT ON COLUMN certbus.ra_profiles.id IS 'Profile id.';
COMMENT ON COLUMN certbus.ra_profiles.name IS 'Unique profile name used on the command line.';
COMMENT ON COLUMN certbus.ra_profiles.ca_id IS 'The CA that issues certificates of this profile.';
COMMENT ON COLUMN certbus.ra_profiles.validity_days IS 'Lifetime of issued certificates in days (TLS server certificates: at most 398).';
COMMENT ON COLUMN certbus.ra_profiles.allowed_key_algorithms IS 'Key algorithms accepted in requests: EC-P256, EC-P384, RSA, ED25519.';
COMMENT ON COLUMN certbus.ra_profiles.minimum_rsa_bits IS 'Smallest RSA modulus accepted (never below 2048).';
COMMENT ON COLUMN certbus.ra_profiles.allowed_domains IS 'Domain patterns names must match: example.com (exactly), *.example.com (any subdomain). Empty: any name.';
COMMENT ON COLUMN certbus.ra_profiles.requires_approval IS 'When true, requests wait for an approval before issuance.';
COMMENT ON COLUMN certbus.ra_profiles.auto_renew IS 'When true, the scheduler enqueues RENEW_CERT when a certificate reaches its renew_at time.';
COMMENT ON COLUMN certbus.ra_profiles.renew_before IS 'Renew this long before expiry; NULL means two thirds into the lifetime.';
COMMENT ON COLUMN certbus.ra_profiles.expiry_alert_days IS 'Expiry alert ladder in days before expiry; each crossing raises one EXPIRING_SOON alert.';
COMMENT ON COLUMN certbus.ra_profiles.enabled IS 'Disabled profiles refuse new requests.';
COMMENT ON COLUMN certbus.ra_profiles.created_at IS 'When the profile was created.';
COMMENT ON COLUMN certbus.ra_profiles.updated_at IS 'When the row last changed.';
CREATE TRIGGER ra_profiles_touch BEFORE UPDATE ON certbus.ra_profiles
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE TABLE certbus.certificates (
  id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  ca_id                    uuid REFERENCES certbus.certificate_authorities (id),
  profile_id               uuid REFERENCES certbus.ra_profiles (id),
  group_id                 uuid REFERENCES certbus.certificate_groups (id),
  serial_number            text NOT NULL,
  fingerprint_sha256       text NOT NULL UNIQUE CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
  common_name              text,
  subject                  text NOT NULL,
  issuer                   text NOT NULL,
  subject_alternative_names text[] NOT NULL DEFAULT ARRAY[]::text[],
  key_algorithm            text NOT NULL,
  key_size                 integer,
  not_before               timestamptz NOT NULL,
  not_after                timestamptz NOT NULL,
  status                   text NOT NULL DEFAULT 'VALID' CHECK (status IN ('VALID', 'EXPIRING', 'EXPIRED', 'REVOKED')),
  revoked_at               timestamptz,
  revocation_reason        text,
  certificate_pem          text NOT NULL,
  chain_pem                text NOT NULL DEFAULT '',
  encrypted_private_key    bytea,
  private_key_exported_at  timestamptz,
  predecessor_id           uuid REFERENCES certbus.certificates (id),
  renew_at                 timestamptz,
  source                   text NOT NULL DEFAULT 'ISSUED' CHECK (source IN ('ISSUED', 'DISCOVERED', 'IMPORTED')),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  CHECK (not_after > not_before),
  CHECK ((status = 'REVOKED') = (revoked_at IS NOT NULL))
);
COMMENT ON TABLE certbus.certificates IS
  'Every X.509 certificate certbus knows: issued through its CAs, imported, or discovered. One row per certificate (renewals are new rows linked by predecessor_id).';
COMMENT ON COLUMN certbus.certificates.id IS 'Certificate id.';
COMMENT ON COLUMN certbus.certificates.ca_id IS 'The CA that issued it (NULL for discovered certificates of unknown CAs).';
COMMENT ON COLUMN certbus.certificates.profile_id IS 'The RA profile it was requested under: decides renewal and alert thresholds.';
COMMENT ON COLUMN certbus.certificates.group_id IS 'Optional group; its event triggers override the profile''s.';
COMMENT ON COLUMN certbus.certificates.serial_number IS 'Serial number, lowercase hex.';
COMMENT ON COLUMN certbus.certificates.fingerprint_sha256 IS 'SHA-256 of the DER encoding, lowercase hex: the certificate''s identity.';
COMMENT ON COLUMN certbus.certificates.common_name IS 'Subject common name, if any.';
COMMENT ON COLUMN certbus.certificates.subject IS 'Subject distinguished name (RFC 2253 style).';
COMMENT ON COLUMN certbus.certificates.issuer IS 'Issuer distinguished name.';
COMMENT ON COLUMN certbus.certificates.subject_alternative_names IS 'DNS names and IP addresses from the SAN extension.';
COMMENT ON COLUMN certbus.certificates.key_algorithm IS 'Public key algorithm: EC-P256, EC-P384, RSA, ED25519.';
COMMENT ON COLUMN certbus.certificates.key_size IS 'Key size in bits.';
COMMENT ON COLUMN certbus.certificates.not_before IS 'Start of validity.';
COMMENT ON COLUMN certbus.certificates.not_after IS 'End of validity (expiry).';
COMMENT ON COLUMN certbus.certificates.status IS 'Validation status: VALID, EXPIRING (inside the profile''s first alert threshold), EXPIRED, REVOKED.';
COMMENT ON COLUMN certbus.certificates.revoked_at IS 'When it was revoked; set exactly when status is REVOKED.';
COMMENT ON COLUMN certbus.certificates.revocation_reason IS 'RFC 5280 reason name given at revocation, e.g. keyCompromise.';
COMMENT ON COLUMN certbus.certificates.certificate_pem IS 'The certificate, PEM.';
COMMENT ON COLUMN certbus.certificates.chain_pem IS 'Intermediate and root certificates above it, PEM.';
COMMENT ON COLUMN certbus.certificates.encrypted_private_key IS 'Server-generated private key sealed with AES-256-GCM; NULL when the requester kept its key.';
COMMENT ON COLUMN certbus.certificates.private_key_exported_at IS 'When an admin exported the server-generated key (allowed once).';
COMMENT ON COLUMN certbus.certificates.predecessor_id IS 'The certificate this one renewed or replaced (lineage).';
COMMENT ON COLUMN certbus.certificates.renew_at IS 'When automatic renewal is due: two thirds into the lifetime or the profile''s renew_before, plus a stable per-certificate jitter.';
COMMENT ON COLUMN certbus.certificates.source IS 'ISSUED by certbus, IMPORTED by an operator, or DISCOVERED on an endpoint.';
COMMENT ON COLUMN certbus.certificates.created_at IS 'When certbus recorded it.';
COMMENT ON COLUMN certbus.certificates.updated_at IS 'When the row last changed.';
CREATE TRIGGER certificates_touch BEFORE UPDATE ON certbus.certificates
  FOR EACH ROW EXECUTE FUNCTION certbus.touch_updated_at();

CREATE UNIQUE INDEX certificates_ca_serial ON certbus.certificates (ca_id, serial_number);
COMMENT ON INDEX certbus.certificates_ca_serial IS 'A CA never issues two certificates with the same serial.';
CREATE INDEX certificates_not_after ON certbus.certificates (not_after) WHERE status <> 'REVOKED';
COMMENT ON INDEX certbus.certificates_not_after IS 'Serves expiry scans (certificates expiring within N days).';
CREATE INDEX certificates_renew_at ON certbus.certificates (renew_at) WHERE status IN ('VALID', 'EXPIRING');
COMMENT ON INDEX certbus.certificates_renew_at IS 'Serves the renewal scheduler (certificates whose renew_at has passed).';
CREATE INDEX certificates_predecessor ON certbus.certificates (predecessor_id) WHERE predecessor_id IS NOT NULL;
COMMENT ON INDEX certbus.certificates_predecessor IS 'Finds the successor of a certificate (has it been replaced?).';
CREATE INDEX certificates_profile ON certbus.certificates (profile_id);
COMMENT ON INDEX certbus.certificates_profile IS 'Certificates of a profile.';
