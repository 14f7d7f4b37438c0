-- plain_time: whether finished_at is a time Python's datetime can hold and compare: not NULL,
-- finite (DuckDB's infinity and -infinity come back as naive datetime.max/min) and a day inside
-- years 1-9999 in UTC (a time beyond comes back as text). Put in place of @plain_time@ by
-- bounds_jsonl and bounds_parquet: a bound outside that range is no bound (the file is read).
(finished_at IS NOT NULL
 AND isfinite(finished_at)
 AND finished_at >= CAST('0001-01-02 00:00:00+00' AS TIMESTAMPTZ)
 AND finished_at < CAST('9999-12-31 00:00:00+00' AS TIMESTAMPTZ))
