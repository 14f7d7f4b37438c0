-- stats_rows: the workflow's runs in mantis_candidates, one row per run (its winning copy),
-- with the filters applied to that copy: status $status (NULL = any) and finished_at before
-- $finished_before (text; NULL = no bound). For readers that need the runs themselves rather
-- than their percentiles (compare). Runs once stats_drop_rivals has run.
-- Parameters: $status, $finished_before.
SELECT finished_at, status, total_time_s, known, other,
       model, plan_signature, profile_id, tenant_id
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND ($status IS NULL OR status = $status)
  AND ($finished_before IS NULL OR finished_at < CAST($finished_before AS TIMESTAMPTZ))
ORDER BY finished_at;
