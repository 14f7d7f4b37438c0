-- compact_events_counts: the non-blank lines of the sealed events shard $files, how many of them
-- cannot be run events (mantis_bad_event: they go to quarantine), and the largest seq of the
-- month's current events part $previous (0 when it is the empty placeholder): the first pass of
-- compacting an events shard (compaction/events.py).
SELECT (SELECT count(*) FROM read_ndjson_objects($files, ignore_errors = true)),
       (SELECT count(*) FROM read_ndjson_objects($files, ignore_errors = true)
        WHERE mantis_bad_event(json)),
       (SELECT coalesce(max(seq), 0) FROM read_parquet($previous));
