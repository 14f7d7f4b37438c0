-- before_shard_copies: for a `stats(before=...)` baseline, the copies in the JSONL shards $files
-- (left unread: every row of each finished at or after $finished_before, db/jsonl_bounds.py) of
-- the workflow's runs gathered after step $after_step whose copy finished before the bound,
-- added to mantis_candidates at step $step with only what the copy order ranks by, read as
-- stats_collect_jsonl reads them (@stats_jsonl_read@). Every such copy finished at or after the
-- bound, so the dedupe that follows moves the run past it, as when every shard is read. Any
-- workflow: a copy under another workflow wins too. Bad lines are not copies (their count
-- comes from the shard's summary).
-- Parameters: $files, $columns, $workflow_id, $after_step, $finished_before, $step.
INSERT INTO mantis_candidates BY NAME
SELECT @stats_rival_columns@, true AS jsonl
FROM @stats_jsonl_read@
WHERE run_id IN (
    SELECT run_id
    FROM mantis_candidates
    WHERE @before_gathered@
);
