-- runs_by_id: the run with run_id = $run_id (at most one row: the runs view dedupes run_ids).
SELECT *
FROM runs
WHERE run_id = $run_id;
