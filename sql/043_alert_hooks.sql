-- 043_alert_hooks.sql — alert entry points for other areas (agents, deployment validation).
-- Each pairs a raise with a clear, using a fixed cause key, so callers need not know the alerts table.

CREATE FUNCTION certbus.alert_agent_offline(p_agent_id text, p_last_seen timestamptz) RETURNS bigint
LANGUAGE sql AS $$
  SELECT certbus.raise_alert('WARN', 'WARN', 'Agent ' || p_agent_id || ' is offline',
    'No heartbeat from agent ' || p_agent_id || ' since '
      || coalesce(to_char(p_last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', 'it registered')
      || '. Certificates it installs will not be deployed until it reconnects.',
    'AGENT', p_agent_id, 'agent-offline:' || p_agent_id)
$$;
COMMENT ON FUNCTION certbus.alert_agent_offline(text, timestamptz) IS
  'Raises the WARN alert "agent offline" for an agent (cause key agent-offline:<id>) unless it is already open; '
  'returns the alert id. Called by the agent-liveness check; certbus.clear_agent_offline resolves it.';

CREATE FUNCTION certbus.clear_agent_offline(p_agent_id text) RETURNS integer
LANGUAGE sql AS $$
  SELECT certbus.resolve_alert('agent-offline:' || p_agent_id, 'agent reconnected')
$$;
COMMENT ON FUNCTION certbus.clear_agent_offline(text) IS
  'Resolves the open "agent offline" alert of an agent (call when it sends a heartbeat again); returns 0 or 1.';

CREATE FUNCTION certbus.alert_deployment_validation(p_endpoint_id text, p_severity text, p_message text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF p_severity NOT IN ('ERROR', 'WARN') THEN
    RAISE EXCEPTION 'deployment validation alert severity must be ERROR or WARN, got %', coalesce(p_severity, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN certbus.raise_alert(p_severity, p_severity, 'Deployment validation failed on endpoint ' || p_endpoint_id,
    coalesce(p_message, ''), 'ENDPOINT', p_endpoint_id, 'deployment:' || p_endpoint_id);
END
$$;
COMMENT ON FUNCTION certbus.alert_deployment_validation(text, text, text) IS
  'Raises an ERROR or WARN alert for a failed deployment validation of an endpoint (cause key deployment:<id>) '
  'unless one is open; returns its id. certbus.clear_deployment_validation resolves it when validation passes.';

CREATE FUNCTION certbus.clear_deployment_validation(p_endpoint_id text) RETURNS integer
LANGUAGE sql AS $$
  SELECT certbus.resolve_alert('deployment:' || p_endpoint_id, 'deployment validated')
$$;
COMMENT ON FUNCTION certbus.clear_deployment_validation(text) IS
  'Resolves the open deployment-validation alert of an endpoint; returns 0 or 1.';
