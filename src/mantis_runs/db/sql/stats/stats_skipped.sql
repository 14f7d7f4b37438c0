-- stats_skipped: malformed lines per shard among the shards read for this call.
SELECT source, count(*) AS lines
FROM mantis_candidates
WHERE run_id IS NULL
GROUP BY source
ORDER BY source;
