-- runs_select: runs newest first (finished_at, then run_id) with the CLI's filters.
-- Parameters: $workflow_id (NULL = all), $status (NULL = all), $since (ISO text or NULL),
--             $limit (NULL = no limit).
SELECT *
FROM runs
WHERE ($workflow_id IS NULL OR workflow_id = $workflow_id)
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
ORDER BY finished_at DESC NULLS LAST, run_id DESC
LIMIT $limit;
