-- 098_report_upcoming_expiries.sql — the weekly report's upcoming expiries without a function call per row.
--
-- Measured problem (`certbus bench growth`, 1,000,000 certificates, 2026-12-03): the "upcoming expiries"
-- section took 3.8 s, the largest part of a 9.7 s weekly report. certbus.report_upcoming_expiries (093)
-- called certbus.has_valid_successor(c.id) per certificate; PostgreSQL never inlines a SQL function whose
-- body holds a sub-select (EXISTS), so each call planned and ran its own statement, and the CTE using it was
-- inlined into three FILTER clauses, so it ran three times per certificate: auto_explain logged 485,079 calls.
-- The same test written inline is one index probe per certificate (certificates_predecessor), made once.
-- Same columns, same rule ("renewed" = a certificate naming it as predecessor is VALID or EXPIRING and not
-- past not_after, as in has_valid_successor), same results (ReportQueryTests).

CREATE OR REPLACE FUNCTION certbus.report_upcoming_expiries(p_from timestamptz, p_until timestamptz)
RETURNS TABLE (week_starting date, expiring bigint, renewed bigint, awaiting_automatic_renewal bigint,
               without_automatic_renewal bigint)
LANGUAGE sql STABLE AS $$
  WITH due AS MATERIALIZED (
    SELECT date_trunc('week', c.not_after) AS week,
           EXISTS (SELECT 1 FROM certbus.certificates s
                    WHERE s.predecessor_id = c.id AND s.status IN ('VALID', 'EXPIRING') AND s.not_after > now()) AS renewed,
           coalesce(p.auto_renew AND p.enabled, false) AS automatic
      FROM certbus.certificates c
      LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
     WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after >= p_from AND c.not_after < p_until
  ), weeks AS (
    SELECT week, count(*) AS expiring, count(*) FILTER (WHERE renewed) AS renewed,
           count(*) FILTER (WHERE NOT renewed AND automatic) AS awaiting_automatic_renewal,
           count(*) FILTER (WHERE NOT renewed AND NOT automatic) AS without_automatic_renewal
      FROM due GROUP BY week
  )
  SELECT w.week::date, coalesce(d.expiring, 0), coalesce(d.renewed, 0), coalesce(d.awaiting_automatic_renewal, 0),
         coalesce(d.without_automatic_renewal, 0)
    FROM certbus.report_weeks(p_from, p_until) w LEFT JOIN weeks d USING (week)
   ORDER BY w.week
$$;
