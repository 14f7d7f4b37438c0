-- mantis_whole_rows(files, wf, since): the rows a whole-history `stats` reads in place: those of
-- the Parquet files `files` with workflow_id `wf` and finished_at >= `since` (ISO text; NULL: any
-- time), plus the workflow's JSONL rows already gathered in mantis_candidates (which hold no
-- Parquet rows of the workflow on this path). Copies of a run_id are not merged here:
-- stats.whole.repeats proves there are none, rivals under other workflows included.
CREATE OR REPLACE TEMP MACRO mantis_whole_rows(files, wf, since) AS TABLE
SELECT run_id, status, finished_at,
       mantis_finite(total_time_s) AS total_time_s,
       wall_time_breakdown AS known,
       wall_time_breakdown_other AS other
FROM read_parquet(files)
WHERE workflow_id = wf
  AND (since IS NULL OR finished_at >= CAST(since AS TIMESTAMPTZ))
UNION ALL
SELECT run_id, status, finished_at, total_time_s, known, other
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND workflow_id = wf;
