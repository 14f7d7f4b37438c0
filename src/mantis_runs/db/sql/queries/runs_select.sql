-- runs_select: runs newest first (fragments/newest_order.sql) with the CLI's filters.
-- Parameters: $workflow_id (NULL = all), $status (NULL = all), $since (ISO text or NULL),
--             $limit (NULL = no limit).
SELECT *
FROM runs
WHERE ($workflow_id IS NULL OR workflow_id = $workflow_id)
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
ORDER BY @newest_order@
LIMIT $limit;
