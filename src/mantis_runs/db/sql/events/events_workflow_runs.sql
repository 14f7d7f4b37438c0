-- events_workflow_runs: the run_ids whose run_started event names $workflow
-- (fields.workflow_id) in $files: which runs `events --workflow` shows (docs/events.md).
-- Parameters: $files (VARCHAR[], ending with the placeholder), $workflow.
SELECT DISTINCT run_id
FROM mantis_event_rows($files)
WHERE type = 'run_started' AND fields ->> 'workflow_id' = $workflow
ORDER BY run_id;
