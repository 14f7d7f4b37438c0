-- lookup_newest: RunStore.runs() over the given files from the copy-order columns alone: each
-- run's winning copy (fragments/copy_order.sql), the CLI's filters on it, the newest first
-- (fragments/newest_order.sql), with the Parquet file the copy came from (NULL: a JSONL file).
-- The same runs, in the same order, as runs_select over the views on the same rows (JSONL lines
-- typed by json_transform with the schema's types, $structure, as the views type them; bad lines
-- left out by mantis_bad_line); store/lookup.py then reads each run's row from its own line.
-- Parameters: $parquet, $jsonl (VARCHAR[], each ending with its placeholder file), $structure
--             (JSON: the five columns' DuckDB types, from schema.py), $workflow_id (NULL = all),
--             $status (NULL = all), $since (ISO text or NULL), $limit (NULL = no limit).
SELECT run_id, finished_at, total_time_s, status, workflow_id, source
FROM (
    SELECT *
    FROM (
        SELECT run_id, finished_at, total_time_s, status, workflow_id, filename AS source
        FROM read_parquet($parquet, filename = true)
        UNION ALL BY NAME
        SELECT t.run_id, t.finished_at, t.total_time_s, t.status, t.workflow_id,
               NULL AS source
        FROM (
            SELECT json_transform(json, $structure) AS t
            FROM read_ndjson_objects($jsonl, ignore_errors = true)
            WHERE NOT mantis_bad_line(json)
        )
    )
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY @copy_order@) = 1
)
WHERE ($workflow_id IS NULL OR workflow_id = $workflow_id)
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
ORDER BY @newest_order@
LIMIT $limit;
