-- stats_whole_overlap: the workflow's Parquet rows since $since whose run_id has another copy:
-- one in mantis_candidates (in JSONL, or under another workflow), or one of $shared_ids (the
-- run_ids with more than one copy among the store's Parquet files: shared_ids.shared_run_ids,
-- cached; within one file too). Any such row keeps a whole-history `stats` off the in-place
-- path. The run_ids are matched as text, so row-group statistics skip the row groups whose
-- run_id range holds none of them (the writer's run_ids begin with their date).
-- Parameters: $files, $workflow_id, $since, $shared_ids (VARCHAR[]).
SELECT count(*) AS overlap
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
  AND run_id IN (
      SELECT run_id FROM mantis_candidates WHERE run_id IS NOT NULL
      UNION ALL
      SELECT unnest($shared_ids)
  );
