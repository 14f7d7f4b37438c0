-- stats_lake_cutoff: stats_cutoff over some month partitions of the lake (mantis_lake): the
-- $k-th newest finished_at among the workflow's rows that pass the since, status and
-- $finished_before filters (before dedupe), as text; NULL when fewer than $k rows match.
-- Parameters: $months, $undated, $workflow_id, $since, $status, $finished_before, $k.
SELECT CAST(min(finished_at) AS VARCHAR) AS cutoff
FROM (
    SELECT finished_at
    FROM mantis_lake
    WHERE (list_contains($months, month) OR ($undated AND month IS NULL))
      AND @stats_cutoff_rows@
    ORDER BY finished_at DESC
    LIMIT $k
)
HAVING count(*) = $k;
