-- stats_rows_attribute: one run attribute of the runs stats_rows returns, as (row, value):
-- `row` is the run's rowid as stats_rows returns it (the same filters), `value` the text of
-- the attribute called $attribute (model, plan_signature, profile_id or tenant_id; a bound
-- value, never SQL text), NULL for runs without it. Read apart, and only for the attributes a
-- comparison narrows or groups by: each costs a Python string per run.
-- Parameters: $workflow_id, $status, $finished_before, $attribute.
SELECT "row",
       mantis_group_value($attribute, model, plan_signature, profile_id, tenant_id) AS value
FROM mantis_chosen($status, $finished_before)
WHERE workflow_id = $workflow_id
  AND finished_at IS NOT NULL;
