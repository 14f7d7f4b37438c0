-- mantis_event_part_rows(files, file_name, base_seq): the good lines (NOT mantis_bad_event) of
-- the JSONL events shards `files` as rows of an events part (events_log/compacted/<month>/
-- part-*.parquet; docs/storage-format.md): run_id, type, ts, fields (mantis_event_of), file
-- (`file_name`: the month's live shard name, YYYY-MM.jsonl, as readers name the file of an
-- event) and seq (the line's place among the lines read, after `base_seq`: the order the events
-- were written in). The one definition of an events part's columns (the placeholder too).
-- The caller turns preserve_insertion_order on: seq is the file order.
CREATE OR REPLACE TEMP MACRO mantis_event_part_rows(files, file_name, base_seq) AS TABLE
SELECT CAST(e.run_id AS VARCHAR) AS run_id,
       CAST(e.type AS VARCHAR) AS type,
       CAST(e.ts AS TIMESTAMPTZ) AS ts,
       CAST(e.fields AS JSON) AS fields,
       CAST(file_name AS VARCHAR) AS file,
       CAST(base_seq + seq AS BIGINT) AS seq
FROM (
    SELECT mantis_event_of(json) AS e, seq
    FROM read_ndjson_objects(files, ignore_errors = true) WITH ORDINALITY AS l(json, seq)
    WHERE NOT mantis_bad_event(json)
);
