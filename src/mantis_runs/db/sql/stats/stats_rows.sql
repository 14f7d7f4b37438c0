-- stats_rows: the workflow's runs in mantis_candidates, one row per run (its winning copy),
-- in no particular order, each with its rowid (`row`, the key stats_rows_other and
-- stats_rows_attribute return with their rows), with the filters applied to that copy: status
-- $status (NULL = any) and finished_at before $finished_before (text; NULL = no bound). Rivals
-- (other workflows' copies) are left out by the workflow filter, so stats_drop_rivals need not
-- run first. Undated runs (only hand-written lines lack finished_at) are left out: they belong
-- to no time window. For readers that need the runs themselves rather than their percentiles
-- (compare), as plain columns that convert to numpy arrays without a Python object per value:
-- finished_at in microseconds since the epoch, the status as two flags, the total, the nine
-- known buckets one column each (the struct unnested: the columns are named as the buckets),
-- and whether the run has other buckets (then read by stats_rows_other). Not sorted here:
-- sorting the wide rows costs more than sorting the times in numpy.
-- Parameters: $workflow_id, $status, $finished_before.
SELECT "row",
       epoch_us(finished_at) AS finished_us,
       coalesce(status = 'succeeded', false) AS succeeded,
       coalesce(status = 'failed', false) AS failed,
       total_time_s,
       other IS NOT NULL AS has_other,
       unnest(known)
FROM mantis_chosen($status, $finished_before)
WHERE workflow_id = $workflow_id
  AND finished_at IS NOT NULL;
