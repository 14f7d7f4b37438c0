-- before_shards: which of the JSONL shards a `stats(before=...)` baseline left unread
-- (stats/plan.py plan_before: every row of each finished at or after $finished_before) may hold
-- a copy of a run gathered into mantis_candidates after step $after_step whose copy finished
-- before the bound: the positions (1-based) in $lows/$highs (each shard's smallest and largest
-- run_id, db/jsonl_bounds.py) of the ranges holding one of those run_ids. A shard none falls in
-- holds no copy of them. Any row gathered counts (from JSONL or Parquet).
-- Parameters: $workflow_id, $after_step, $finished_before, $lows, $highs (VARCHAR[]).
SELECT r.i
FROM (SELECT unnest($lows) AS low, unnest($highs) AS high,
             unnest(range(1, len($lows) + 1)) AS i) AS r
WHERE EXISTS (
    SELECT 1
    FROM mantis_candidates AS c
    WHERE @before_gathered@
      AND c.run_id BETWEEN r.low AND r.high
)
ORDER BY r.i;
