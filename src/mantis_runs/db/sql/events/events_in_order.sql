-- events_in_order: the events of $files that pass the filters in the order they happened (ts,
-- then line): one run's events (from a private copy of the lines that may hold it, in file
-- order) and each batch of `events --follow` (the new lines, in file order). Parameters: $files
-- and the filters of mantis_events_chosen, as in events_newest.
SELECT run_id, type, ts, fields, file, seq
FROM mantis_events_chosen($files, $one_run, $types, CAST($since AS TIMESTAMPTZ), $workflow,
                          CAST($workflow_runs AS VARCHAR[]), $field_keys, $field_values)
ORDER BY file, seq;
