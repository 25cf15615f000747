-- 095_blast_radius.sql — "what breaks if this key or this CA is compromised?"
--
-- Blast-radius questions select certificates by shared public key, by issuing CA (through every
-- intermediate below it), by subject-alternative-name pattern, by profile and by endpoint.
-- `certbus cert list --sharing-key-of ID --issued-by CA --san-matches PATTERN --profile P --endpoint E`
-- asks them from the command line; the views and functions below answer them in psql. Each is
-- served by an index (docs/operations.md, "Blast radius", has the figures over 1M certificates).
--
-- Requirement: the pg_trgm extension (PostgreSQL contrib; Debian's postgresql-15 package ships it)
-- serves name patterns with a leading or inner wildcard. pg_trgm is a trusted extension since
-- PostgreSQL 13, so the role running `certbus migrate` may create it when it has CREATE on the
-- database (the database owner has); otherwise a superuser runs `CREATE EXTENSION pg_trgm` first.
-- It is created in schema public when it is not installed yet; an existing installation is used
-- wherever it lives.

-- ---------------------------------------------------------------------------------------------
-- The public key of every certificate
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION certbus.certificate_public_key_sha256(p_pem text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  -- Walk: enter Certificate, enter tbsCertificate, skip [0] version if present, skip serialNumber,
  -- signature, issuer, validity and subject, then hash the whole subjectPublicKeyInfo element.
  v_steps constant text[] := ARRAY['enter', 'enter', 'optional', 'skip', 'skip', 'skip', 'skip', 'skip', 'take'];
  v_tags constant int[] := ARRAY[48, 48, 160, 2, 48, 48, 48, 48, 48];
  v_body text;
  v_at int;
  v_der bytea;
  v_size int;
  v_pos int := 0;
  v_step int := 1;
  v_tag int;
  v_first int;
  v_count int;
  v_length bigint;
  v_header int;
BEGIN
  -- The first PEM block (position/substr: a regular expression over the whole text costs more than the rest).
  v_at := position('-----BEGIN CERTIFICATE-----' IN p_pem);
  IF v_at = 0 THEN
    RETURN NULL;
  END IF;
  v_body := substr(p_pem, v_at + 27);
  v_at := position('-----END CERTIFICATE-----' IN v_body);
  IF v_at = 0 THEN
    RETURN NULL;
  END IF;
  BEGIN
    v_der := decode(translate(left(v_body, v_at - 1), E' \t\r\n', ''), 'base64');
  EXCEPTION WHEN invalid_parameter_value THEN
    RETURN NULL;  -- not base64
  END;
  v_size := length(v_der);
  WHILE v_step <= 9 LOOP
    IF v_pos + 2 > v_size THEN
      RETURN NULL;
    END IF;
    v_tag := get_byte(v_der, v_pos);
    v_first := get_byte(v_der, v_pos + 1);
    IF v_first < 128 THEN
      v_length := v_first;
      v_header := 2;
    ELSE
      v_count := v_first - 128;
      IF v_count < 1 OR v_count > 4 OR v_pos + 2 + v_count > v_size THEN
        RETURN NULL;
      END IF;
      v_length := 0;
      FOR i IN 0 .. v_count - 1 LOOP
        v_length := v_length * 256 + get_byte(v_der, v_pos + 2 + i);
      END LOOP;
      v_header := 2 + v_count;
    END IF;
    IF v_pos + v_header + v_length > v_size THEN
      RETURN NULL;
    END IF;
    IF v_steps[v_step] = 'optional' THEN
      IF v_tag = v_tags[v_step] THEN
        v_pos := v_pos + v_header + v_length::int;
      END IF;
      v_step := v_step + 1;
      CONTINUE;
    END IF;
    IF v_tag <> v_tags[v_step] THEN
      RETURN NULL;
    END IF;
    IF v_steps[v_step] = 'enter' THEN
      v_pos := v_pos + v_header;
    ELSIF v_steps[v_step] = 'skip' THEN
      v_pos := v_pos + v_header + v_length::int;
    ELSE
      RETURN encode(sha256(substring(v_der FROM v_pos + 1 FOR v_header + v_length::int)), 'hex');
    END IF;
    v_step := v_step + 1;
  END LOOP;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION certbus.certificate_public_key_sha256(text) IS
  'SHA-256 (lowercase hex) of the DER SubjectPublicKeyInfo of the first certificate in a PEM text: the identity of '
  'its public key, the same value as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`. '
  'NULL when the text holds no parseable certificate. Fills certificates.public_key_sha256.';

ALTER TABLE certbus.certificates
  ADD COLUMN public_key_sha256 text CHECK (public_key_sha256 ~ '^[0-9a-f]{64}$');
COMMENT ON COLUMN certbus.certificates.public_key_sha256 IS
  'SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: certificates with the same value share one key pair '
  '(a renewal without rekey, or one key reused for several certificates). Set on insert from certificate_pem '
  '(trigger certificates_public_key); NULL only when the PEM cannot be parsed. '
  'Example: SELECT * FROM certbus.certificates_sharing_key(''<certificate id>'').';

CREATE FUNCTION certbus.certificates_set_public_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.public_key_sha256 := coalesce(certbus.certificate_public_key_sha256(NEW.certificate_pem), NEW.public_key_sha256);
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION certbus.certificates_set_public_key() IS
  'Trigger function: sets public_key_sha256 of a new certificate from its PEM (every insert path: issuance, batch '
  'issuance, renewal, discovery, psql). A value given with a PEM that cannot be parsed is kept.';
CREATE TRIGGER certificates_public_key BEFORE INSERT ON certbus.certificates
  FOR EACH ROW EXECUTE FUNCTION certbus.certificates_set_public_key();

-- Backfill without touching updated_at (the backfill is not a change of the certificate).
ALTER TABLE certbus.certificates DISABLE TRIGGER certificates_touch;
UPDATE certbus.certificates SET public_key_sha256 = certbus.certificate_public_key_sha256(certificate_pem)
 WHERE public_key_sha256 IS NULL;
ALTER TABLE certbus.certificates ENABLE TRIGGER certificates_touch;

CREATE INDEX certificates_public_key ON certbus.certificates (public_key_sha256) WHERE public_key_sha256 IS NOT NULL;
COMMENT ON INDEX certbus.certificates_public_key IS 'Certificates sharing a public key (cert list --sharing-key-of).';

CREATE INDEX certificates_ca_created ON certbus.certificates (ca_id, created_at);
COMMENT ON INDEX certbus.certificates_ca_created IS 'Certificates of the CAs below a CA, newest first (cert list --issued-by).';
-- The newest certificates first (cert list) is served by certificates_created_at from 093.

CREATE VIEW certbus.certificates_by_key AS
SELECT c.public_key_sha256,
       count(*) AS certificates,
       count(*) FILTER (WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after > now()) AS valid_certificates,
       array_agg(c.id ORDER BY c.created_at, c.id) AS certificate_ids,
       min(c.not_before) AS first_not_before,
       max(c.not_after) AS last_not_after
  FROM certbus.certificates c
 WHERE c.public_key_sha256 IS NOT NULL
 GROUP BY c.public_key_sha256;
COMMENT ON VIEW certbus.certificates_by_key IS
  'One row per public key: how many certificates use it, how many of them are still valid, and which. Filter by key '
  '(indexed): SELECT * FROM certbus.certificates_by_key WHERE public_key_sha256 = (SELECT public_key_sha256 FROM '
  'certbus.certificates WHERE id = ''<id>''). Keys reused by several valid certificates (a full scan): '
  'SELECT * FROM certbus.certificates_by_key WHERE valid_certificates > 1.';
COMMENT ON COLUMN certbus.certificates_by_key.public_key_sha256 IS 'SHA-256 of the DER SubjectPublicKeyInfo.';
COMMENT ON COLUMN certbus.certificates_by_key.certificates IS 'Certificates with this key, any status.';
COMMENT ON COLUMN certbus.certificates_by_key.valid_certificates IS 'Of them, VALID or EXPIRING and not yet past not_after.';
COMMENT ON COLUMN certbus.certificates_by_key.certificate_ids IS 'Their ids, oldest first.';
COMMENT ON COLUMN certbus.certificates_by_key.first_not_before IS 'Start of validity of the oldest of them.';
COMMENT ON COLUMN certbus.certificates_by_key.last_not_after IS 'The latest expiry among them: until then the key is trusted somewhere.';

CREATE FUNCTION certbus.certificates_sharing_key(p_certificate uuid) RETURNS SETOF certbus.certificates
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM certbus.certificates c
   WHERE c.public_key_sha256 = (SELECT k.public_key_sha256 FROM certbus.certificates k WHERE k.id = p_certificate)
$$;
COMMENT ON FUNCTION certbus.certificates_sharing_key(uuid) IS
  'Every certificate whose public key is the key of p_certificate (itself included): what a compromise of that key '
  'exposes. Example: SELECT id, common_name, status, not_after FROM certbus.certificates_sharing_key(''<id>'').';

-- ---------------------------------------------------------------------------------------------
-- CAs and everything below them
-- ---------------------------------------------------------------------------------------------

CREATE VIEW certbus.certificate_authority_tree AS
WITH RECURSIVE tree AS (
  SELECT a.id AS ancestor_id, a.id AS ca_id, 0 AS depth, ARRAY[a.id] AS path
    FROM certbus.certificate_authorities a
  UNION ALL
  SELECT t.ancestor_id, child.id, t.depth + 1, t.path || child.id
    FROM tree t JOIN certbus.certificate_authorities child ON child.parent_id = t.ca_id
   WHERE NOT child.id = ANY (t.path)
)
SELECT t.ancestor_id, ancestor.name AS ancestor_name, t.ca_id, ca.name AS ca_name, t.depth
  FROM tree t
  JOIN certbus.certificate_authorities ancestor ON ancestor.id = t.ancestor_id
  JOIN certbus.certificate_authorities ca ON ca.id = t.ca_id;
COMMENT ON VIEW certbus.certificate_authority_tree IS
  'Every CA paired with itself and every CA below it (its intermediates, their intermediates, ...): the subtree a '
  'compromise of the ancestor exposes. Example: SELECT ca_name, depth FROM certbus.certificate_authority_tree WHERE '
  'ancestor_name = ''acme-corp-root''. Certificates issued anywhere below: certbus.certificates_issued_by(''acme-corp-root'').';
COMMENT ON COLUMN certbus.certificate_authority_tree.ancestor_id IS 'The CA at the top of the subtree.';
COMMENT ON COLUMN certbus.certificate_authority_tree.ancestor_name IS 'Its name.';
COMMENT ON COLUMN certbus.certificate_authority_tree.ca_id IS 'A CA in its subtree (the ancestor itself at depth 0).';
COMMENT ON COLUMN certbus.certificate_authority_tree.ca_name IS 'That CA''s name.';
COMMENT ON COLUMN certbus.certificate_authority_tree.depth IS 'Levels between them: 0 the ancestor itself, 1 an intermediate it signed, ...';

CREATE FUNCTION certbus.certificates_issued_by(p_ca text) RETURNS SETOF certbus.certificates
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM certbus.certificates c
   WHERE c.ca_id IN (SELECT t.ca_id FROM certbus.certificate_authority_tree t
                      WHERE t.ancestor_name = p_ca OR t.ancestor_id::text = lower(p_ca))
$$;
COMMENT ON FUNCTION certbus.certificates_issued_by(text) IS
  'Every certificate issued by the CA named (or with the id) p_ca or by any CA below it, through every intermediate. '
  'Example: SELECT count(*) FROM certbus.certificates_issued_by(''acme-corp-root'') WHERE status IN (''VALID'', ''EXPIRING'').';

-- ---------------------------------------------------------------------------------------------
-- Names
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE
  v_schema text;
BEGIN
  SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF v_schema IS NULL THEN
    CREATE EXTENSION pg_trgm SCHEMA public;
  END IF;
END
$$;

CREATE FUNCTION certbus.certificate_names_text(p_common_name text, p_names text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ' ' || lower(array_to_string(coalesce(p_names, ARRAY[]::text[]) || p_common_name, ' ')) || ' '
$$;
COMMENT ON FUNCTION certbus.certificate_names_text(text, text[]) IS
  'The names of a certificate (subject alternative names and common name), lower case, each between spaces: '
  '" www.example.com example.com ". The trigram index certificates_names_trigram is built on it, so name patterns '
  'with wildcards anywhere are indexed.';

CREATE FUNCTION certbus.certificate_name_like(p_pattern text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT replace(replace(replace(replace(lower(rtrim(p_pattern, '.')), '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
$$;
COMMENT ON FUNCTION certbus.certificate_name_like(text) IS
  'A name pattern as a LIKE pattern: lower case, trailing dot dropped, * any run of characters (dots included), '
  'everything else literal. *.example.com matches www.example.com, a.b.example.com and the wildcard name *.example.com.';

CREATE FUNCTION certbus.certificate_names_match(p_common_name text, p_names text[], p_pattern text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM unnest(coalesce(p_names, ARRAY[]::text[]) || p_common_name) AS n(name)
                  WHERE lower(rtrim(n.name, '.')) LIKE certbus.certificate_name_like(p_pattern))
$$;
COMMENT ON FUNCTION certbus.certificate_names_match(text, text[], text) IS
  'True when one of the names (subject alternative names and common name) matches the pattern as a whole '
  '(certbus.certificate_name_like). Not indexed by itself: combine it with the indexed prefilter, as '
  'certbus.certificates_matching_name does.';

DO $$
DECLARE
  v_schema text;
BEGIN
  SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  EXECUTE format(
    'CREATE INDEX certificates_names_trigram ON certbus.certificates USING gin '
    '(certbus.certificate_names_text(common_name, subject_alternative_names) %I.gin_trgm_ops)', v_schema);
END
$$;
COMMENT ON INDEX certbus.certificates_names_trigram IS
  'Trigram index on the certificate''s names (certbus.certificate_names_text): serves name patterns with a wildcard '
  'anywhere (cert list --san-matches, certbus.certificates_matching_name).';

CREATE FUNCTION certbus.certificates_matching_name(p_pattern text) RETURNS SETOF certbus.certificates
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM certbus.certificates c
   WHERE certbus.certificate_names_text(c.common_name, c.subject_alternative_names)
           LIKE '% ' || certbus.certificate_name_like(p_pattern) || ' %'
     AND certbus.certificate_names_match(c.common_name, c.subject_alternative_names, p_pattern)
$$;
COMMENT ON FUNCTION certbus.certificates_matching_name(text) IS
  'Every certificate with a name (subject alternative name or common name) matching the pattern, case-insensitive: '
  '* stands for any run of characters, everything else is literal. Indexed (trigram). Examples: '
  'SELECT id, subject_alternative_names FROM certbus.certificates_matching_name(''*.example.com''); '
  'certbus.certificates_matching_name(''www.example.com'') (exactly that name; not the wildcard certificates covering it).';

-- ---------------------------------------------------------------------------------------------
-- Endpoints
-- ---------------------------------------------------------------------------------------------

CREATE VIEW certbus.endpoint_certificates AS
SELECT e.id AS endpoint_id, e.name AS endpoint_name, e.kind AS endpoint_kind, e.expected_certificate_id AS certificate_id,
       'EXPECTED'::text AS relation, NULL::timestamptz AS seen_at
  FROM certbus.endpoints e
 WHERE e.expected_certificate_id IS NOT NULL
UNION ALL
SELECT e.id, e.name, e.kind, c.id, 'SERVED'::text, v.checked_at
  FROM certbus.endpoints e
 CROSS JOIN LATERAL (SELECT dv.served_fingerprint, dv.checked_at FROM certbus.deployment_validations dv
                      WHERE dv.endpoint_id = e.id AND dv.served_fingerprint IS NOT NULL
                      ORDER BY dv.id DESC LIMIT 1) v
  JOIN certbus.certificates c ON c.fingerprint_sha256 = v.served_fingerprint;
COMMENT ON VIEW certbus.endpoint_certificates IS
  'Certificates deployed on endpoints: the one each endpoint is expected to serve (EXPECTED: what certbus installed '
  'or was told) and the one its latest deployment validation saw served (SERVED), when certbus knows it. Example: '
  'SELECT DISTINCT certificate_id FROM certbus.endpoint_certificates WHERE endpoint_name = ''web-1''.';
COMMENT ON COLUMN certbus.endpoint_certificates.endpoint_id IS 'The endpoint.';
COMMENT ON COLUMN certbus.endpoint_certificates.endpoint_name IS 'Its name.';
COMMENT ON COLUMN certbus.endpoint_certificates.endpoint_kind IS 'AGENT, SENSOR or ADMIN_WEB_REQUEST.';
COMMENT ON COLUMN certbus.endpoint_certificates.certificate_id IS 'The certificate deployed there.';
COMMENT ON COLUMN certbus.endpoint_certificates.relation IS 'EXPECTED (endpoints.expected_certificate_id) or SERVED (seen by the latest validation).';
COMMENT ON COLUMN certbus.endpoint_certificates.seen_at IS 'For SERVED: when the validation saw it; NULL for EXPECTED.';

CREATE FUNCTION certbus.certificates_on_endpoint(p_endpoint text) RETURNS SETOF certbus.certificates
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM certbus.certificates c
   WHERE c.id IN (SELECT ec.certificate_id FROM certbus.endpoint_certificates ec
                   WHERE ec.endpoint_name = p_endpoint
                      OR ec.endpoint_id = CASE WHEN p_endpoint ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                               THEN p_endpoint::uuid END)
$$;
COMMENT ON FUNCTION certbus.certificates_on_endpoint(text) IS
  'The certificates deployed on the endpoint named (or with the id) p_endpoint: expected there or served at its '
  'latest validation. Example: SELECT id, common_name, not_after FROM certbus.certificates_on_endpoint(''web-1'').';
