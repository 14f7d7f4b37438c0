-- lookup_bad_lines: how many lines of one JSONL file cannot be run rows (mantis_bad_line), the
-- count the runs_bad_lines view gives that file; the point lookups keep it per shard in the user
-- cache (db/linesearch.py) instead of parsing every shard at every lookup.
-- Parameters: $file (VARCHAR).
SELECT count(*)
FROM read_ndjson_objects($file, ignore_errors = true)
WHERE mantis_bad_line(json);
