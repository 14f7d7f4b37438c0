-- stats_parquet_footers: what each Parquet file's footer proves without reading a row, for a
-- whole-history `stats` (stats.footers):
--   rows     - how many rows the file holds, of every workflow and status (at least as many as
--              match: when these do not exceed --last, neither do the matching ones);
--   no_other - whether no row has a bucket of another name: every row group's chunk of the
--              wall_time_breakdown_other keys holds only NULLs by its null count (a NULL or
--              empty map; a key is never NULL). False when the footer cannot tell.
-- A file without row groups is not listed (unknown to the caller).
-- Parameters: $files (VARCHAR[]).
SELECT file_name,
       sum(row_group_num_rows) FILTER (WHERE column_id = 0) AS rows,
       count(*) FILTER (WHERE path_in_schema = 'wall_time_breakdown_other, key_value, key'
                          AND stats_null_count = num_values)
           = count(*) FILTER (WHERE column_id = 0) AS no_other
FROM parquet_metadata($files)
GROUP BY file_name;
