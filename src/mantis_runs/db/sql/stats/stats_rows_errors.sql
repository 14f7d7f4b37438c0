-- stats_rows_errors: the error text of the runs stats_rows returns whose winning copy has one,
-- as (row, error): `row` is the run's rowid as stats_rows returns it (the same filters), error
-- that of its winning copy (mantis_winning_details, as stats_rows_details); the runs without
-- error text are left out (`tail` without extra keys needs no other detail, and most runs
-- succeeded without one).
-- Parameters: $workflow_id, $status, $finished_before.
SELECT "row", error
FROM mantis_winning_details($status, $finished_before, $workflow_id)
WHERE error IS NOT NULL;
