-- stats_rows_other: the entries of the `other` bucket maps of the runs stats_rows returns, as
-- (row, bucket, seconds), `row` being the run's rowid as stats_rows returns it (the same
-- filters). Only runs with such a map have rows (rare: buckets outside the known nine, or a
-- known name whose value was not a number); run only when stats_rows found one.
-- Parameters: $workflow_id, $status, $finished_before.
SELECT "row", unnest(map_keys(other)) AS bucket, unnest(map_values(other)) AS seconds
FROM (
    SELECT "row", other
    FROM mantis_chosen($status, $finished_before)
    WHERE workflow_id = $workflow_id
      AND finished_at IS NOT NULL
      AND other IS NOT NULL
);
