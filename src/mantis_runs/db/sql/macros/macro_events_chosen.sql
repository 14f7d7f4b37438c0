-- mantis_events_chosen(files, one_run, types, since, workflow, workflow_runs, field_keys,
-- field_values): the events of `files` (mantis_event_rows) that pass the filters of
-- `mantis runs events` / RunStore.events, each NULL for no filter:
--   one_run: this run_id only;  types: VARCHAR[] of types;  since: ts at or after (TIMESTAMPTZ);
--   workflow: events whose own fields.workflow_id is it, or whose run is in workflow_runs (the
--   runs whose run_started names it: events_workflow_runs);
--   field_keys / field_values: VARCHAR[] pairs, each fields->>key equal to its value as text.
CREATE OR REPLACE TEMP MACRO mantis_events_chosen(files, one_run, types, since, workflow,
                                                  workflow_runs, field_keys, field_values)
AS TABLE
SELECT *
FROM mantis_event_rows(files)
WHERE (one_run IS NULL OR run_id = one_run)
  AND (types IS NULL OR list_contains(types, type))
  AND (since IS NULL OR ts >= since)
  AND (workflow IS NULL OR fields ->> 'workflow_id' = workflow
       OR list_contains(workflow_runs, run_id))
  AND (field_keys IS NULL OR len(list_filter(
           range(1, len(field_keys) + 1),
           lambda i: (fields ->> field_keys[i]) IS DISTINCT FROM field_values[i])) = 0);
