-- stats_rival_columns: a rival's row (a copy under another workflow: only what the copy order
-- ranks by) as mantis_candidates holds it, at step $step. Put in place of @stats_rival_columns@
-- by stats_rivals, stats_lake_rivals, before_copies and before_shard_copies.
run_id, workflow_id, status, finished_at, mantis_finite(total_time_s) AS total_time_s,
$step AS step
