-- failures_newest_parquet: failures_newest_chosen for the Parquet rows read in place
-- (failures_whole_parquet): the workflow's failed rows that finished at one of the instants
-- $at (TIMESTAMPTZ[]: each error class's last; row groups whose finished_at range holds none
-- are skipped), the newest run (@newest_order@) of each error text and instant.
-- Parameters: $files (VARCHAR[], not empty), $workflow_id, $at (TIMESTAMPTZ[]).
SELECT error, epoch_us(finished_at) AS at, first(run_id ORDER BY @newest_order@) AS newest
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND status = 'failed'
  AND finished_at IN (SELECT unnest($at))
GROUP BY error, finished_at;
