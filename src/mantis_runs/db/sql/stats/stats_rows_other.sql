-- stats_rows_other: the entries of the `other` bucket maps of the runs stats_rows returns, as
-- (row, bucket, seconds), `row` being the run's rowid as stats_rows returns it (the same
-- filters). Only runs with such a map have rows (rare: buckets outside the known nine, or a
-- known name whose value was not a number); run only when stats_rows found one.
-- Parameters: $workflow_id, $status, $finished_before.
SELECT "row", unnest(map_keys(other)) AS bucket, unnest(map_values(other)) AS seconds
FROM (
    SELECT rowid AS "row", other
    FROM mantis_candidates
    WHERE run_id IS NOT NULL
      AND workflow_id = $workflow_id
      AND finished_at IS NOT NULL
      AND ($status IS NULL OR status = $status)
      AND ($finished_before IS NULL OR finished_at < CAST($finished_before AS TIMESTAMPTZ))
      AND other IS NOT NULL
);
