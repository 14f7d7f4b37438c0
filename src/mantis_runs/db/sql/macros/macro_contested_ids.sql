-- mantis_contested_ids(files, shared): run_ids whose Parquet rows the runs view must rank against
-- other copies (view_runs.sql): the run_id of every JSONL line of `files` that has one, and the
-- run_ids of `shared` (those with more than one copy among the Parquet files).
-- A superset on purpose: bad lines are not left out (their run_ids are not rows, and an extra
-- run_id only sends its Parquet row through the dedupe), which spares a second look at each
-- line; the run_id is typed by the same json_transform to VARCHAR as the rows' run_id
-- (mantis_view_jsonl_rows) and mantis_bad_line's, so no row's run_id is missing. Never NULL:
-- the view uses NOT IN.
CREATE OR REPLACE TEMP MACRO mantis_contested_ids(files, shared) AS TABLE
SELECT run_id
FROM (
    SELECT json_transform(json, '{"run_id": "VARCHAR"}').run_id AS run_id
    FROM read_ndjson_objects(files, ignore_errors = true)
)
WHERE run_id IS NOT NULL
UNION ALL
SELECT unnest(shared) AS run_id;
