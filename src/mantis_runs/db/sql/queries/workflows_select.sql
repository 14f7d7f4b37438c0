-- workflows_select: the workflow ids of the runs view (each run's winning copy), sorted; for
-- RunStore.workflows() and the hint of similar names when a workflow has no runs at all.
SELECT DISTINCT workflow_id
FROM runs
WHERE workflow_id IS NOT NULL
ORDER BY workflow_id;
