-- mantis_stored_rows(files, structure, known, known_struct, known_names): the good rows of JSONL
-- shards in the Parquet layout (docs/storage-format.md, "Parquet layout"). As mantis_sealed_rows,
-- with `structure` typing wall_time_breakdown as JSON, which is then stored in two columns:
--   wall_time_breakdown       - json_transform to `known_struct`: a STRUCT of the nine known
--                               buckets, each a DOUBLE; NULL when the breakdown is not an object;
--   wall_time_breakdown_other - mantis_other_seconds of the breakdown as a MAP (json_transform,
--                               with the same lenient casts as the views' JSONL rows). Only rows
--                               with a name outside `known_names` or a value that is not a JSON
--                               number have such entries, and only they pay for the MAP (DuckDB
--                               2.0 builds it slowly).
-- Column order does not matter: callers select by name.
CREATE OR REPLACE TEMP MACRO mantis_stored_rows(files, structure, known, known_struct, known_names)
AS TABLE
SELECT
    * REPLACE (
        CASE WHEN json_type(wall_time_breakdown) = 'OBJECT'
             THEN json_transform(wall_time_breakdown, known_struct)
        END AS wall_time_breakdown),
    CASE WHEN json_type(wall_time_breakdown) = 'OBJECT'
          AND NOT (list_has_all(known_names, json_keys(wall_time_breakdown))
                   AND list_has_all(['UBIGINT', 'BIGINT', 'DOUBLE'],
                                    json_type(wall_time_breakdown, '$.*')))
         THEN mantis_other_seconds(
                  json_transform(wall_time_breakdown, '"MAP(VARCHAR, DOUBLE)"'), known_names)
    END AS wall_time_breakdown_other
FROM mantis_sealed_rows(files, structure, known);
