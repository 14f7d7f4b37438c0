-- mantis_view_jsonl_rows(files, scalars, wall, cost, known): the good rows of JSONL shards as the
-- views show them: the same values as mantis_sealed_rows (the same json_transform casts, field by
-- field), but each costly column is an expression of its own, so a query that does not use it
-- does not compute it: `scalars` types every field but the two breakdowns (one json_transform),
-- `wall` and `cost` each type one breakdown as a MAP, and `known` (every schema key mapped to
-- null) leaves the extra keys for `extra` (JSON text, NULL when there are none).
-- The session variables mantis_scalars, mantis_wall, mantis_cost and mantis_known hold them
-- (db/views.py, derived from schema.py). Bad lines are left out (mantis_bad_line).
CREATE OR REPLACE TEMP MACRO mantis_view_jsonl_rows(files, scalars, wall, cost, known) AS TABLE
SELECT
    t.*,
    json_transform(json, wall).wall_time_breakdown AS wall_time_breakdown,
    json_transform(json, cost).cost_breakdown AS cost_breakdown,
    nullif(json_merge_patch(json, known)::VARCHAR, '{}') AS extra
FROM (
    SELECT json, json_transform(json, scalars) AS t
    FROM read_ndjson_objects(files, ignore_errors = true)
    WHERE NOT mantis_bad_line(json)
);
