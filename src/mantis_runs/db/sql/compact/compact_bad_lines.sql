-- compact_bad_lines: the ordinals (1-based, counting non-blank lines in file order) of the bad
-- lines of the shard $files: lines that are no row (mantis_bad_line) of a run shard, or no event
-- (mantis_bad_event) of an events shard when $events. The caller turns on
-- preserve_insertion_order, maps the ordinals to physical line numbers while copying the lines to
-- quarantine, and checks the counts agree.
SELECT ordinal
FROM (
    SELECT row_number() OVER () AS ordinal,
           CASE WHEN $events THEN mantis_bad_event(json) ELSE mantis_bad_line(json) END AS bad
    FROM read_ndjson_objects($files, ignore_errors = true)
)
WHERE bad
ORDER BY ordinal;
