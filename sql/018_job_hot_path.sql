-- 018_job_hot_path.sql — two costs of every job state change, measured and removed.
--
-- 1. The kind and queue CHECK constraints used bounded repetitions ('{0,62}'). PostgreSQL checks
--    every CHECK constraint of a row on every UPDATE, whatever columns changed, and its regex engine
--    expands a bounded repetition into a large automaton: measured in psql, 1,000,000 evaluations took
--    4.7 s ('^[A-Z][A-Z0-9_]{0,62}$') against 1.0 s for the same test written as an unbounded class plus
--    a length limit, and 6.9 s against 0.7 s for the queue pattern. A job is checked four times (claim
--    and completion, kind and queue): `perf` on the drain showed 10.5 % of the server's CPU in
--    textregexeq. The constraints below accept exactly the same values (the classes hold ASCII only,
--    so length in characters is length in bytes) and keep their names, so errors read as before.
--
-- 2. The worker functions' statements were planned again on (nearly) every call: a PL/pgSQL statement
--    with parameters gets custom plans until the plan cache decides a generic plan is not costlier,
--    and with array parameters it kept deciding against it. `perf` showed 12.6 % of the server's CPU in
--    the planner (8.8 % in planning the claim's sub-select). Each of these statements has one right
--    plan whatever its parameters (017 and 016 already pin the join and scan methods), so they use the
--    generic plan, made once per session. WorkerFunctionPlanTests checks the plans.
--
-- Together: server CPU per drained NOOP job 23 → 17 µs (docs/benchmarks.md, "Throughput").

ALTER TABLE certbus.jobs
  DROP CONSTRAINT jobs_kind_check,
  ADD CONSTRAINT jobs_kind_check CHECK (length(kind) <= 63 AND kind ~ '^[A-Z][A-Z0-9_]*$'),
  DROP CONSTRAINT jobs_queue_check,
  ADD CONSTRAINT jobs_queue_check CHECK (length(queue) <= 63 AND queue ~ '^[a-z0-9][a-z0-9_.-]*$');
COMMENT ON CONSTRAINT jobs_kind_check ON certbus.jobs IS
  'A job kind is UPPER_SNAKE_CASE, 1 to 63 characters (written without a bounded repetition, which is slow to match).';
COMMENT ON CONSTRAINT jobs_queue_check ON certbus.jobs IS
  'A queue name is 1 to 63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit.';

ALTER FUNCTION certbus.claim_jobs(text, integer, text[], text[], float8, text[], float8[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION certbus.heartbeat_jobs(text, float8, bigint[], integer[], float8[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION certbus.complete_jobs(text, bigint[], integer[], jsonb[], uuid[], text[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION certbus.fail_jobs(text, bigint[], integer[], text[], boolean[], float8[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION certbus.release_jobs(text, bigint[], integer[])
  SET plan_cache_mode = force_generic_plan;
