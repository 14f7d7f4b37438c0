-- failures_whole_terminal: failures_terminal on the in-place path: the workflow's dated runs
-- since $since that ended succeeded or failed, among the rows of mantis_whole_rows (the Parquet
-- rows in place and the JSONL rows gathered; no run_id repeats there), counted on each side
-- apart: through the macro's UNION the Parquet count took twice as long.
-- Parameters: $files, $workflow_id, $since.
SELECT (SELECT count(*)
        FROM read_parquet($files)
        WHERE workflow_id = $workflow_id
          AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
          AND status IN ('succeeded', 'failed'))
     + (SELECT count(*)
        FROM mantis_candidates
        WHERE run_id IS NOT NULL
          AND workflow_id = $workflow_id
          AND finished_at IS NOT NULL
          AND status IN ('succeeded', 'failed')) AS terminal;
