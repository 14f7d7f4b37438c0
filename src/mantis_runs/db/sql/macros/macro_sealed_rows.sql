-- mantis_sealed_rows(files, structure, known): the good rows of JSONL shards, typed, with nothing
-- lost. `structure` is the row schema as a json_transform structure (the same types and the same
-- lenient casts as the explicit columns the stats reader uses); `known` is a JSON object mapping
-- every schema key to null, so json_merge_patch leaves exactly the extra keys, kept as JSON text in
-- the `extra` column (NULL when there are none).
CREATE OR REPLACE TEMP MACRO mantis_sealed_rows(files, structure, known) AS TABLE
SELECT
    t.*,
    CASE WHEN extra = '{}' THEN NULL ELSE extra END AS extra
FROM (
    SELECT json_transform(json, structure) AS t,
           json_merge_patch(json, known)::VARCHAR AS extra
    FROM read_ndjson_objects(files, ignore_errors = true)
    WHERE NOT mantis_bad_line(json)
);
