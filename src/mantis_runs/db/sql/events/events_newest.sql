-- events_newest: the newest $limit events of $files that pass the filters, newest first
-- (ts, then file and line, descending). RunStore.events across runs, one batch of months at a
-- time (store/events.py). Parameters: $files (VARCHAR[], ending with the placeholder), $limit
-- (NULL: all), and the filters of mantis_events_chosen ($one_run, $types, $since (ISO text),
-- $workflow, $workflow_runs, $field_keys, $field_values; each NULL for none).
SELECT run_id, type, ts, fields, file, seq
FROM mantis_events_chosen($files, $one_run, $types, CAST($since AS TIMESTAMPTZ), $workflow,
                          CAST($workflow_runs AS VARCHAR[]), $field_keys, $field_values)
ORDER BY ts DESC, file DESC, seq DESC
LIMIT $limit;
