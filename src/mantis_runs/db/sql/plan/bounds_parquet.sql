-- bounds_parquet: what each Parquet file's footer says about its finished_at column, without
-- reading any row: the latest finished_at (NULL when unknown: statistics missing or inexact),
-- how many rows have a finished_at at all, and the earliest finished_at (NULL when unknown, as
-- the latest). Readers use it to prove that a file they skip holds only runs older than the
-- ones they return, or (the earliest) only runs at or after a `stats(before=...)` bound (a row
-- need not lie in its UTC month: a hand-written line may sit in the shard of its local date).
-- A bound Python cannot hold (infinite, or outside years 1-9999: @plain_time@) is unknown.
-- Parameters: $files (VARCHAR[]).
SELECT file_name, dated,
       (SELECT finished_at FROM (SELECT latest AS finished_at) WHERE @plain_time@) AS latest,
       (SELECT finished_at FROM (SELECT earliest AS finished_at) WHERE @plain_time@)
           AS earliest
FROM (
    SELECT file_name,
           sum(num_values - coalesce(stats_null_count, num_values)) AS dated,
           CASE WHEN bool_and(max_is_exact IS NOT DISTINCT FROM true OR stats_max_value IS NULL)
                     AND count(stats_max_value) = count(*) FILTER (
                         WHERE num_values > coalesce(stats_null_count, 0))
                     AND bool_and(stats_null_count IS NOT NULL)
                THEN max(CAST(stats_max_value AS TIMESTAMPTZ))
           END AS latest,
           CASE WHEN bool_and(min_is_exact IS NOT DISTINCT FROM true OR stats_min_value IS NULL)
                     AND count(stats_min_value) = count(*) FILTER (
                         WHERE num_values > coalesce(stats_null_count, 0))
                     AND bool_and(stats_null_count IS NOT NULL)
                THEN min(CAST(stats_min_value AS TIMESTAMPTZ))
           END AS earliest
    FROM parquet_metadata($files)
    WHERE path_in_schema = 'finished_at'
    GROUP BY file_name
);
