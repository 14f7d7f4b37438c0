-- compact_events_part: write a month's next events part to $path: every row of the current part
-- $previous (or the empty placeholder) and the good events of the sealed shard $files after
-- them ($base_seq: the largest seq of $previous), sorted by run_id, ts, seq so that one run's
-- events are found by the row groups' run_id statistics (run_ids begin with their start time,
-- so the ts statistics stay narrow too; `type` is dictionary-encoded and gets a bloom filter).
-- Row groups of $row_group_size rows; zstd (docs/storage-format.md, "Events parts").
COPY (
    SELECT * FROM read_parquet($previous)
    UNION ALL BY NAME
    SELECT * FROM mantis_event_part_rows($files, $file_name, $base_seq)
    ORDER BY run_id, ts, seq
) TO $path (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE $row_group_size);
