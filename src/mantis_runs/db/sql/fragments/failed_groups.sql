-- failed_groups: the select list that groups failed runs for mantis_failed (failures_table), as
-- failures_chosen and failures_whole_parquet read them (sqlfiles.load puts it where a query
-- says @failed_groups@; the query ends with GROUP BY error, week): the error text, the start
-- of the ISO week (mantis_week_start), how many runs, the first and last finished_at in
-- microseconds since the epoch.
error,
mantis_week_start(finished_at) AS week,
count(*) AS runs,
min(epoch_us(finished_at)) AS first_us,
max(epoch_us(finished_at)) AS last_us
