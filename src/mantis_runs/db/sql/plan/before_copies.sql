-- before_copies: for a `stats(before=...)` baseline, the copies in the Parquet files $files
-- (each proven by its footer to hold no dated row before $finished_before: plan_before) of the
-- runs before_range finds, added to mantis_candidates at step $step with only what the copy
-- order ranks by. Every such copy finished at or after the bound (or has no finished_at, and
-- then loses), so the dedupe that follows moves the run past the bound, as when every file is
-- read. Any workflow: a copy under another workflow wins too. The run_id range lets the reader
-- skip row groups by their statistics.
-- Parameters: $files, $workflow_id, $after_step, $finished_before, $shared, $lo, $hi, $step.
INSERT INTO mantis_candidates BY NAME
SELECT @stats_rival_columns@, false AS jsonl
FROM read_parquet($files)
WHERE run_id BETWEEN $lo AND $hi
  AND run_id IN (
      SELECT run_id
      FROM mantis_candidates
      WHERE @before_gathered@
        AND (jsonl OR list_contains($shared, hash(run_id)))
  );
