-- mantis_chosen(status, finished_before): the runs of mantis_candidates (stats_candidates_table)
-- that the filters of a `stats` or `compare` call keep, applied to each run's winning copy (so
-- after stats_dedupe): status `status` (NULL = any) and finished_at before `finished_before`
-- (ISO text; NULL = no upper bound); malformed-line rows (run_id NULL) are never runs. Every
-- column, and the row's rowid as `row`. The one place these filters are written: the count, the
-- newest --last, the failure-rate window, the percentiles and compare's rows all read from it.
-- Created right after the table, which a table macro needs to exist.
CREATE OR REPLACE TEMP MACRO mantis_chosen(status_is, finished_before) AS TABLE
SELECT rowid AS "row", *
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND (status_is IS NULL OR status = status_is)
  AND (finished_before IS NULL OR finished_at < CAST(finished_before AS TIMESTAMPTZ));
