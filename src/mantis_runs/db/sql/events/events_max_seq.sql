-- events_max_seq: the largest seq of the events parts $files (VARCHAR[], at least one), 0 when
-- they have no rows: a checkpoint of the live events month numbers its rows after the month's
-- part (compaction/events.py), so readers order the part's rows before the checkpoint's.
SELECT coalesce(max(seq), 0) FROM read_parquet($files);
