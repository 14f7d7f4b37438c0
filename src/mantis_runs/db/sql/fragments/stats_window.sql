-- stats_window: the rows of workflow $workflow_id finished since $since (NULL: always), split
-- in two disjoint sets by $at_least (only rows with finished_at >= it) and $before (only rows
-- with finished_at < it or NULL); both NULL: every row. Put in place of @stats_window@ by
-- stats_collect_parquet and stats_collect_lake.
workflow_id = $workflow_id
AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
AND ($at_least IS NULL OR finished_at >= CAST($at_least AS TIMESTAMPTZ))
AND ($before IS NULL OR finished_at < CAST($before AS TIMESTAMPTZ) OR finished_at IS NULL)
