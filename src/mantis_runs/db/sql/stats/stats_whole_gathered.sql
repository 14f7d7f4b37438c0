-- stats_whole_gathered: the rows of mantis_candidates before a whole-history `stats` reads the
-- workflow's Parquet rows in place: how many (the JSONL rows since --since, the workflow's and
-- other workflows', and the Parquet rivals of the JSONL runs) and how many of them are extra
-- copies of a run_id (any: the in-place path is not taken, the general path ranks them).
SELECT count(*) AS gathered,
       count(*) - count(DISTINCT run_id) AS repeated
FROM mantis_candidates
WHERE run_id IS NOT NULL;
