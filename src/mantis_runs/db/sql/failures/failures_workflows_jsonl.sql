-- failures_workflows_jsonl: the workflow ids of the JSONL rows gathered in mantis_candidates
-- (stats_collect_jsonl keeps every workflow's rows since --since, as rivals).
SELECT DISTINCT workflow_id
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND workflow_id IS NOT NULL;
