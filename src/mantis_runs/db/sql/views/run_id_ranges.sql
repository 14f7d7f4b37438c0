-- run_id_ranges: what each Parquet file's footer says about its run_id column, per row group,
-- without reading any row (db/idranges.py, the one reader for point lookups and the views):
-- whether the row group holds a run_id at all, the smallest and largest run_id when the
-- statistics are exact (NULL when missing or inexact: it may then hold any run_id), and whether
-- they are proven, both exact and no NULL run_id (the runs view passes such a file through
-- when no row group holds a contested run_id: db/view_reads.py).
-- Parameters: $files (VARCHAR[]).
SELECT file_name,
       row_group_id,
       coalesce(stats_null_count < num_values, true) AS has_ids,
       CASE WHEN min_is_exact IS NOT DISTINCT FROM true THEN stats_min_value END AS low,
       CASE WHEN max_is_exact IS NOT DISTINCT FROM true THEN stats_max_value END AS high,
       coalesce(min_is_exact AND max_is_exact AND stats_null_count = 0, false) AS proven
FROM parquet_metadata($files)
WHERE path_in_schema = 'run_id'
ORDER BY file_name, row_group_id;
