-- stats_rows_attribute: one run attribute of the runs stats_rows returns, as (row, value):
-- `row` is the run's rowid as stats_rows returns it (the same filters), `value` the text of
-- the attribute called $attribute (model, plan_signature, profile_id or tenant_id; a bound
-- value, never SQL text), NULL for runs without it. Read apart, and only for the attributes a
-- comparison narrows or groups by: each costs a Python string per run.
-- Parameters: $workflow_id, $status, $finished_before, $attribute.
SELECT rowid AS "row",
       CASE $attribute
           WHEN 'model' THEN model
           WHEN 'plan_signature' THEN plan_signature
           WHEN 'profile_id' THEN profile_id
           WHEN 'tenant_id' THEN tenant_id
       END AS value
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND workflow_id = $workflow_id
  AND finished_at IS NOT NULL
  AND ($status IS NULL OR status = $status)
  AND ($finished_before IS NULL OR finished_at < CAST($finished_before AS TIMESTAMPTZ));
