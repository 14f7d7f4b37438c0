-- mantis_trend_rows(files, wf, since, end_at): the runs a `trend` (or `advise`) reads in place
-- (analysis.trend_fast): the dated rows of mantis_whole_rows (stats.whole.repeats proved that no
-- run_id repeats, so every row is a run's only copy) finished before `end_at` (ISO text; NULL:
-- no bound), every status, with
-- finished_at in microseconds since the epoch (the caller floors it to UTC days, as
-- analysis.runs does: a cast to DATE costs more) and the status as a code (1 succeeded,
-- 2 failed, 0 anything else).
CREATE OR REPLACE TEMP MACRO mantis_trend_rows(files, wf, since, end_at) AS TABLE
SELECT epoch_us(finished_at) AS finished_us,
       CAST(CASE status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 2 ELSE 0 END
            AS UTINYINT) AS code,
       total_time_s, known, other
FROM mantis_whole_rows(files, wf, since)
WHERE finished_at IS NOT NULL
  AND (end_at IS NULL OR finished_at < CAST(end_at AS TIMESTAMPTZ));
