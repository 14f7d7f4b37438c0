-- events_open_runs: every event in $files of the runs that have a run_started event at or after
-- $since there and no row in the run log files given ($parquet, $jsonl: the run log's months
-- since then, live shards as their checkpoint plus a copy of the tail; bad lines are no rows,
-- mantis_bad_line). Any row of a run is its terminal row, whichever copy would win. What is
-- left are the runs still running, or lost: store/events.py tells which from these events.
-- The rule of a good line (mantis_bad_event) is applied only to the lines that can matter, picked
-- first by what mantis_event_of reads (j ->> 'run_id', j ->> 'type', the ts as a timestamp):
-- the run_started lines since $since, then the lines of the open runs; each step materialized,
-- so that the costly checks run on few lines.
-- Events parts (*.parquet among $files) hold typed events only (mantis_event_rows reads them
-- the same way): their run_started rows since $since count as started, their rows of the open
-- runs are returned beside the JSONL lines'.
-- Parameters: $files (VARCHAR[]: events files, ending with the placeholders: views.event_list),
--             $since (ISO text), $parquet, $jsonl (VARCHAR[], each ending with its placeholder).
WITH lines AS MATERIALIZED (
    SELECT json, json ->> 'run_id' AS run_id, json ->> 'type' AS type, filename, seq
    FROM read_ndjson_objects(list_filter($files, lambda f: NOT suffix(f, '.parquet')),
                             ignore_errors = true, filename = true)
         WITH ORDINALITY AS l(json, filename, seq)
),
part_rows AS (
    SELECT * FROM mantis_event_parts($files)
),
start_lines AS MATERIALIZED (
    SELECT json, run_id
    FROM lines
    WHERE type = 'run_started'
      AND try_cast(json ->> 'ts' AS TIMESTAMPTZ) >= CAST($since AS TIMESTAMPTZ)
),
started AS (
    SELECT run_id FROM start_lines WHERE NOT mantis_bad_event(json)
    UNION
    SELECT run_id FROM part_rows
    WHERE type = 'run_started' AND ts >= CAST($since AS TIMESTAMPTZ)
),
finished AS (
    SELECT run_id
    FROM read_parquet($parquet)
    WHERE run_id IN (SELECT run_id FROM started)
    UNION ALL
    SELECT run_id
    FROM (
        SELECT json_transform(json, '{"run_id": "VARCHAR"}').run_id AS run_id
        FROM read_ndjson_objects($jsonl, ignore_errors = true)
        WHERE NOT mantis_bad_line(json)
    )
    WHERE run_id IN (SELECT run_id FROM started)
),
open_lines AS MATERIALIZED (
    SELECT json, filename, seq
    FROM lines
    WHERE run_id IN (SELECT run_id FROM started)
      AND run_id NOT IN (SELECT run_id FROM finished)
)
SELECT run_id, type, ts, fields, file, seq
FROM (
    SELECT unnest(mantis_event_of(json)), parse_filename(filename) AS file, seq
    FROM open_lines
    WHERE NOT mantis_bad_event(json)
    UNION ALL
    SELECT *
    FROM part_rows
    WHERE run_id IN (SELECT run_id FROM started)
      AND run_id NOT IN (SELECT run_id FROM finished)
)
ORDER BY run_id, ts, file, seq;
