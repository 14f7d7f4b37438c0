-- stats_rival_of: the filter of a rival search (stats_rivals, stats_lake_rivals): a copy under
-- another workflow than $workflow_id, since $since, whose run_id lies in [$lo, $hi] and is a run
-- of the workflow gathered at step $min_step or later (NULL: any step). The subquery is left
-- open: each search adds its own conditions on the runs, then closes it.
workflow_id IS DISTINCT FROM $workflow_id
AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
AND run_id BETWEEN $lo AND $hi
AND run_id IN (
    SELECT run_id
    FROM mantis_candidates
    WHERE workflow_id = $workflow_id
      AND ($min_step IS NULL OR step >= $min_step)
