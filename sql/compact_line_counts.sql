-- compact_line_counts: non-blank lines and bad lines of the sealed shards in $files.
-- (Blank and whitespace-only lines are not rows for any reader, so they are not counted.)
SELECT count(*) AS lines,
       count(*) FILTER (WHERE mantis_bad_line(json)) AS bad
FROM read_ndjson_objects($files, ignore_errors = true);
