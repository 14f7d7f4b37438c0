-- stats_collect_lake: gather the workflow's rows of some month partitions of the lake (the
-- registered dataset mantis_lake, db/lake_source.py) into mantis_candidates.
-- The lake keeps every shipped copy (a copy that wins later, the same run from two hosts), so a
-- lake row may have other copies anywhere: its rows are marked like JSONL rows (`jsonl`), and
-- stats_rivals looks for their copies in every Parquet file; stats_lake_rivals finds the lake's
-- copies under other workflows.
-- The month and finished_at filters reach the dataset scan: only those months' files are read.
-- Parameters: $months (month partitions), $undated (also the partition of runs without a
-- finished_at), $workflow_id, $since, $step, $at_least, $before (as stats_collect_parquet).
INSERT INTO mantis_candidates BY NAME
SELECT
    @stats_workflow_columns@,
    true AS jsonl
FROM mantis_lake
WHERE (list_contains($months, month) OR ($undated AND month IS NULL))
  AND @stats_window@;
