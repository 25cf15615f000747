-- 033_profile_settings.sql — RA profile settings certificate issuance needs beyond 002.

ALTER TABLE certbus.ra_profiles
  ADD COLUMN certificate_type text NOT NULL DEFAULT 'TLS_SERVER'
    CHECK (certificate_type IN ('TLS_SERVER', 'TLS_SERVER_CLIENT', 'TLS_CLIENT')),
  ADD COLUMN approval_lifetime interval NOT NULL DEFAULT interval '7 days'
    CHECK (approval_lifetime > interval '0'),
  ADD COLUMN default_key_algorithm text NOT NULL DEFAULT 'EC-P256'
    CHECK (default_key_algorithm IN ('EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096', 'ED25519')),
  ADD CONSTRAINT ra_profiles_allowed_key_algorithms_check
    CHECK (allowed_key_algorithms <@ ARRAY['EC-P256', 'EC-P384', 'RSA', 'ED25519'] AND cardinality(allowed_key_algorithms) > 0),
  ADD CONSTRAINT ra_profiles_tls_server_validity_check
    CHECK (certificate_type = 'TLS_CLIENT' OR validity_days <= 398);
COMMENT ON COLUMN certbus.ra_profiles.certificate_type IS
  'TLS_SERVER (EKU serverAuth, CA/Browser Forum rules: SAN required, at most 398 days, limited revocation reasons), TLS_SERVER_CLIENT (serverAuth + clientAuth, same rules) or TLS_CLIENT (clientAuth).';
COMMENT ON COLUMN certbus.ra_profiles.approval_lifetime IS
  'How long an approval may stay PENDING before it expires (requires_approval profiles).';
COMMENT ON COLUMN certbus.ra_profiles.default_key_algorithm IS
  'Key type certbus generates when a request gives no CSR (server-generated key): EC-P256, EC-P384, RSA-2048/3072/4096, ED25519.';
