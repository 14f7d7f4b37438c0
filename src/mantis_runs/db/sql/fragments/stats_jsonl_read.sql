-- stats_jsonl_read: the JSONL shards $files read as the stats engine reads them: the explicit
-- $columns (never auto-detected), records only, a line that does not parse as an all-NULL row.
-- Put in place of @stats_jsonl_read@ by stats_collect_jsonl, bounds_jsonl and
-- before_shard_copies, so a shard summarised or read for copies yields the rows, finished_at
-- and run_ids that gathering it would have.
read_json($files, format = 'newline_delimited', records = true, columns = $columns,
          ignore_errors = true)
