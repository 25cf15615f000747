-- 017_job_claim_plan.sql — the claim always walks the queue in order instead of sorting all of it.
--
-- Measured problem (perf on `certbus bench issue`, 2026-11-22): 16 % of the server's CPU went to the
-- claim's inner SELECT. Before autovacuum has analyzed a new or freshly filled jobs table, the planner
-- estimates one queued job and picks a bitmap scan of jobs_claimable plus a sort: every claim then
-- reads and sorts every due job (4,000 here) to take 8, and a bitmap scan never marks the index
-- entries of claimed jobs dead, so they are re-read too. The plan is cached for the session, so a
-- worker can keep it long after the statistics are fixed.
--
-- A queue claim has one good plan whatever the statistics say: read jobs_claimable in its order
-- (priority, run_at, id) and stop after LIMIT rows that are free (SKIP LOCKED). These settings,
-- which apply to claim_jobs's own statements only, leave the planner no other plan.
-- WorkerFunctionPlanTests checks it with auto_explain on a table that was never analyzed.

ALTER FUNCTION certbus.claim_jobs(text, integer, text[], text[], float8, text[], float8[]) SET enable_bitmapscan = off;
ALTER FUNCTION certbus.claim_jobs(text, integer, text[], text[], float8, text[], float8[]) SET enable_sort = off;
ALTER FUNCTION certbus.claim_jobs(text, integer, text[], text[], float8, text[], float8[]) SET enable_seqscan = off;
