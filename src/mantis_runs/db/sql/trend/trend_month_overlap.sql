-- trend_month_overlap: stats_whole_overlap for every workflow at once, for the warm-up of
-- trend's closed-month memo (analysis/trend_warm.py), which proves a month once for all its
-- workflows: the Parquet rows of any workflow since $since whose run_id has another copy, one
-- in mantis_candidates (in JSONL, or a rival) or one of $shared_ids. None: no workflow's
-- in-place read meets a copy (no rival of its JSONL runs, no overlap of its Parquet rows).
-- Parameters: $files, $since, $shared_ids (VARCHAR[]).
SELECT count(*) AS overlap
FROM read_parquet($files)
WHERE ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
  AND run_id IN (
      SELECT run_id FROM mantis_candidates WHERE run_id IS NOT NULL
      UNION ALL
      SELECT unnest($shared_ids)
  );
