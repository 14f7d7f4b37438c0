-- compact_bad_lines: the ordinals (1-based, counting non-blank lines in file order) of the bad
-- lines of the shard $files. The caller turns on preserve_insertion_order, maps the ordinals to
-- physical line numbers while copying the lines to quarantine, and checks the counts agree.
SELECT ordinal
FROM (
    SELECT row_number() OVER () AS ordinal, mantis_bad_line(json) AS bad
    FROM read_ndjson_objects($files, ignore_errors = true)
)
WHERE bad
ORDER BY ordinal;
