-- stats_rival_range: the smallest and largest run_id of the workflow's rows in mantis_candidates
-- that may have a rival in a Parquet file (see stats_rivals), among steps >= $min_step
-- (NULL: every step). Both NULL when there is none, and then no Parquet file is read for rivals.
-- The range lets the Parquet reader skip row groups by their run_id statistics: the writer's
-- run_ids begin with their date, so recent runs' rivals lie in few row groups.
-- Parameters: $workflow_id, $min_step, $shared (hashes of run_ids with copies in two Parquet
--             files, from shared_ids).
SELECT min(run_id) AS lo, max(run_id) AS hi
FROM mantis_candidates
WHERE workflow_id = $workflow_id
  AND ($min_step IS NULL OR step >= $min_step)
  AND (jsonl OR list_contains($shared, hash(run_id)));
