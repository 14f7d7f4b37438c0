-- runs_select: runs newest first (mantis_newest_key) with the CLI's filters.
-- Parameters: $workflow_id (NULL = all), $status (NULL = all), $since (ISO text or NULL),
--             $limit (NULL = no limit).
SELECT *
FROM runs
WHERE ($workflow_id IS NULL OR workflow_id = $workflow_id)
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
ORDER BY mantis_newest_key(finished_at, run_id) DESC
LIMIT $limit;
