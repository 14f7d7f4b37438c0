-- stats_whole_other_lines: whether a gathered JSONL row of a whole-history `stats` has buckets of
-- other names (the JSONL half of mantis_whole_rows), with status $status: asked instead of
-- stats_whole_counts when the Parquet files' footers prove that none of their rows has one
-- (stats.footers); only then does stats_whole_other run.
-- Parameters: $workflow_id, $status.
SELECT coalesce(bool_or(cardinality(other) > 0), false) AS other
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND workflow_id = $workflow_id
  AND ($status IS NULL OR status = $status);
