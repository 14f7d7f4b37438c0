-- run_costs: the long form of cost_breakdown, one row per run and cost item.
CREATE OR REPLACE TEMP VIEW run_costs AS
SELECT run_id, workflow_id, status, model, finished_at,
       unnest(map_keys(cost_breakdown)) AS item,
       unnest(map_values(cost_breakdown)) AS cost
FROM runs;
