-- mantis_event_parts(files): the rows of the events parts (*.parquet) among `files` (which must
-- name one at least: the empty placeholder, views.event_list), as mantis_event_rows gives
-- events: run_id, type, ts, fields, file (the shard they came from, YYYY-MM.jsonl) and seq,
-- the order they were written in made negative, so that a month's part comes before its JSONL
-- shards in (file, seq) order and answers are the same before and after compaction.
CREATE OR REPLACE TEMP MACRO mantis_event_parts(files) AS TABLE
SELECT run_id, type, ts, fields, file, seq - 4611686018427387904 AS seq
FROM read_parquet(list_filter(files, lambda f: suffix(f, '.parquet')));
