-- stats_workflow_columns: a workflow's row of a source in the Parquet layout (a compacted part,
-- a live checkpoint, the lake) as mantis_candidates holds it, the breakdown kept as stored (the
-- struct of known buckets and the map of the others), at step $step. Put in place of
-- @stats_workflow_columns@ by stats_collect_parquet and stats_collect_lake.
NULL AS source,
run_id,
workflow_id,
status,
finished_at,
mantis_finite(total_time_s) AS total_time_s,
wall_time_breakdown AS known,
wall_time_breakdown_other AS other,
model,
plan_signature,
profile_id,
tenant_id,
$step AS step
