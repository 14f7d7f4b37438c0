-- compact_upgrade: the rows of a part written in Parquet layout 1, in the current layout, for
-- compaction to write as the part's next generation (mantis_upgrade_rows; same rows, same order
-- of columns by name).
-- Parameters: $files (the one part), $known_struct, $known_names.
SELECT * FROM mantis_upgrade_rows($files, $known_struct, $known_names);
