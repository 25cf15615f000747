-- 097_incident_advance.sql — what moves incident items on.
--
-- certbus.incident_start runs in the transaction that opens (or re-runs) an incident: it queues the
-- rekeying renewals and the agent installs. certbus.advance_incidents runs every few seconds in the
-- leader-elected periodic task incident-advance (and may be called from psql): each call looks at
-- the committed state of jobs, certificates and deployment validations and moves items one step,
-- writing an audit row per step, in one transaction. Rows are claimed FOR UPDATE SKIP LOCKED, and
-- every job is queued under a unique key, so two callers at once do not repeat work and a crash
-- loses only an uncommitted step, which the next call takes again.

CREATE FUNCTION certbus.incident_enqueue_renewal(
  p_incident bigint, p_certificate uuid, p_priority integer, p_run_at timestamptz, p_actor_type text, p_actor_id text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := 'renew:' || p_certificate::text;
  v_name text;
  v_ca uuid;
  v_id bigint;
BEGIN
  SELECT 'Incident ' || p_incident || ': rekey ' || coalesce(c.common_name, c.id::text), c.ca_id INTO v_name, v_ca
    FROM certbus.certificates c WHERE c.id = p_certificate;
  FOR attempt IN 1 .. 3 LOOP
    v_id := certbus.enqueue_job_if_absent('RENEW_CERT', jsonb_build_object('certificate_id', p_certificate, 'rekey', true),
              v_name, p_priority, p_run_at, v_key, NULL, 'default', p_actor_type, p_actor_id, v_ca, p_certificate);
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
    -- A renewal is already queued (by the renewal scheduler, an operator or another incident): make it a rekey with
    -- the incident's urgency instead of queueing a second one.
    UPDATE certbus.jobs
       SET payload = payload || '{"rekey": true}'::jsonb, priority = least(priority, p_priority),
           run_at = least(run_at, p_run_at), name = v_name
     WHERE kind = 'RENEW_CERT' AND unique_key = v_key AND status = 'QUEUED'
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
    -- One is running: take it (if it keeps the old key, certbus.advance_incidents rekeys its successor).
    SELECT id INTO v_id FROM certbus.jobs WHERE kind = 'RENEW_CERT' AND unique_key = v_key AND status = 'RUNNING';
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'cannot queue the renewal of certificate %: its renewal job keeps changing state', p_certificate
    USING ERRCODE = 'serialization_failure';
END
$$;
COMMENT ON FUNCTION certbus.incident_enqueue_renewal(bigint, uuid, integer, timestamptz, text, text) IS
  'Queues the rekeying renewal of a certificate for an incident (RENEW_CERT {certificate_id, rekey: true}, unique key '
  'renew:<id>, the renewal scheduler''s), or turns the renewal already queued into one (rekey, the lower priority and '
  'the earlier run_at), or returns the one already running. Returns the job id.';

CREATE FUNCTION certbus.incident_start(p_incident bigint, p_actor_type text, p_actor_id text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_started integer := 0;
  v_job bigint;
  r record;
BEGIN
  -- Rekeying renewals of the items that renew (new ones, and failed ones a re-run reset).
  WITH queued AS (
    UPDATE certbus.incident_items i
       SET renewal_job_id = certbus.incident_enqueue_renewal(i.incident_id, i.renewing_certificate_id, i.priority, i.run_at,
                                                             p_actor_type, p_actor_id)
     WHERE i.incident_id = p_incident AND i.plan = 'RENEW' AND i.state = 'RENEWING' AND i.renewal_job_id IS NULL
    RETURNING i.incident_id, i.certificate_id, i.renewing_certificate_id, i.renewal_job_id, i.priority, i.run_at
  )
  SELECT v_started + count(certbus.write_audit('INCIDENT_RENEWAL_QUEUED', 'Certificate', q.certificate_id::text, p_actor_type,
                                               p_actor_id, jsonb_build_object('incident_id', q.incident_id,
                                                 'renewing_certificate_id', q.renewing_certificate_id, 'job_id', q.renewal_job_id,
                                                 'priority', q.priority, 'run_at', certbus.json_time(q.run_at))))
    INTO v_started FROM queued q;

  -- Agent endpoints: the agent generates a new key, gets a certificate for the same names and installs it.
  FOR r IN
    SELECT d.endpoint_id, d.certificate_id, e.name AS endpoint_name, p.name AS profile_name, c.subject_alternative_names,
           c.key_algorithm, c.key_size, i.priority, i.run_at
      FROM certbus.incident_deployments d
      JOIN certbus.incident_items i ON i.incident_id = d.incident_id AND i.certificate_id = d.certificate_id
      JOIN certbus.endpoints e ON e.id = d.endpoint_id
      JOIN certbus.certificates c ON c.id = d.certificate_id
      LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
     WHERE d.incident_id = p_incident AND d.method = 'AGENT_INSTALL' AND d.state = 'WAITING'
       AND i.state IN ('RENEWING', 'DEPLOYING')
     ORDER BY i.position, e.name
  LOOP
    BEGIN
      IF r.profile_name IS NULL THEN
        RAISE EXCEPTION 'certificate % has no RA profile to request its replacement under', r.certificate_id
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      v_job := certbus.request_install(r.endpoint_id, NULL, r.profile_name,
                 CASE r.key_algorithm WHEN 'RSA' THEN 'RSA-' || coalesce(r.key_size, 2048) ELSE r.key_algorithm END,
                 r.subject_alternative_names, p_actor_type, p_actor_id);
      UPDATE certbus.jobs SET priority = r.priority, run_at = greatest(r.run_at, now()), name = 'Incident ' || p_incident
             || ': install a new key and certificate on ' || r.endpoint_name
       WHERE id = v_job AND status = 'QUEUED';
      UPDATE certbus.incident_deployments SET state = 'INSTALLING', job_id = v_job, error = NULL, updated_at = now()
       WHERE incident_id = p_incident AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
      PERFORM certbus.write_audit('INCIDENT_DEPLOYMENT_REQUESTED', 'Endpoint', r.endpoint_id::text, p_actor_type, p_actor_id,
                jsonb_build_object('incident_id', p_incident, 'certificate_id', r.certificate_id, 'method', 'AGENT_INSTALL',
                                   'job_id', v_job, 'profile', r.profile_name));
    EXCEPTION WHEN OTHERS THEN
      UPDATE certbus.incident_deployments SET state = 'FAILED', error = 'cannot request the install on ' || r.endpoint_name
             || ': ' || SQLERRM, updated_at = now()
       WHERE incident_id = p_incident AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
    END;
    v_started := v_started + 1;
  END LOOP;
  RETURN v_started;
END
$$;
COMMENT ON FUNCTION certbus.incident_start(bigint, text, text) IS
  'Starts the work of an incident''s new or reset items, in the transaction that opens or re-runs it: queues the '
  'rekeying renewals (certbus.incident_enqueue_renewal, with each item''s priority and run_at; audit '
  'INCIDENT_RENEWAL_QUEUED) and asks the agents of agent endpoints to install a certificate for a new key '
  '(certbus.request_install; audit INCIDENT_DEPLOYMENT_REQUESTED; a refusal marks that deployment FAILED). Returns how '
  'many it started.';

CREATE FUNCTION certbus.settle_incidents(p_incidents bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_finished integer := 0;
  r record;
BEGIN
  FOR r IN
    SELECT n.id, n.state AS old_state, n.selector_text, t.certificates, t.done, t.pending, t.failed,
           CASE WHEN t.pending > 0 THEN 'ACTIVE' WHEN t.failed > 0 THEN 'FAILED' ELSE 'COMPLETED' END AS new_state
      FROM certbus.incidents n
     CROSS JOIN LATERAL (
       SELECT count(*) AS certificates, count(*) FILTER (WHERE i.state = 'DONE') AS done,
              count(*) FILTER (WHERE i.state IN ('RENEWING', 'DEPLOYING', 'REVOKING')) AS pending,
              count(*) FILTER (WHERE i.state = 'FAILED') AS failed
         FROM certbus.incident_items i WHERE i.incident_id = n.id) t
     WHERE n.id = ANY (p_incidents)
     ORDER BY n.id
       FOR UPDATE OF n
  LOOP
    CONTINUE WHEN r.new_state = r.old_state;
    UPDATE certbus.incidents SET state = r.new_state, finished_at = CASE WHEN r.new_state = 'ACTIVE' THEN NULL ELSE now() END
     WHERE id = r.id;
    CONTINUE WHEN r.new_state = 'ACTIVE';
    PERFORM certbus.write_audit('INCIDENT_FINISHED', 'Incident', r.id::text, 'SYSTEM', 'incident-advance',
              jsonb_build_object('outcome', CASE WHEN r.failed = 0 THEN 'SUCCESS' ELSE 'FAILURE' END,
                                 'certificates', r.certificates, 'done', r.done, 'failed', r.failed));
    PERFORM certbus.emit_event('INCIDENT_FINISHED', 'INCIDENT', r.id::text,
              jsonb_build_object('incident_id', r.id, 'selector', r.selector_text,
                                 'outcome', CASE WHEN r.failed = 0 THEN 'SUCCESS' ELSE 'FAILURE' END,
                                 'certificates', r.certificates, 'done', r.done, 'failed', r.failed));
    IF r.failed > 0 THEN
      PERFORM certbus.raise_alert('ERROR', 'ERROR', 'Incident ' || r.id || ': ' || r.failed || ' of ' || r.certificates
                || ' certificates not replaced',
                'Incident ' || r.id || ' (' || r.selector_text || ') finished with ' || r.failed || ' failed certificate(s). '
                || 'See certbus incident status ' || r.id || ' --state failed; run the same certbus incident renew again to retry them.',
                'INCIDENT', r.id::text, 'incident:' || r.id);
    ELSE
      PERFORM certbus.resolve_alert('incident:' || r.id, 'every certificate replaced');
    END IF;
    v_finished := v_finished + 1;
  END LOOP;

  RETURN v_finished;
END
$$;
COMMENT ON FUNCTION certbus.settle_incidents(bigint[]) IS
  'Sets the state of the given incidents from their items: ACTIVE while one is renewing, deploying or revoking, else '
  'COMPLETED (none failed) or FAILED. Each change to COMPLETED or FAILED is audited (INCIDENT_FINISHED), emits the '
  'INCIDENT_FINISHED event and raises the ERROR alert incident:<id> (FAILED) or resolves it (COMPLETED). Returns how '
  'many finished.';

CREATE FUNCTION certbus.advance_incidents(p_limit integer DEFAULT 1000) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c_actor constant text := 'incident-advance';
  v_touched bigint[] := ARRAY[]::bigint[];
  v_ids bigint[];
  v_count integer;
  v_renewed integer := 0;
  v_rekeyed integer := 0;
  v_failed integer := 0;
  v_requested integer := 0;
  v_validated integer := 0;
  v_installed integer := 0;
  v_deploy_failed integer := 0;
  v_revoking integer := 0;
  v_done integer := 0;
  v_revoked integer := 0;
  v_finished integer := 0;
  v_job bigint;
  v_expected uuid;
  r record;
BEGIN
  -- 1. Renewals that produced a successor with a new key: the item moves to DEPLOYING.
  WITH pick AS (
    SELECT i.incident_id, i.certificate_id, s.id AS successor
      FROM certbus.incident_items i
      JOIN certbus.certificates old ON old.id = i.renewing_certificate_id
     CROSS JOIN LATERAL (SELECT s.id, s.public_key_sha256 FROM certbus.certificates s
                          WHERE s.predecessor_id = i.renewing_certificate_id ORDER BY s.created_at, s.id LIMIT 1) s
     WHERE i.state = 'RENEWING' AND i.plan = 'RENEW'
       AND (s.public_key_sha256 IS NULL OR s.public_key_sha256 IS DISTINCT FROM old.public_key_sha256)
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  ), moved AS (
    UPDATE certbus.incident_items i SET state = 'DEPLOYING', successor_id = pick.successor, state_since = now()
      FROM pick WHERE i.incident_id = pick.incident_id AND i.certificate_id = pick.certificate_id
    RETURNING i.incident_id, i.certificate_id, i.successor_id, i.renewal_job_id
  )
  SELECT count(certbus.write_audit('INCIDENT_CERTIFICATE_RENEWED', 'Certificate', m.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', m.incident_id, 'successor_id', m.successor_id, 'job_id', m.renewal_job_id))),
         array_agg(DISTINCT m.incident_id)
    INTO v_renewed, v_ids FROM moved m;
  v_touched := v_touched || coalesce(v_ids, ARRAY[]::bigint[]);

  -- 1b. A renewal that was already running when the incident began kept the old key: rekey its successor in turn.
  FOR r IN
    SELECT i.incident_id, i.certificate_id, s.id AS successor, i.priority
      FROM certbus.incident_items i
      JOIN certbus.certificates old ON old.id = i.renewing_certificate_id
     CROSS JOIN LATERAL (SELECT s.id, s.public_key_sha256 FROM certbus.certificates s
                          WHERE s.predecessor_id = i.renewing_certificate_id ORDER BY s.created_at, s.id LIMIT 1) s
     WHERE i.state = 'RENEWING' AND i.plan = 'RENEW' AND s.public_key_sha256 = old.public_key_sha256
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  LOOP
    v_job := certbus.incident_enqueue_renewal(r.incident_id, r.successor, r.priority, now(), 'SYSTEM', c_actor);
    UPDATE certbus.incident_items SET renewing_certificate_id = r.successor, renewal_job_id = v_job
     WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id;
    PERFORM certbus.write_audit('INCIDENT_RENEWAL_QUEUED', 'Certificate', r.certificate_id::text, 'SYSTEM', c_actor,
              jsonb_build_object('incident_id', r.incident_id, 'renewing_certificate_id', r.successor, 'job_id', v_job,
                                 'note', 'a renewal already running kept the old key; rekeying its successor'));
    v_rekeyed := v_rekeyed + 1;
    v_touched := v_touched || r.incident_id;
  END LOOP;

  -- 1c. Renewals that ended without a successor: the job failed, was cancelled or is gone, or its request was refused.
  WITH pick AS (
    SELECT i.incident_id, i.certificate_id,
           CASE WHEN j.id IS NULL THEN 'renewal job ' || i.renewal_job_id || ' is gone and no successor was issued'
                WHEN j.status IN ('FAILED', 'CANCELLED') THEN 'renewal job ' || j.id || ' ended ' || j.status || ': ' || coalesce(j.error, '')
                WHEN req.id IS NULL THEN 'renewal job ' || j.id || ' succeeded without issuing a successor'
                ELSE 'renewal request ' || req.id || ' ended ' || req.status || ': ' || coalesce(req.error, '') END AS why
      FROM certbus.incident_items i
      LEFT JOIN certbus.jobs j ON j.id = i.renewal_job_id
      LEFT JOIN LATERAL (SELECT rq.id, rq.status, rq.error FROM certbus.certificate_requests rq
                          WHERE rq.predecessor_id = i.renewing_certificate_id
                            AND (rq.job_id = i.renewal_job_id OR rq.created_at >= i.started_at)
                          ORDER BY rq.created_at DESC LIMIT 1) req ON true
     WHERE i.state = 'RENEWING' AND i.plan = 'RENEW' AND i.renewal_job_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM certbus.certificates s WHERE s.predecessor_id = i.renewing_certificate_id)
       AND (j.id IS NULL OR j.status IN ('FAILED', 'CANCELLED')
            OR (j.status = 'SUCCESS' AND (req.id IS NULL OR req.status IN ('FAILED', 'DENIED', 'EXPIRED'))))
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  ), moved AS (
    UPDATE certbus.incident_items i SET state = 'FAILED', failed_step = 'RENEWAL', error = pick.why, finished_at = now(),
           state_since = now()
      FROM pick WHERE i.incident_id = pick.incident_id AND i.certificate_id = pick.certificate_id
    RETURNING i.incident_id, i.certificate_id, i.error, i.renewal_job_id
  )
  SELECT count(certbus.write_audit('INCIDENT_CERTIFICATE_FAILED', 'Certificate', m.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', m.incident_id, 'step', 'RENEWAL', 'error', m.error, 'job_id', m.renewal_job_id))),
         array_agg(DISTINCT m.incident_id)
    INTO v_count, v_ids FROM moved m;
  v_failed := v_failed + v_count;
  v_touched := v_touched || coalesce(v_ids, ARRAY[]::bigint[]);

  -- 1d. Certificates renewed before the incident by another certificate of it take that one's replacement (or fail with it).
  WITH pick AS (
    SELECT i.incident_id, i.certificate_id, other.successor_id, other.state AS other_state, other.failed_step,
           other.error AS other_error, other.certificate_id AS other_id
      FROM certbus.incident_items i
      JOIN certbus.incident_items other ON other.incident_id = i.incident_id AND other.certificate_id = i.awaits_certificate_id
     WHERE i.state = 'RENEWING' AND i.plan = 'AWAIT_RENEWAL'
       AND (other.successor_id IS NOT NULL OR (other.state = 'FAILED' AND other.failed_step = 'RENEWAL'))
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  ), moved AS (
    UPDATE certbus.incident_items i
       SET state = CASE WHEN pick.successor_id IS NOT NULL THEN 'DEPLOYING' ELSE 'FAILED' END,
           failed_step = CASE WHEN pick.successor_id IS NOT NULL THEN NULL ELSE 'RENEWAL' END,
           finished_at = CASE WHEN pick.successor_id IS NOT NULL THEN NULL ELSE now() END,
           successor_id = pick.successor_id, state_since = now(),
           error = CASE WHEN pick.successor_id IS NULL
                        THEN 'the renewal of ' || pick.other_id || ', which replaced it, failed: ' || coalesce(pick.other_error, '') END
      FROM pick WHERE i.incident_id = pick.incident_id AND i.certificate_id = pick.certificate_id
    RETURNING i.incident_id, i.certificate_id, i.state, i.successor_id, i.error
  )
  SELECT count(certbus.write_audit(CASE WHEN m.state = 'FAILED' THEN 'INCIDENT_CERTIFICATE_FAILED' ELSE 'INCIDENT_CERTIFICATE_RENEWED' END,
                'Certificate', m.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_strip_nulls(jsonb_build_object('incident_id', m.incident_id, 'successor_id', m.successor_id,
                                  'step', CASE WHEN m.state = 'FAILED' THEN 'RENEWAL' END, 'error', m.error)))),
         array_agg(DISTINCT m.incident_id)
    INTO v_count, v_ids FROM moved m;
  v_renewed := v_renewed + v_count;
  v_touched := v_touched || coalesce(v_ids, ARRAY[]::bigint[]);

  -- 2. Sensor and admin-web-request endpoints: the successor becomes the expected certificate and is validated.
  FOR r IN
    SELECT d.incident_id, d.certificate_id, d.endpoint_id, i.successor_id
      FROM certbus.incident_deployments d
      JOIN certbus.incident_items i ON i.incident_id = d.incident_id AND i.certificate_id = d.certificate_id
     WHERE d.state = 'WAITING' AND d.method = 'VALIDATE' AND i.state = 'DEPLOYING' AND i.successor_id IS NOT NULL
     ORDER BY d.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF d SKIP LOCKED
  LOOP
    SELECT expected_certificate_id INTO v_expected FROM certbus.endpoints WHERE id = r.endpoint_id FOR UPDATE;
    IF v_expected IS DISTINCT FROM r.certificate_id AND v_expected IS DISTINCT FROM r.successor_id THEN
      UPDATE certbus.incident_deployments
         SET state = 'RELEASED', updated_at = now(),
             error = 'the endpoint now expects ' || coalesce(v_expected::text, 'no certificate') || ' (changed by someone else); left alone'
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
    ELSE
      UPDATE certbus.endpoints SET expected_certificate_id = r.successor_id WHERE id = r.endpoint_id;
      v_job := certbus.enqueue_deployment_validation(r.endpoint_id, 'SYSTEM', c_actor);
      UPDATE certbus.incident_deployments
         SET state = 'VALIDATING', job_id = v_job, new_certificate_id = r.successor_id, error = NULL, updated_at = now()
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
      PERFORM certbus.write_audit('INCIDENT_DEPLOYMENT_REQUESTED', 'Endpoint', r.endpoint_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', r.incident_id, 'certificate_id', r.certificate_id, 'method', 'VALIDATE',
                                   'expected_certificate_id', r.successor_id, 'job_id', v_job));
    END IF;
    v_requested := v_requested + 1;
    v_touched := v_touched || r.incident_id;
  END LOOP;

  -- 3. Agent installs that ended: SUCCESS goes on to the validation the agent queued; anything else failed.
  FOR r IN
    SELECT d.incident_id, d.certificate_id, d.endpoint_id, d.job_id, j.status, j.error, j.output
      FROM certbus.incident_deployments d
      LEFT JOIN certbus.jobs j ON j.id = d.job_id
     WHERE d.state = 'INSTALLING' AND (j.id IS NULL OR j.status IN ('SUCCESS', 'FAILED', 'CANCELLED'))
     ORDER BY d.incident_id LIMIT p_limit
       FOR UPDATE OF d SKIP LOCKED
  LOOP
    IF r.status = 'SUCCESS' AND (r.output ->> 'certificate_id') IS NOT NULL THEN
      UPDATE certbus.incident_deployments
         SET state = 'VALIDATING', new_certificate_id = (r.output ->> 'certificate_id')::uuid,
             job_id = (r.output ->> 'validation_job_id')::bigint, updated_at = now()
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
    ELSE
      UPDATE certbus.incident_deployments
         SET state = 'FAILED', updated_at = now(),
             error = CASE WHEN r.status IS NULL THEN 'install job ' || r.job_id || ' is gone'
                          ELSE 'install job ' || r.job_id || ' ended ' || r.status || ': ' || coalesce(r.error, '') END
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
      v_deploy_failed := v_deploy_failed + 1;
    END IF;
    v_installed := v_installed + 1;
    v_touched := v_touched || r.incident_id;
  END LOOP;

  -- 4. Validations: the newest validation of the endpoint that expected the new certificate decides. Failed rows are
  --    looked at again, so a validation that passes later (after installing by hand) resumes the item. Only rows
  --    that change are picked, so a backlog of failed ones never holds up the others.
  FOR r IN
    SELECT d.incident_id, d.certificate_id, d.endpoint_id, d.state, d.new_certificate_id, v.outcome, v.problems, v.error
      FROM certbus.incident_deployments d
      JOIN certbus.certificates nc ON nc.id = d.new_certificate_id
      LEFT JOIN certbus.jobs j ON j.id = d.job_id
      LEFT JOIN LATERAL (SELECT dv.outcome, dv.problems, dv.error FROM certbus.deployment_validations dv
                          WHERE dv.endpoint_id = d.endpoint_id AND dv.expected_fingerprint = nc.fingerprint_sha256
                          ORDER BY dv.id DESC LIMIT 1) v ON true
     WHERE (d.state = 'VALIDATING' AND (v.outcome = 'VALIDATED' OR j.id IS NULL OR j.status NOT IN ('QUEUED', 'RUNNING')))
        OR (d.state = 'FAILED' AND v.outcome = 'VALIDATED')
     ORDER BY d.incident_id LIMIT p_limit
       FOR UPDATE OF d SKIP LOCKED
  LOOP
    IF r.outcome = 'VALIDATED' THEN
      UPDATE certbus.incident_deployments SET state = 'VALIDATED', error = NULL, updated_at = now()
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
      PERFORM certbus.write_audit('INCIDENT_DEPLOYMENT_VALIDATED', 'Endpoint', r.endpoint_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', r.incident_id, 'certificate_id', r.certificate_id,
                                   'new_certificate_id', r.new_certificate_id));
      v_validated := v_validated + 1;
    ELSIF r.outcome IS NOT NULL THEN
      UPDATE certbus.incident_deployments
         SET state = 'FAILED', updated_at = now(),
             error = 'validation ' || lower(r.outcome) || ': ' || coalesce(r.error,
                       (SELECT string_agg(p ->> 'message', '; ') FROM jsonb_array_elements(r.problems) p), '')
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
      v_deploy_failed := v_deploy_failed + 1;
    ELSE
      -- The validation job ran before the endpoint expected the new certificate (or is gone): validate again.
      v_job := certbus.enqueue_deployment_validation(r.endpoint_id, 'SYSTEM', c_actor);
      UPDATE certbus.incident_deployments SET job_id = v_job, updated_at = now()
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id AND endpoint_id = r.endpoint_id;
    END IF;
    v_touched := v_touched || r.incident_id;
  END LOOP;

  -- 5. Items whose deployments all ended: failed ones fail the item; otherwise revoke the old certificate or finish.
  WITH pick AS (
    SELECT i.incident_id, i.certificate_id,
           (SELECT e.name || ': ' || coalesce(d.error, 'failed') FROM certbus.incident_deployments d
              JOIN certbus.endpoints e ON e.id = d.endpoint_id
             WHERE d.incident_id = i.incident_id AND d.certificate_id = i.certificate_id AND d.state = 'FAILED'
             ORDER BY e.name LIMIT 1) AS failure
      FROM certbus.incident_items i
     WHERE i.state = 'DEPLOYING'
       AND NOT EXISTS (SELECT 1 FROM certbus.incident_deployments d
                        WHERE d.incident_id = i.incident_id AND d.certificate_id = i.certificate_id
                          AND d.state IN ('WAITING', 'INSTALLING', 'VALIDATING'))
       AND EXISTS (SELECT 1 FROM certbus.incident_deployments d
                    WHERE d.incident_id = i.incident_id AND d.certificate_id = i.certificate_id AND d.state = 'FAILED')
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  ), moved AS (
    UPDATE certbus.incident_items i SET state = 'FAILED', failed_step = 'DEPLOYMENT', error = pick.failure,
           finished_at = now(), state_since = now()
      FROM pick WHERE i.incident_id = pick.incident_id AND i.certificate_id = pick.certificate_id
    RETURNING i.incident_id, i.certificate_id, i.error
  )
  SELECT count(certbus.write_audit('INCIDENT_CERTIFICATE_FAILED', 'Certificate', m.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', m.incident_id, 'step', 'DEPLOYMENT', 'error', m.error))),
         array_agg(DISTINCT m.incident_id)
    INTO v_count, v_ids FROM moved m;
  v_failed := v_failed + v_count;
  v_touched := v_touched || coalesce(v_ids, ARRAY[]::bigint[]);

  FOR r IN
    SELECT i.incident_id, i.certificate_id, i.priority, n.revoke_old, n.revocation_reason, c.status, c.ca_id,
           coalesce(c.common_name, c.id::text) AS name,
           coalesce(i.successor_id, (SELECT d.new_certificate_id FROM certbus.incident_deployments d
                                      WHERE d.incident_id = i.incident_id AND d.certificate_id = i.certificate_id
                                        AND d.new_certificate_id IS NOT NULL ORDER BY d.endpoint_id LIMIT 1)) AS successor
      FROM certbus.incident_items i
      JOIN certbus.incidents n ON n.id = i.incident_id
      JOIN certbus.certificates c ON c.id = i.certificate_id
     WHERE (i.state = 'DEPLOYING' OR (i.state = 'FAILED' AND i.failed_step = 'DEPLOYMENT'))
       AND NOT EXISTS (SELECT 1 FROM certbus.incident_deployments d
                        WHERE d.incident_id = i.incident_id AND d.certificate_id = i.certificate_id
                          AND d.state NOT IN ('VALIDATED', 'RELEASED'))
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  LOOP
    -- The old certificate is no longer renewed automatically (its key is exposed); the successor is.
    UPDATE certbus.certificates SET renew_at = NULL WHERE id = r.certificate_id AND renew_at IS NOT NULL;
    IF r.revoke_old AND r.status <> 'REVOKED' THEN
      -- Ten priority steps after the item's renewal band: while renewals wait, replacing comes before revoking.
      v_job := certbus.enqueue_job_if_absent('REVOKE_CERT',
                 jsonb_build_object('certificate_id', r.certificate_id, 'reason', r.revocation_reason),
                 'Incident ' || r.incident_id || ': revoke ' || r.name || ' (' || r.revocation_reason || ')', least(r.priority + 10, 99), NULL,
                 'revoke:' || r.certificate_id::text, NULL, 'default', 'SYSTEM', c_actor, r.ca_id, r.certificate_id);
      IF v_job IS NULL THEN
        SELECT id INTO v_job FROM certbus.jobs
         WHERE kind = 'REVOKE_CERT' AND unique_key = 'revoke:' || r.certificate_id::text AND status IN ('QUEUED', 'RUNNING');
      END IF;
      UPDATE certbus.incident_items
         SET state = 'REVOKING', failed_step = NULL, error = NULL, finished_at = NULL, state_since = now(),
             successor_id = r.successor, revoke_job_id = v_job
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id;
      PERFORM certbus.write_audit('INCIDENT_REVOCATION_QUEUED', 'Certificate', r.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', r.incident_id, 'job_id', v_job, 'reason', r.revocation_reason,
                                   'successor_id', r.successor));
      v_revoking := v_revoking + 1;
    ELSE
      UPDATE certbus.incident_items
         SET state = 'DONE', failed_step = NULL, error = NULL, finished_at = now(), state_since = now(), successor_id = r.successor
       WHERE incident_id = r.incident_id AND certificate_id = r.certificate_id;
      PERFORM certbus.write_audit('INCIDENT_CERTIFICATE_DONE', 'Certificate', r.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_build_object('incident_id', r.incident_id, 'successor_id', r.successor, 'revoked', r.status = 'REVOKED'));
      v_done := v_done + 1;
    END IF;
    v_touched := v_touched || r.incident_id;
  END LOOP;

  -- 6. Revocations that ended.
  WITH pick AS (
    SELECT i.incident_id, i.certificate_id, c.status AS certificate_status,
           CASE WHEN j.id IS NULL THEN 'revocation job ' || i.revoke_job_id || ' is gone and the certificate is not revoked'
                ELSE 'revocation job ' || j.id || ' ended ' || j.status || ': ' || coalesce(j.error, '') END AS why
      FROM certbus.incident_items i
      JOIN certbus.certificates c ON c.id = i.certificate_id
      LEFT JOIN certbus.jobs j ON j.id = i.revoke_job_id
     WHERE i.state = 'REVOKING'
       AND (c.status = 'REVOKED' OR j.id IS NULL OR j.status IN ('FAILED', 'CANCELLED', 'SUCCESS'))
     ORDER BY i.incident_id, i.position LIMIT p_limit
       FOR UPDATE OF i SKIP LOCKED
  ), moved AS (
    UPDATE certbus.incident_items i
       SET state = CASE WHEN pick.certificate_status = 'REVOKED' THEN 'DONE' ELSE 'FAILED' END,
           failed_step = CASE WHEN pick.certificate_status = 'REVOKED' THEN NULL ELSE 'REVOCATION' END,
           error = CASE WHEN pick.certificate_status = 'REVOKED' THEN NULL ELSE pick.why END,
           finished_at = now(), state_since = now()
      FROM pick WHERE i.incident_id = pick.incident_id AND i.certificate_id = pick.certificate_id
    RETURNING i.incident_id, i.certificate_id, i.state, i.error, i.successor_id, i.revoke_job_id
  )
  SELECT count(certbus.write_audit(CASE WHEN m.state = 'DONE' THEN 'INCIDENT_CERTIFICATE_DONE' ELSE 'INCIDENT_CERTIFICATE_FAILED' END,
                'Certificate', m.certificate_id::text, 'SYSTEM', c_actor,
                jsonb_strip_nulls(jsonb_build_object('incident_id', m.incident_id, 'successor_id', m.successor_id,
                                  'revoked', m.state = 'DONE', 'job_id', m.revoke_job_id,
                                  'step', CASE WHEN m.state = 'FAILED' THEN 'REVOCATION' END, 'error', m.error)))),
         count(*) FILTER (WHERE m.state = 'DONE'), array_agg(DISTINCT m.incident_id)
    INTO v_count, v_revoked, v_ids FROM moved m;
  v_done := v_done + v_revoked;
  v_failed := v_failed + (v_count - v_revoked);
  v_touched := v_touched || coalesce(v_ids, ARRAY[]::bigint[]);

  -- 7. Incidents whose items moved: finished, or active again.
  v_finished := certbus.settle_incidents(v_touched);

  PERFORM pg_notify('certbus_incidents', t::text) FROM (SELECT DISTINCT unnest(v_touched) AS t) touched;
  RETURN jsonb_build_object('renewed', v_renewed, 'rekeyed_again', v_rekeyed, 'deployments_requested', v_requested,
                            'installs_finished', v_installed, 'validated', v_validated, 'deployments_failed', v_deploy_failed, 'revocations_queued', v_revoking, 'done', v_done,
                            'failed', v_failed, 'incidents_finished', v_finished,
                            'incidents', (SELECT coalesce(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb) FROM unnest(v_touched) t));
END
$$;
COMMENT ON FUNCTION certbus.advance_incidents(integer) IS
  'Moves incident items one step on, at most p_limit per step, from the committed state of jobs, certificates and '
  'validations: renewed (successor with a new key) -> deploying (successor made the expected certificate of sensor and '
  'admin-web-request endpoints and validated; agent installs followed to their validation) -> revoking (--revoke-old, '
  'once every deployment validated) -> done; or failed with the reason. Finishes incidents (INCIDENT_FINISHED event, '
  'an ERROR alert incident:<id> when some certificate failed), audits every step (INCIDENT_* actions), and NOTIFYs '
  'certbus_incidents with each incident id it touched. Run by the periodic task incident-advance; safe to call from psql '
  'and from two sessions at once. Returns counts of what it did.';
