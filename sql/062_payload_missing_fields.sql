-- 062_payload_missing_fields.sql — a missing payload field never passes a type check.
--
-- certbus.json_value_has_type returned NULL, not false, for a missing field (jsonb_typeof(NULL) is
-- NULL), so validators written as `IF NOT certbus.json_value_has_type(...)` let payloads without
-- the field through: `certbus jobs enqueue ISSUE_CERT --payload '{"csr": "x"}'` (no profile) was
-- accepted and failed later in the worker. It now answers false for a missing value, whatever
-- the type asked for.

CREATE OR REPLACE FUNCTION certbus.json_value_has_type(p_value jsonb, p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(CASE p_type
    WHEN 'any'     THEN p_value IS NOT NULL AND jsonb_typeof(p_value) <> 'null'
    WHEN 'string'  THEN jsonb_typeof(p_value) = 'string' AND p_value #>> '{}' <> ''
    WHEN 'uuid'    THEN jsonb_typeof(p_value) = 'string'
                        AND p_value #>> '{}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    WHEN 'integer' THEN jsonb_typeof(p_value) = 'number' AND (p_value #>> '{}') ~ '^-?[0-9]+$'
    WHEN 'number'  THEN jsonb_typeof(p_value) = 'number'
    WHEN 'boolean' THEN jsonb_typeof(p_value) = 'boolean'
    WHEN 'object'  THEN jsonb_typeof(p_value) = 'object'
    WHEN 'array'   THEN jsonb_typeof(p_value) = 'array'
    ELSE false
  END, false)
$$;
COMMENT ON FUNCTION certbus.json_value_has_type(jsonb, text) IS
  'True when a JSON value has the named payload field type: any (not null), string (non-empty), uuid (a string in '
  'UUID form), integer, number, boolean, object, array. False (never NULL) for a missing value or an unknown type. '
  'Used to check job payloads against certbus.job_kinds and by the kinds'' validators.';
