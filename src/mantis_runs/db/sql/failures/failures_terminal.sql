-- failures_terminal: how many of the workflow's dated runs in mantis_candidates (their winning
-- copies, after dedupe) ended succeeded or failed: the failure rate's denominator on the
-- general path.
-- Parameters: $workflow_id.
SELECT count(*) AS terminal
FROM mantis_chosen(NULL, NULL)
WHERE workflow_id = $workflow_id
  AND finished_at IS NOT NULL
  AND status IN ('succeeded', 'failed');
