-- stats_lake_range: the smallest and largest run_id of the workflow's runs in mantis_candidates
-- gathered at step $min_step or later (NULL: every step), for stats_lake_rivals; both NULL when
-- there is none (then the lake is not searched).
-- Parameters: $workflow_id, $min_step.
SELECT min(run_id) AS lo, max(run_id) AS hi
FROM mantis_candidates
WHERE workflow_id = $workflow_id
  AND ($min_step IS NULL OR step >= $min_step);
