-- trend_month_gathered: for the warm-up of trend's closed-month memo (analysis/trend_warm.py),
-- which gathers the JSONL rows once, with the breakdowns of one workflow ($workflow_id) only:
-- the rows gathered (any workflow), and those of other workflows that finished before $end,
-- which an in-place read of their workflow's month would take without their breakdowns (any:
-- each workflow is read on its own).
-- Parameters: $workflow_id, $end (ISO text).
SELECT count(*) AS gathered,
       count(*) FILTER (WHERE workflow_id IS DISTINCT FROM $workflow_id
                          AND finished_at < CAST($end AS TIMESTAMPTZ)) AS others
FROM mantis_candidates
WHERE run_id IS NOT NULL;
