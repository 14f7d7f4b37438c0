-- runs_finished_ids: which of the run_ids $ids have a row in the runs view (a terminal row in
-- any data dir or lake read: `list --running/--lost` over several sources).
SELECT DISTINCT run_id
FROM runs
WHERE list_contains($ids, run_id);
