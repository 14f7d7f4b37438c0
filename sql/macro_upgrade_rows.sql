-- mantis_upgrade_rows(files, known_struct, known_names): the rows of Parquet files in layout 1
-- (written before the Parquet layout had a version: one wall_time_breakdown MAP column) in the
-- current layout, for compaction to rewrite them. The MAP goes through JSON
-- text, which keeps NaN and infinities (DuckDB writes and reads them as NaN and Infinity).
CREATE OR REPLACE TEMP MACRO mantis_upgrade_rows(files, known_struct, known_names) AS TABLE
SELECT
    * EXCLUDE (wall_time_breakdown),
    CASE WHEN wall_time_breakdown IS NOT NULL
         THEN json_transform(to_json(wall_time_breakdown), known_struct)
    END AS wall_time_breakdown_known,
    mantis_other_seconds(wall_time_breakdown, known_names) AS wall_time_breakdown_other
FROM read_parquet(files);
