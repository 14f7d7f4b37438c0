-- stats_parquet_runs: how many rows of the Parquet files $files match the workflow, since and
-- status filters (copies of a run_id counted apart; row group statistics skip most files' other
-- workflows). Before a large --last reads every month at once to use them in place, the caller
-- checks that these alone do not exceed --last: if they do, there are more runs than --last (the
-- in-place path needs run_ids that never repeat), and months are read newest first instead.
-- Parameters: $files, $workflow_id, $since, $status.
SELECT count(*) AS rows
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
  AND ($status IS NULL OR status = $status);
