-- lookup_newest: RunStore.runs() over the given files from the copy-order columns alone: each
-- run's winning copy (fragments/copy_order.sql), the CLI's filters on it, the newest first
-- (fragments/newest_order.sql), with the Parquet file the copy came from (NULL: a JSONL file).
-- The same runs, in the same order, as runs_select over the views on the same rows (JSONL lines
-- typed by json_transform with the schema's types, $structure, as the views type them; bad lines
-- left out by mantis_bad_line); store/lookup.py then reads each run's row from its own line.
-- With a $window, only the copies finished at or after `bound`, the oldest of the newest $window
-- finish times of the copies that pass the filters, are read and ranked: a run with such a copy
-- has its winning copy among them (the copy order puts the latest finish first), so each run
-- ranked gets the winner it gets without a window; any bound would do, this one is likely to
-- leave enough. Every other run has only copies finished before `bound` (or undated), so it
-- ranks after any run dated `bound` or later (newest_order puts the newest finish first):
-- store/ranking.py keeps the answer only when it is full and its last run is dated at or after
-- `bound` (a column of every row), else asks again without a window. The Parquet rows are read
-- twice, never held: the finish times (and filter columns) for the bound, then the rows at or
-- after it (the bound reaches the scan as a filter); the JSONL lines are parsed once. A $bound
-- given (a bound found before, for the same files: store/ranking.py `newest_copies`) is used as
-- it is, and the first read is left out: any bound gives the same runs when the answer is kept.
-- Parameters: $parquet, $jsonl (VARCHAR[], each ending with its placeholder file), $structure
--             (JSON: the five columns' DuckDB types, from schema.py), $workflow_id (NULL = all),
--             $status (NULL = all), $since (ISO text or NULL), $limit (NULL = no limit),
--             $window (BIGINT; NULL = rank every run), $bound (TIMESTAMPTZ; NULL = found here).
WITH lines AS MATERIALIZED (  -- the JSONL rows, parsed once: the bound and the ranking read them
    SELECT t.run_id, t.finished_at, t.total_time_s, t.status, t.workflow_id
    FROM (
        SELECT json_transform(json, $structure) AS t
        FROM read_ndjson_objects($jsonl, ignore_errors = true)
        WHERE NOT mantis_bad_line(json)
    )
),
bound AS (
    SELECT coalesce(CAST($bound AS TIMESTAMPTZ), min(finished_at)) AS bound
    FROM (
        SELECT finished_at
        FROM (
            SELECT finished_at, status, workflow_id
            FROM read_parquet($parquet)
            UNION ALL BY NAME
            SELECT finished_at, status, workflow_id
            FROM lines
        )
        WHERE $window IS NOT NULL AND $bound IS NULL AND finished_at IS NOT NULL
          AND ($workflow_id IS NULL OR workflow_id = $workflow_id)
          AND ($status IS NULL OR status = $status)
        ORDER BY finished_at DESC
        LIMIT $window
    )
)
SELECT run_id, finished_at, total_time_s, status, workflow_id, source, bound
FROM (
    SELECT *
    FROM (
        SELECT run_id, finished_at, total_time_s, status, workflow_id, filename AS source
        FROM read_parquet($parquet, filename = true)
        WHERE $window IS NULL OR finished_at >= (SELECT bound FROM bound)
        UNION ALL BY NAME
        SELECT *, NULL AS source
        FROM lines
        WHERE $window IS NULL OR finished_at >= (SELECT bound FROM bound)
    )
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY @copy_order@) = 1
), bound
WHERE ($workflow_id IS NULL OR workflow_id = $workflow_id)
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
ORDER BY @newest_order@
LIMIT $limit;
