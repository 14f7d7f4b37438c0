-- mantis_upgrade_rows(files, known_struct, known_names): the rows of Parquet files in layout 1
-- (written before the Parquet layout had a version: wall_time_breakdown was one MAP column) in
-- the current layout, for compaction to rewrite them. The MAP goes through JSON text on its way
-- to the struct, which keeps NaN and infinities (DuckDB writes and reads them as NaN and
-- Infinity).
CREATE OR REPLACE TEMP MACRO mantis_upgrade_rows(files, known_struct, known_names) AS TABLE
SELECT
    * REPLACE (
        CASE WHEN wall_time_breakdown IS NOT NULL
             THEN json_transform(to_json(wall_time_breakdown), known_struct)
        END AS wall_time_breakdown),
    mantis_other_seconds(wall_time_breakdown, known_names) AS wall_time_breakdown_other
FROM read_parquet(files);
