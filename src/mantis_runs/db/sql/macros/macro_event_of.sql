-- mantis_event_of(j): a good line of an events shard (NOT mantis_bad_event(j)) as a typed event,
-- the struct {run_id, type, ts TIMESTAMPTZ, fields JSON ({} when absent or null)}: how every
-- events query reads a line (mantis_event_rows, events_open_runs).
CREATE OR REPLACE TEMP MACRO mantis_event_of(j) AS {
    'run_id': j ->> 'run_id',
    'type': j ->> 'type',
    'ts': CAST(j ->> 'ts' AS TIMESTAMPTZ),
    'fields': CAST(CASE WHEN json_type(j, '$.fields') = 'OBJECT' THEN j -> 'fields'
                        ELSE '{}' END AS JSON)
};
