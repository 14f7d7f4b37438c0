-- events_alive_runs: the run_ids with an event in $files dated from $alive_from to $alive_to, the
-- only runs `running` may list (store/events.py alive_window); events_open_runs then reads
-- those alone. The lines are not checked (a bad line's run_id too: a superset, each run is
-- judged from its good events), and a part's row groups are read only where their ts may be.
-- Parameters: $files (VARCHAR[]: events files, ending with the placeholders: views.event_list),
--             $alive_from, $alive_to (ISO text).
SELECT DISTINCT run_id
FROM (
    SELECT json ->> 'run_id' AS run_id, try_cast(json ->> 'ts' AS TIMESTAMPTZ) AS ts
    FROM read_ndjson_objects(list_filter($files, lambda f: NOT suffix(f, '.parquet')),
                             ignore_errors = true) AS l(json)
    UNION ALL
    SELECT run_id, ts
    FROM mantis_event_parts($files)
)
WHERE ts BETWEEN CAST($alive_from AS TIMESTAMPTZ) AND CAST($alive_to AS TIMESTAMPTZ)
  AND run_id IS NOT NULL
ORDER BY run_id;
