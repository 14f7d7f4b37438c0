-- runs_bad_lines: malformed lines per JSONL shard (torn, NUL, garbage, non-object, no run_id).
-- In the live month a count of 1 can be a line being written right now.
CREATE OR REPLACE TEMP VIEW runs_bad_lines AS
SELECT parse_filename(filename) AS shard, count(*) AS lines
FROM read_ndjson_objects(getvariable('mantis_jsonl_files'), ignore_errors = true, filename = true)
WHERE mantis_bad_line(json)
GROUP BY ALL
ORDER BY shard;
