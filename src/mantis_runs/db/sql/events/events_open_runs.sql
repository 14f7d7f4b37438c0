-- events_open_runs: every event in $files of the runs that have a run_started event at or after
-- $since there and no row in the run log files given ($parquet, $jsonl: the run log's months
-- since then, live shards as their checkpoint plus a copy of the tail; bad lines are no rows,
-- mantis_bad_line). Any row of a run is its terminal row, whichever copy would win. What is
-- left are the runs still running, or lost: store/events.py tells which from these events.
-- The costly rules of a good line (mantis_bad_event, mantis_bad_line) run on few lines: the
-- candidates are every run_started line since $since (unchecked, picked by what
-- mantis_event_of reads: j ->> 'type', the ts as a timestamp) and the parts' run_started rows;
-- the run log's lines of the candidates are checked, then the start lines of the candidates
-- without a row, then the lines of the open runs. Each step is materialized, so that no check
-- is pushed below the step that makes it rare. Dropping the unchecked candidates that have a
-- row first changes nothing: a run with a row is never open, whatever its start lines. The
-- Parquet files are also read only between the smallest and the largest run_id looked for
-- (redundant with the IN, but a constant range DuckDB checks against each row group's
-- statistics: parts sorted by run_id, and run_ids that begin with their date, skip most).
-- A run_id may repeat in the steps before `started` (only tests of membership read them).
-- Events parts (*.parquet among $files) hold typed events only (mantis_event_rows reads them
-- the same way): their run_started rows since $since count as started, their rows of the open
-- runs are returned beside the JSONL lines'.
-- With $alive (`running` alone; else NULL: every run), only the run_ids of $alive (those with
-- an event in its window, events_alive_runs.sql) are candidates: no other can be running. The
-- parts' starts are then read only between its smallest and largest (constants: pushed to the
-- row groups' statistics). The run log's run_ids leave the candidates by an anti join. The
-- caller then leaves out of $files the events Parquet files whose footers prove they hold none
-- of those run_ids (store/open_runs.py: they could add nothing).
-- Parameters: $files (VARCHAR[]: events files, ending with the placeholders: views.event_list),
--             $since (ISO text), $parquet, $jsonl (VARCHAR[], each ending with its placeholder),
--             $alive (VARCHAR[], not empty, or NULL).
WITH lines AS MATERIALIZED (
    SELECT json, json ->> 'run_id' AS run_id, json ->> 'type' AS type, filename, seq
    FROM read_ndjson_objects(list_filter($files, lambda f: NOT suffix(f, '.parquet')),
                             ignore_errors = true, filename = true)
         WITH ORDINALITY AS l(json, filename, seq)
),
alive AS MATERIALIZED (
    SELECT unnest(CAST($alive AS VARCHAR[])) AS run_id
),
start_lines AS MATERIALIZED (
    SELECT json, run_id
    FROM lines
    WHERE type = 'run_started'
      AND try_cast(json ->> 'ts' AS TIMESTAMPTZ) >= CAST($since AS TIMESTAMPTZ)
      AND ($alive IS NULL OR run_id IN (SELECT run_id FROM alive))
),
part_starts AS MATERIALIZED (
    SELECT run_id
    FROM mantis_event_parts($files)
    WHERE type = 'run_started' AND ts >= CAST($since AS TIMESTAMPTZ)
      AND ($alive IS NULL OR run_id BETWEEN list_min($alive) AND list_max($alive))
      AND ($alive IS NULL OR run_id IN (SELECT run_id FROM alive))
),
candidates AS MATERIALIZED (
    SELECT run_id FROM start_lines
    UNION ALL
    SELECT run_id FROM part_starts
),
row_lines AS MATERIALIZED (
    SELECT json, run_id
    FROM (
        SELECT json, json_transform(json, '{"run_id": "VARCHAR"}').run_id AS run_id
        FROM read_ndjson_objects($jsonl, ignore_errors = true)
    )
    WHERE run_id IN (SELECT run_id FROM candidates)
),
finished AS (
    SELECT run_id
    FROM read_parquet($parquet)
    WHERE run_id IN (SELECT run_id FROM candidates)
      AND run_id BETWEEN (SELECT min(run_id) FROM candidates)
                     AND (SELECT max(run_id) FROM candidates)
    UNION ALL
    SELECT run_id FROM row_lines WHERE NOT mantis_bad_line(json)
),
unfinished AS MATERIALIZED (
    SELECT run_id FROM candidates ANTI JOIN finished USING (run_id)
),
open_start_lines AS MATERIALIZED (
    SELECT json, run_id FROM start_lines WHERE run_id IN (SELECT run_id FROM unfinished)
),
started AS MATERIALIZED (
    SELECT run_id FROM open_start_lines WHERE NOT mantis_bad_event(json)
    UNION
    SELECT run_id FROM part_starts WHERE run_id IN (SELECT run_id FROM unfinished)
),
open_lines AS MATERIALIZED (
    SELECT json, filename, seq
    FROM lines
    WHERE run_id IN (SELECT run_id FROM started)
)
SELECT run_id, type, ts, fields, file, seq
FROM (
    SELECT unnest(mantis_event_of(json)), parse_filename(filename) AS file, seq
    FROM open_lines
    WHERE NOT mantis_bad_event(json)
    UNION ALL
    SELECT *
    FROM mantis_event_parts($files)
    WHERE run_id IN (SELECT run_id FROM started)
      AND run_id BETWEEN (SELECT min(run_id) FROM started) AND (SELECT max(run_id) FROM started)
)
ORDER BY run_id, ts, file, seq;
