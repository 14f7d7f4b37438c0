-- mantis_tail_rows(files, wf, since, finished_before, known): the runs a `tail` reads in place
-- (analysis.runs_in_place): the workflow `wf`'s Parquet rows of `files` finished in [`since`,
-- `finished_before`) (ISO texts) read where they are, and its JSONL runs of the window gathered
-- in mantis_candidates with the error text of their copy (mantis_winning_details, filled from
-- the JSONL files only). stats.whole.repeats proved that no run_id repeats, so every row is a
-- run's only copy. One row per run, in no order, as stats_rows, stats_rows_attribute and
-- stats_rows_errors return them on the general path: finished_at in microseconds, the status as
-- two flags, the total (finite or NULL), whether the run has a bucket of another name with a
-- value (then the caller reads by the general path; a known name in the map, as a known bucket
-- whose value was null, is no bucket there either; `known` lists the known names), the four
-- attributes, the error text and the nine known buckets by name.
-- Created right after mantis_details (stats_details_table), which mantis_winning_details needs.
CREATE OR REPLACE TEMP MACRO mantis_tail_rows(files, wf, since, finished_before, known) AS TABLE
SELECT epoch_us(finished_at) AS finished_us,
       coalesce(status = 'succeeded', false) AS succeeded,
       coalesce(status = 'failed', false) AS failed,
       mantis_finite(total_time_s) AS total_time_s,
       coalesce(len(list_filter(map_entries(wall_time_breakdown_other), lambda e: e.value IS NOT NULL
                                AND NOT list_contains(known, e.key))), 0) > 0 AS has_other,
       model, plan_signature, profile_id, tenant_id, error,
       unnest(wall_time_breakdown)
FROM read_parquet(files)
WHERE workflow_id = wf
  AND finished_at >= CAST(since AS TIMESTAMPTZ)
  AND finished_at < CAST(finished_before AS TIMESTAMPTZ)
UNION ALL BY NAME
SELECT epoch_us(c.finished_at) AS finished_us,
       coalesce(c.status = 'succeeded', false) AS succeeded,
       coalesce(c.status = 'failed', false) AS failed,
       c.total_time_s,
       coalesce(len(list_filter(map_entries(c.other), lambda e: e.value IS NOT NULL
                                AND NOT list_contains(known, e.key))), 0) > 0 AS has_other,
       c.model, c.plan_signature, c.profile_id, c.tenant_id, d.error,
       unnest(c.known)
FROM mantis_chosen(NULL, finished_before) AS c
JOIN mantis_winning_details(NULL, finished_before, wf) AS d ON d."row" = c."row"
WHERE c.workflow_id = wf;
