-- events_part_empty: write the empty events part (the columns of mantis_event_part_rows, no
-- rows) to $path from the empty JSONL placeholder $files: the placeholder that ends every list
-- of events files (views.event_part_placeholder).
COPY (SELECT * FROM mantis_event_part_rows($files, '', 0)) TO $path (FORMAT parquet);
