-- before_range: the runs of workflow $workflow_id gathered into mantis_candidates after step
-- $after_step whose copy finished before $finished_before (ISO text), the only runs a
-- `stats(before=...)` baseline keeps: how many (n), and the smallest and largest run_id (lo, hi)
-- of those that may have another copy in a Parquet file (stats/plan.py After.check): a row read
-- from JSONL, or a run_id among $shared (hashes of run_ids with copies in two Parquet files,
-- shared_ids.sql; compaction keeps one row per run_id in each file). lo and hi are NULL when
-- there is none, and then no file is read for copies.
-- Parameters: $workflow_id, $after_step, $finished_before, $shared (UBIGINT[]).
SELECT count(*) AS n,
       min(run_id) FILTER (WHERE jsonl OR list_contains($shared, hash(run_id))) AS lo,
       max(run_id) FILTER (WHERE jsonl OR list_contains($shared, hash(run_id))) AS hi
FROM mantis_candidates
WHERE @before_gathered@;
