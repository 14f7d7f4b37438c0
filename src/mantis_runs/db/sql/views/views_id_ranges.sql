-- views_id_ranges: what each Parquet file's footer proves about its run_ids, per row group, for
-- the runs view's pass-through (db/view_reads.py): the smallest and largest run_id when the
-- statistics are exact AND prove that the row group holds no NULL run_id; NULL otherwise (the
-- row group may hold anything, so its file is ranked as before). Reads no row.
-- Parameters: $files (VARCHAR[]).
SELECT file_name,
       row_group_id,
       CASE WHEN min_is_exact IS NOT DISTINCT FROM true AND max_is_exact IS NOT DISTINCT FROM true
                 AND stats_null_count = 0
            THEN stats_min_value END AS low,
       CASE WHEN min_is_exact IS NOT DISTINCT FROM true AND max_is_exact IS NOT DISTINCT FROM true
                 AND stats_null_count = 0
            THEN stats_max_value END AS high
FROM parquet_metadata($files)
WHERE path_in_schema = 'run_id'
ORDER BY file_name, row_group_id;
