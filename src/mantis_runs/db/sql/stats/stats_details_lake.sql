-- stats_details_lake: stats_details_parquet over the lake months already read (mantis_lake,
-- db/lake_source.py): the copies of the workflow's chosen dated runs, with their error and extra
-- (JSON text in the lake, as in the Parquet layout), into mantis_details.
-- Parameters: $months, $undated, $workflow_id, $status, $finished_before.
INSERT INTO mantis_details BY NAME
SELECT run_id, workflow_id, status, finished_at, total_time_s, error, extra
FROM mantis_lake
WHERE (list_contains($months, month) OR ($undated AND month IS NULL))
  AND workflow_id = $workflow_id
  AND run_id IN (
      SELECT run_id
      FROM mantis_chosen($status, $finished_before)
      WHERE workflow_id = $workflow_id
        AND finished_at IS NOT NULL
  );
