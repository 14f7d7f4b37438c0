-- events_footers: what each events Parquet file's footer (an events part, a live month's
-- checkpoint) says of every row group, without reading a row: the smallest and largest run_id
-- and ts, each NULL when the statistics are missing or inexact (the row group may then hold any
-- value). store/event_files.py `footers` keeps it per file in the user's cache: `status` and
-- one run's events leave out the files that cannot hold the run_id, `list --running` proves
-- without DuckDB that no event is dated in its window. A row group with no value of a column
-- (every one NULL: none in a part) has both ends NULL there too, which proves nothing either.
-- Parameters: $files (VARCHAR[]).
SELECT file_name,
       row_group_id,
       max(CASE WHEN path_in_schema = 'run_id' AND min_is_exact IS NOT DISTINCT FROM true
                THEN stats_min_value END) AS run_low,
       max(CASE WHEN path_in_schema = 'run_id' AND max_is_exact IS NOT DISTINCT FROM true
                THEN stats_max_value END) AS run_high,
       max(CASE WHEN path_in_schema = 'ts' AND min_is_exact IS NOT DISTINCT FROM true
                THEN epoch_us(try_cast(stats_min_value AS TIMESTAMPTZ)) END) AS ts_low,
       max(CASE WHEN path_in_schema = 'ts' AND max_is_exact IS NOT DISTINCT FROM true
                THEN epoch_us(try_cast(stats_max_value AS TIMESTAMPTZ)) END) AS ts_high
FROM parquet_metadata($files)
WHERE path_in_schema IN ('run_id', 'ts')
GROUP BY file_name, row_group_id
ORDER BY file_name, row_group_id;
