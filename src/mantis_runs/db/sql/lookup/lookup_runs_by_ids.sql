-- lookup_runs_by_ids: the runs with these run_ids (at most one row each: the runs view dedupes
-- run_ids), for RunStore.runs() once it knows which runs are the newest (store/lookup.py).
-- Parameters: $run_ids (VARCHAR[]).
SELECT *
FROM runs
WHERE list_contains($run_ids, run_id);
