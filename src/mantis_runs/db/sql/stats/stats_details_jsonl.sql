-- stats_details_jsonl: the copies, in JSONL shards already read by the stats engine, of the
-- workflow's chosen dated runs (those stats_rows returns), into mantis_details with their error
-- and extra keys. The lines are read as objects (read_ndjson_objects, bad lines left out by
-- mantis_bad_line), typed by $structure (json_transform: the same lenient casts as the stats
-- reader's explicit columns), and `extra` is what json_merge_patch leaves of the line once
-- $known (every schema key mapped to null) is applied: the keys beyond the schema, as JSON text
-- (NULL when there are none), as compaction stores them (mantis_sealed_rows).
-- Parameters: $files (VARCHAR[], not empty), $structure, $known, $workflow_id, $status,
--             $finished_before.
INSERT INTO mantis_details BY NAME
SELECT t.run_id, t.workflow_id, t.status, t.finished_at, t.total_time_s, t.error, extra
FROM (
    SELECT json_transform(json, $structure) AS t,
           nullif(json_merge_patch(json, $known)::VARCHAR, '{}') AS extra
    FROM read_ndjson_objects($files, ignore_errors = true)
    WHERE NOT mantis_bad_line(json)
)
WHERE t.workflow_id = $workflow_id
  AND t.run_id IN (
      SELECT run_id
      FROM mantis_chosen($status, $finished_before)
      WHERE workflow_id = $workflow_id
        AND finished_at IS NOT NULL
  );
