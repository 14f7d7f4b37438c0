-- lookup_id_ranges: what each Parquet file's footer says about its run_id column, per row group,
-- without reading any row: the smallest and largest run_id when the statistics are exact (NULL
-- when missing or inexact: the row group may then hold any run_id), and whether the row group
-- holds a run_id at all. A point lookup leaves out a file none of whose row groups can hold the
-- run_id it looks for (db/idranges.py).
-- Parameters: $files (VARCHAR[]).
SELECT file_name,
       row_group_id,
       coalesce(stats_null_count < num_values, true) AS has_ids,
       CASE WHEN min_is_exact IS NOT DISTINCT FROM true THEN stats_min_value END AS low,
       CASE WHEN max_is_exact IS NOT DISTINCT FROM true THEN stats_max_value END AS high
FROM parquet_metadata($files)
WHERE path_in_schema = 'run_id'
ORDER BY file_name, row_group_id;
