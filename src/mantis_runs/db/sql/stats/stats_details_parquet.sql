-- stats_details_parquet: the copies, in Parquet files (compacted parts, checkpoints of live
-- shards) already read by the stats engine, of the workflow's chosen dated runs (those
-- stats_rows returns), into mantis_details with their error and extra columns. Only copies
-- under the workflow: a chosen run's winning copy is one of them. Copies older than --since
-- are not left out: they lose to the winning copy anyway (it finished later).
-- Parameters: $files (VARCHAR[], not empty), $workflow_id, $status, $finished_before.
INSERT INTO mantis_details BY NAME
SELECT run_id, workflow_id, status, finished_at, total_time_s, error, extra
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND run_id IN (
      SELECT run_id
      FROM mantis_chosen($status, $finished_before)
      WHERE workflow_id = $workflow_id
        AND finished_at IS NOT NULL
  );
