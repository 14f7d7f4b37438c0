-- compact_bad_flags: one flag per non-blank line of the shard $files, in file order (the caller
-- turns on preserve_insertion_order), true where the line is bad. Run only when a shard has bad
-- lines; the caller maps the flags back to physical line numbers and checks the counts agree.
SELECT mantis_bad_line(json) AS bad
FROM read_ndjson_objects($files, ignore_errors = true);
