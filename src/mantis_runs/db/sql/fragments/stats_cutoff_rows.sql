-- stats_cutoff_rows: the dated rows of workflow $workflow_id that pass the since, status and
-- $finished_before filters (before dedupe), for a cutoff's top-k. Put in place of
-- @stats_cutoff_rows@ by stats_cutoff and stats_lake_cutoff.
workflow_id = $workflow_id
AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
AND ($status IS NULL OR status = $status)
AND ($finished_before IS NULL OR finished_at < CAST($finished_before AS TIMESTAMPTZ))
AND finished_at IS NOT NULL
