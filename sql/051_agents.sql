-- 051_agents.sql — audit vocabulary of the endpoint area; agent liveness (heartbeats, offline sweep).
--
-- Least privilege for agents (docs/endpoints-and-agents.md): an agent process logs in as its own role,
-- a member of certbus_agent, recorded in certbus.agents.login_role. certbus_agent has no privilege on
-- any table: it only EXECUTEs the SECURITY DEFINER functions certbus.agent_* (this file and 054), each
-- of which first checks with certbus.agent_may_act that the caller is that agent's role (or a trusted
-- certbus_service member), and then touches only that agent's rows.

INSERT INTO certbus.audit_actions (action, description) VALUES
  ('ENDPOINT_ADDED',   'An endpoint was added to the inventory.'),
  ('AGENT_REGISTERED', 'An agent was registered (by an operator, or by its first heartbeat).'),
  ('AGENT_OFFLINE',    'An agent sent no heartbeat past the threshold and was marked offline.'),
  ('AGENT_ONLINE',     'An agent marked offline sent a heartbeat again.')
ON CONFLICT (action) DO NOTHING;

CREATE FUNCTION certbus.agent_may_act(p_agent_id uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, certbus AS $$
  SELECT EXISTS (SELECT 1 FROM certbus.agents WHERE id = p_agent_id AND login_role = session_user::text)
      OR pg_has_role(session_user, 'certbus_service', 'MEMBER')
$$;
COMMENT ON FUNCTION certbus.agent_may_act(uuid) IS
  'True when the session''s login role may act for the agent: it is the agent''s login_role, or a member of '
  'certbus_service (a trusted local agent or service; superusers count as members).';

CREATE FUNCTION certbus.agent_require(p_agent_id uuid) RETURNS certbus.agents
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, certbus AS $$
DECLARE
  a certbus.agents;
BEGIN
  SELECT * INTO a FROM certbus.agents WHERE id = p_agent_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no agent with id %', coalesce(p_agent_id::text, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  IF NOT certbus.agent_may_act(p_agent_id) THEN
    RAISE EXCEPTION 'role % may not act for agent % (%)', session_user, a.name, a.id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Each agent connects as its own role, recorded in certbus.agents.login_role.';
  END IF;
  RETURN a;
END
$$;
COMMENT ON FUNCTION certbus.agent_require(uuid) IS
  'Returns the agent row, or raises no_data_found (unknown agent) or insufficient_privilege (the session may not '
  'act for it). The first call of every certbus.agent_* function.';

CREATE FUNCTION certbus.agent_heartbeat(p_agent_id uuid, p_hostname text, p_version text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
DECLARE
  a certbus.agents;
BEGIN
  a := certbus.agent_require(p_agent_id);
  UPDATE certbus.agents
     SET last_seen_at = now(), status = 'ONLINE',
         hostname = left(coalesce(p_hostname, ''), 253), version = left(coalesce(p_version, ''), 64)
   WHERE id = p_agent_id;
  IF a.status = 'OFFLINE' THEN
    PERFORM certbus.resolve_alerts('agent-offline:' || p_agent_id::text, 'agent heartbeated again');
    PERFORM certbus.write_audit('AGENT_ONLINE', 'Agent', p_agent_id::text, 'AGENT', p_agent_id::text,
                                jsonb_build_object('name', a.name, 'offline_since', a.last_seen_at));
  END IF;
  RETURN a.status;
END
$$;
COMMENT ON FUNCTION certbus.agent_heartbeat(uuid, text, text) IS
  'Called by an agent every few seconds: records last_seen_at, host name and version and marks it ONLINE. When it '
  'was OFFLINE, resolves its ''agent offline'' alert (cause agent-offline:<id>) and writes AGENT_ONLINE. Returns the '
  'previous status. Only the agent''s own role (or certbus_service) may call it for that agent.';
REVOKE EXECUTE ON FUNCTION certbus.agent_heartbeat(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION certbus.agent_heartbeat(uuid, text, text) TO certbus_agent;

CREATE FUNCTION certbus.agent_endpoints(p_agent_id uuid)
RETURNS TABLE (id uuid, name text, kind text, host text, port integer, server_name text,
               automation_status text, expected_certificate_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
BEGIN
  PERFORM certbus.agent_require(p_agent_id);
  RETURN QUERY
    SELECT e.id, e.name, e.kind, e.host, e.port, e.server_name, e.automation_status, e.expected_certificate_id
      FROM certbus.endpoints e WHERE e.agent_id = p_agent_id ORDER BY e.name;
END
$$;
COMMENT ON FUNCTION certbus.agent_endpoints(uuid) IS
  'The endpoints bound to the agent (what an agent may see of the inventory). Agent role or certbus_service only.';
REVOKE EXECUTE ON FUNCTION certbus.agent_endpoints(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION certbus.agent_endpoints(uuid) TO certbus_agent;

CREATE FUNCTION certbus.agent_change_endpoint_status(
  p_agent_id uuid, p_endpoint_id uuid, p_to text, p_message text DEFAULT '', p_job_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, certbus AS $$
BEGIN
  PERFORM certbus.agent_require(p_agent_id);
  IF NOT EXISTS (SELECT 1 FROM certbus.endpoints WHERE id = p_endpoint_id AND agent_id = p_agent_id) THEN
    RAISE EXCEPTION 'endpoint % is not an endpoint of agent %', p_endpoint_id, p_agent_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN certbus.change_endpoint_status(p_endpoint_id, p_to, 'AGENT', p_agent_id::text, p_message, p_job_id);
END
$$;
COMMENT ON FUNCTION certbus.agent_change_endpoint_status(uuid, uuid, text, text, bigint) IS
  'An agent moves one of its own endpoints to another automation status (same rules and history as '
  'certbus.change_endpoint_status, actor AGENT:<id>). Other endpoints: insufficient_privilege.';
REVOKE EXECUTE ON FUNCTION certbus.agent_change_endpoint_status(uuid, uuid, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION certbus.agent_change_endpoint_status(uuid, uuid, text, text, bigint) TO certbus_agent;

CREATE FUNCTION certbus.mark_silent_agents_offline(p_threshold interval DEFAULT '5 minutes')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  a certbus.agents;
  v_count integer := 0;
BEGIN
  FOR a IN
    SELECT * FROM certbus.agents
     WHERE status = 'ONLINE' AND last_seen_at < now() - p_threshold
     ORDER BY last_seen_at
       FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE certbus.agents SET status = 'OFFLINE' WHERE id = a.id;
    PERFORM certbus.raise_alert(
      'WARN', 'WARN', format('Agent %s is offline', a.name),
      format('No heartbeat from agent %s (host %s, version %s) since %s; its endpoints get no installations until it is back.',
             a.name, nullif(a.hostname, ''), nullif(a.version, ''), to_char(a.last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
      'AGENT', a.id::text, 'agent-offline:' || a.id::text);
    PERFORM certbus.write_audit('AGENT_OFFLINE', 'Agent', a.id::text, 'SYSTEM', 'scheduler',
                                jsonb_build_object('name', a.name, 'last_seen_at', a.last_seen_at,
                                                   'threshold', p_threshold::text));
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION certbus.mark_silent_agents_offline(interval) IS
  'Marks ONLINE agents without a heartbeat for p_threshold as OFFLINE, raising one WARN ''agent offline'' alert each '
  '(cause agent-offline:<id>, resolved by its next heartbeat) and writing AGENT_OFFLINE. Agents never seen are left '
  'alone. Returns how many. Run by the agent-offline periodic task.';
