-- 046_emit_events_batch.sql — many events of one type in one statement.
--
-- certbus.emit_event inserts one event per call: a statement per event, and the statement trigger
-- events_notify sends one NOTIFY per event (its payload, the new id, differs every time, so nothing
-- coalesces). Bulk issuance emits one CERTIFICATE_ACTION_PERFORMED per certificate; pg_stat_statements
-- on `certbus bench issue` showed 103 µs of statement time per certificate in those inserts.
-- emit_events does the same checks once for the type, fills profile_id and group_id per event the same
-- way (from the payload, else from the certificate the event is about), and inserts every event with one
-- statement: one NOTIFY for the lot. The checks of the type and resource move into
-- certbus.check_event_type, which emit_event (re-created here, otherwise unchanged) uses too.

-- The checks of an event type and its resource, shared by emit_event and emit_events.
CREATE FUNCTION certbus.check_event_type(p_event_type text, p_resource text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_resource text;
BEGIN
  SELECT t.resource INTO v_resource FROM certbus.event_types t WHERE t.event_type = p_event_type;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown event type %', coalesce(quote_literal(p_event_type), 'NULL')
      USING ERRCODE = '22023', HINT = 'The event types are listed in certbus.event_types.';
  END IF;
  IF p_resource IS DISTINCT FROM v_resource THEN
    RAISE EXCEPTION '% events are about resource %, not %', p_event_type, v_resource, coalesce(p_resource, 'NULL')
      USING ERRCODE = '22023';
  END IF;
END
$$;
COMMENT ON FUNCTION certbus.check_event_type(text, text) IS
  'Raises 22023 unless p_event_type is a known event type (certbus.event_types) about resource p_resource. '
  'Used by certbus.emit_event and certbus.emit_events.';

CREATE OR REPLACE FUNCTION certbus.emit_event(p_event_type text, p_resource text, p_resource_id text, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_profile uuid;
  v_group   uuid;
  v_id      bigint;
BEGIN
  PERFORM certbus.check_event_type(p_event_type, p_resource);
  IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
    RAISE EXCEPTION 'event payload must be a JSON object, got %', coalesce(jsonb_typeof(p_payload), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF p_payload ? 'profile_id' AND jsonb_typeof(p_payload -> 'profile_id') = 'string' THEN
    v_profile := (p_payload ->> 'profile_id')::uuid;
  END IF;
  IF p_payload ? 'group_id' AND jsonb_typeof(p_payload -> 'group_id') = 'string' THEN
    v_group := (p_payload ->> 'group_id')::uuid;
  END IF;
  IF p_resource = 'CERTIFICATE' AND (v_profile IS NULL OR v_group IS NULL)
     AND p_resource_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT coalesce(v_profile, c.profile_id), coalesce(v_group, c.group_id) INTO v_profile, v_group
      FROM certbus.certificates c WHERE c.id = p_resource_id::uuid;
  END IF;
  INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
  VALUES (p_event_type, p_resource, p_resource_id, p_payload, v_profile, v_group)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

CREATE FUNCTION certbus.emit_events(p_event_type text, p_resource text, p_resource_ids text[], p_payloads jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_bad text;
BEGIN
  PERFORM certbus.check_event_type(p_event_type, p_resource);
  IF coalesce(cardinality(p_resource_ids), 0) <> coalesce(cardinality(p_payloads), 0) THEN
    RAISE EXCEPTION 'emit_events needs as many payloads as resource ids (% and %)',
      coalesce(cardinality(p_resource_ids), 0), coalesce(cardinality(p_payloads), 0) USING ERRCODE = '22023';
  END IF;
  SELECT coalesce(jsonb_typeof(p), 'NULL') INTO v_bad FROM unnest(p_payloads) AS p
   WHERE p IS NULL OR jsonb_typeof(p) <> 'object' LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'event payload must be a JSON object, got %', v_bad USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH x AS (
    SELECT u.resource_id, u.payload, u.n,
           CASE WHEN u.payload ? 'profile_id' AND jsonb_typeof(u.payload -> 'profile_id') = 'string'
                THEN (u.payload ->> 'profile_id')::uuid END AS profile_id,
           CASE WHEN u.payload ? 'group_id' AND jsonb_typeof(u.payload -> 'group_id') = 'string'
                THEN (u.payload ->> 'group_id')::uuid END AS group_id
      FROM unnest(p_resource_ids, p_payloads) WITH ORDINALITY AS u(resource_id, payload, n)
  ), e AS (
    -- The certificate to read a missing profile or group from (CASE: never cast an id that is not a uuid).
    SELECT x.*, CASE WHEN p_resource = 'CERTIFICATE' AND (x.profile_id IS NULL OR x.group_id IS NULL)
                          AND x.resource_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     THEN x.resource_id::uuid END AS certificate_id
      FROM x
  )
  INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
  SELECT p_event_type, p_resource, e.resource_id, e.payload, coalesce(e.profile_id, c.profile_id), coalesce(e.group_id, c.group_id)
    FROM e LEFT JOIN certbus.certificates c ON c.id = e.certificate_id
   ORDER BY e.n
  RETURNING id;
END
$$;
COMMENT ON FUNCTION certbus.emit_events(text, text, text[], jsonb[]) IS
  'Records many events of one type in the caller''s transaction with one INSERT, in array order, and returns their '
  'ids: element i is certbus.emit_event(p_event_type, p_resource, p_resource_ids[i], p_payloads[i]), with the same '
  'checks (22023) and the same profile_id / group_id (from the payload, else from the certificate). One NOTIFY '
  'certbus_events for all of them.';
