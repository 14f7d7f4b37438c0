-- stats_rows_details: the details of the runs stats_rows returns, as (row, run_id, error,
-- extra): `row` is the run's rowid as stats_rows returns it (the same filters), run_id its
-- run_id, error and extra those of its winning copy (mantis_winning_details).
-- Parameters: $workflow_id, $status, $finished_before.
SELECT "row", run_id, error, extra
FROM mantis_winning_details($status, $finished_before, $workflow_id);
