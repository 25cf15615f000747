-- 092_metrics_snapshot.sql — every database-derived metric in one cheap query, for the Prometheus
-- endpoint of `certbus serve` / `certbus scheduler` and for `certbus metrics`:
--
--   SELECT metric, metric_type, help, labels, value FROM certbus.metrics_snapshot() ORDER BY ordinal;
--
-- Each part reads an index or a small table, never a scan of history: certificate counts come from
-- certbus.certificate_tallies (091), the earliest expiry per profile from one probe of
-- certificates_unrenewed_expiry per profile, queued and running jobs from the partial indexes of
-- QUEUED and leased jobs, FAILED and CANCELLED jobs from jobs_unsuccessful (below), unread and open
-- alerts from their partial indexes, unsealed audit rows from the chain-order index after the
-- sealer's head. SUCCESS jobs are not counted: they are kept for days and may be tens of millions
-- (throughput comes from the workers' own counters). Measured in docs/operations.md.

CREATE INDEX jobs_unsuccessful ON certbus.jobs (status, completed_at) INCLUDE (kind) WHERE status IN ('FAILED', 'CANCELLED');
COMMENT ON INDEX certbus.jobs_unsuccessful IS
  'FAILED and CANCELLED jobs by completion time (with their kind): counted by certbus.metrics_snapshot() and listed '
  'newest first by certbus jobs watch, without reading the SUCCESS history.';

CREATE FUNCTION certbus.metrics_snapshot()
RETURNS TABLE (ordinal bigint, metric text, metric_type text, help text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE
-- A plan over an index whatever the statistics say (a seq scan of certbus.jobs would read the whole
-- SUCCESS history), and no JIT compilation for a query that runs in milliseconds. PL/pgSQL keeps the
-- plan for the session (a LANGUAGE sql function would plan it again on every scrape: 5 ms of 15).
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH
today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day),
tallies AS MATERIALIZED (
  SELECT t.status, t.expiry_day, sum(t.certificates)::bigint AS n
    FROM certbus.certificate_tallies t GROUP BY 1, 2),
statuses(ord, status) AS (VALUES (1, 'VALID'), (2, 'EXPIRING'), (3, 'EXPIRED'), (4, 'REVOKED')),
horizons(ord, days) AS (VALUES (1, 1), (2, 7), (3, 14), (4, 30), (5, 60), (6, 90)),
kinds AS MATERIALIZED (SELECT k.kind, row_number() OVER (ORDER BY k.kind) AS ord FROM certbus.job_kinds k),
job_statuses(ord, status) AS (VALUES (1, 'QUEUED'), (2, 'RUNNING'), (3, 'FAILED'), (4, 'CANCELLED')),
queued AS MATERIALIZED (
  SELECT j.kind, count(*) AS queued, count(*) FILTER (WHERE j.run_at <= now()) AS due,
         min(j.run_at) FILTER (WHERE j.run_at <= now()) AS oldest_due
    FROM certbus.jobs j WHERE j.status = 'QUEUED' GROUP BY j.kind),
job_counts AS MATERIALIZED (
  SELECT q.kind, 'QUEUED' AS status, q.queued AS n FROM queued q
  UNION ALL
  SELECT j.kind, 'RUNNING', count(*) FROM certbus.jobs j WHERE j.lease_expires_at IS NOT NULL GROUP BY j.kind
  UNION ALL
  SELECT j.kind, j.status, count(*) FROM certbus.jobs j WHERE j.status IN ('FAILED', 'CANCELLED') GROUP BY 1, 2),
severities(ord, severity) AS (VALUES (1, 'ERROR'), (2, 'WARN')),
alert_counts AS MATERIALIZED (
  SELECT 'unread' AS what, a.severity, count(*) AS n FROM certbus.alerts a WHERE a.read_at IS NULL GROUP BY a.severity
  UNION ALL
  SELECT 'open', a.severity, count(*) FROM certbus.alerts a WHERE a.resolved_at IS NULL GROUP BY a.severity),
seal AS (SELECT s.chain_position, s.head_txid, s.head_id, s.sealed_at FROM certbus.audit_seal_state s),
agent_statuses(ord, status) AS (VALUES (1, 'ONLINE'), (2, 'OFFLINE'), (3, 'NEVER_SEEN'))

SELECT 100000 + s.ord, 'certbus_certificates', 'gauge',
       'Certificates known to certbus, by status (VALID, EXPIRING, EXPIRED, REVOKED).',
       jsonb_build_object('status', s.status), coalesce(sum(t.n), 0)::float8
  FROM statuses s LEFT JOIN tallies t ON t.status = s.status
 GROUP BY s.ord, s.status
UNION ALL
SELECT 110000 + h.ord, 'certbus_certificates_expiring', 'gauge',
       'VALID and EXPIRING certificates whose not_after falls before 00:00 UTC within_days days from today (UTC), '
       'already-past ones included; cumulative.',
       jsonb_build_object('within_days', h.days::text), coalesce(sum(t.n), 0)::float8
  FROM horizons h CROSS JOIN today
  LEFT JOIN tallies t ON t.status IN ('VALID', 'EXPIRING') AND t.expiry_day < today.day + h.days
 GROUP BY h.ord, h.days
UNION ALL
SELECT 120000 + row_number() OVER (ORDER BY p.name), 'certbus_certificate_earliest_expiry_seconds', 'gauge',
       'Seconds until the earliest not_after among the profile''s VALID and EXPIRING certificates not yet renewed '
       '(negative once past); profile="" is certificates without a profile.',
       jsonb_build_object('profile', p.name), extract(epoch FROM e.not_after - now())::float8
  FROM certbus.ra_profiles p
 CROSS JOIN LATERAL (
   SELECT c.not_after FROM certbus.certificates c
    WHERE c.profile_id = p.id AND c.status IN ('VALID', 'EXPIRING') AND c.renew_at IS NOT NULL
    ORDER BY c.not_after LIMIT 1) e
UNION ALL
SELECT 129999, 'certbus_certificate_earliest_expiry_seconds', 'gauge',
       'Seconds until the earliest not_after among the profile''s VALID and EXPIRING certificates not yet renewed '
       '(negative once past); profile="" is certificates without a profile.',
       jsonb_build_object('profile', ''), extract(epoch FROM e.not_after - now())::float8
  FROM (SELECT c.not_after FROM certbus.certificates c
         WHERE c.profile_id IS NULL AND c.status IN ('VALID', 'EXPIRING')
         ORDER BY c.not_after LIMIT 1) e
UNION ALL
SELECT 200000 + k.ord * 10 + s.ord, 'certbus_jobs', 'gauge',
       'Jobs by kind and status: QUEUED, RUNNING, and the FAILED and CANCELLED ones kept for review '
       '(SUCCESS is not counted; see certbus_worker_job_attempts_total).',
       jsonb_build_object('kind', k.kind, 'status', s.status), coalesce(c.n, 0)::float8
  FROM kinds k CROSS JOIN job_statuses s LEFT JOIN job_counts c ON c.kind = k.kind AND c.status = s.status
UNION ALL
SELECT 210000 + k.ord, 'certbus_queue_depth', 'gauge',
       'QUEUED jobs whose run_at has come (waiting for a worker), by kind.',
       jsonb_build_object('kind', k.kind), coalesce(q.due, 0)::float8
  FROM kinds k LEFT JOIN queued q ON q.kind = k.kind
UNION ALL
SELECT 220000 + k.ord, 'certbus_queue_oldest_job_age_seconds', 'gauge',
       'How long the oldest due QUEUED job of the kind has waited past its run_at (0 when none waits).',
       jsonb_build_object('kind', k.kind), coalesce(extract(epoch FROM now() - q.oldest_due), 0)::float8
  FROM kinds k LEFT JOIN queued q ON q.kind = k.kind
UNION ALL
SELECT 300000 + s.ord, 'certbus_alerts_unread', 'gauge', 'Alerts nobody has marked read, by severity.',
       jsonb_build_object('severity', s.severity), coalesce(a.n, 0)::float8
  FROM severities s LEFT JOIN alert_counts a ON a.what = 'unread' AND a.severity = s.severity
UNION ALL
SELECT 310000 + s.ord, 'certbus_alerts_open', 'gauge', 'Alerts whose cause is still there (not resolved), by severity.',
       jsonb_build_object('severity', s.severity), coalesce(a.n, 0)::float8
  FROM severities s LEFT JOIN alert_counts a ON a.what = 'open' AND a.severity = s.severity
UNION ALL
SELECT 400000, 'certbus_audit_unsealed_rows', 'gauge',
       'Audit rows after the sealer''s chain head, not yet sealed (counted up to 1000000).', '{}'::jsonb,
       (SELECT count(*) FROM (SELECT 1 FROM certbus.audit_log a, seal
                               WHERE (a.txid, a.id) > (seal.head_txid, seal.head_id) LIMIT 1000000) u)::float8
UNION ALL
SELECT 410000, 'certbus_audit_sealed_rows', 'gauge', 'Audit rows sealed into the hash chain (the chain head''s position).',
       '{}'::jsonb, seal.chain_position::float8
  FROM seal
UNION ALL
SELECT 420000, 'certbus_audit_last_seal_age_seconds', 'gauge', 'Seconds since the audit sealer last sealed a batch.',
       '{}'::jsonb, extract(epoch FROM now() - seal.sealed_at)::float8
  FROM seal WHERE seal.sealed_at IS NOT NULL
UNION ALL
SELECT 430000, 'certbus_audit_last_checkpoint_age_seconds', 'gauge', 'Seconds since the latest signed audit checkpoint.',
       '{}'::jsonb, extract(epoch FROM now() - c.signed_at)::float8
  FROM (SELECT signed_at FROM certbus.audit_checkpoints ORDER BY id DESC LIMIT 1) c
UNION ALL
SELECT 500000 + s.ord, 'certbus_agents', 'gauge', 'Registered agents by status (ONLINE, OFFLINE, NEVER_SEEN).',
       jsonb_build_object('status', s.status),
       (SELECT count(*) FROM certbus.agents a WHERE a.status = s.status)::float8
  FROM agent_statuses s
UNION ALL
SELECT 600000, 'certbus_events_pending', 'gauge', 'Lifecycle events not yet dispatched to triggers.', '{}'::jsonb,
       (SELECT count(*) FROM certbus.events e WHERE e.dispatch_state = 'PENDING')::float8;
END
$$;
COMMENT ON FUNCTION certbus.metrics_snapshot() IS
  'Every database-derived Prometheus series in one query: rows of (ordinal, metric, metric_type, help, labels, value); '
  'order by ordinal. Read by the metrics endpoint of certbus serve/scheduler and by certbus metrics. Cheap by design: '
  'reads certificate_tallies and partial indexes, never the history tables (docs/operations.md has the measured cost).';
