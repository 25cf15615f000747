-- 045_event_retention.sql — events are deleted after a retention period (default 90 days, in the
-- event-retention periodic task and `certbus events prune`), so the outbox does not grow forever:
-- the scheduler alone emits a SCHEDULED_JOB_FINISHED event per task run, over half a million a year.
--
-- What is never deleted: PENDING events (not dispatched yet) and events with a trigger run still
-- RETRYING (its retry needs the event). Deleting an event deletes its finished trigger runs
-- (ON DELETE CASCADE); notification deliveries keep their rows with event_id NULL. The audit log is
-- separate and is not touched.

CREATE INDEX events_created_at ON certbus.events (created_at);
COMMENT ON INDEX certbus.events_created_at IS 'Serves retention: the events older than a cutoff.';

CREATE FUNCTION certbus.events_past_retention(p_keep_seconds float8) RETURNS SETOF certbus.events
LANGUAGE sql STABLE AS $$
  SELECT o.* FROM certbus.events o
   WHERE o.created_at < now() - make_interval(secs => p_keep_seconds)
     AND o.dispatch_state = 'DISPATCHED'
     AND NOT EXISTS (SELECT 1 FROM certbus.event_trigger_runs r WHERE r.event_id = o.id AND r.status = 'RETRYING')
$$;
COMMENT ON FUNCTION certbus.events_past_retention(float8) IS
  'The events that retention may delete when events are kept p_keep_seconds: older than that, DISPATCHED, and with '
  'no trigger run still RETRYING. E.g. SELECT count(*) FROM certbus.events_past_retention(90 * 86400).';

CREATE FUNCTION certbus.delete_old_events(p_keep_seconds float8, p_limit integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  IF p_keep_seconds IS NULL OR p_keep_seconds < 86400 THEN
    RAISE EXCEPTION 'events are kept at least one day (asked to keep them % seconds)', coalesce(p_keep_seconds::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'the batch size must be between 1 and 100000 (asked: %)', coalesce(p_limit::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM certbus.events e
   WHERE e.id = ANY (ARRAY(SELECT o.id FROM certbus.events_past_retention(p_keep_seconds) o LIMIT p_limit));
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION certbus.delete_old_events(float8, integer) IS
  'Deletes up to p_limit events past retention (see certbus.events_past_retention; p_keep_seconds at least one '
  'day) with their finished trigger runs, and returns how many. Call it repeatedly, one short transaction each, '
  'until it returns less than p_limit. The event-retention task and certbus events prune do.';
