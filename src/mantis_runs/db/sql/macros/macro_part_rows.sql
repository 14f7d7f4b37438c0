-- mantis_part_rows(files): the rows of Parquet parts as the views show them: the two stored
-- columns of the breakdown (docs/storage-format.md, "Parquet layout"), the struct of known
-- buckets and the map of the others, become one wall_time_breakdown MAP again (mantis_breakdown).
CREATE OR REPLACE TEMP MACRO mantis_part_rows(files) AS TABLE
SELECT
    * EXCLUDE (wall_time_breakdown_other)
      REPLACE (mantis_breakdown(wall_time_breakdown, wall_time_breakdown_other)
               AS wall_time_breakdown)
FROM read_parquet(files);
