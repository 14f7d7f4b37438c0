-- mantis_newest_key(finished_at, run_id): the order of "the newest runs", the one rule for
-- `stats --last`, `list`, `report --latest` and the RunStore: ORDER BY mantis_newest_key(...) DESC
-- puts the latest finished_at first, ties by run_id descending, and runs without a finished_at
-- after every dated run (among themselves by run_id, descending).
CREATE OR REPLACE TEMP MACRO mantis_newest_key(finished_at, run_id) AS
    struct_pack(
        dated := finished_at IS NOT NULL,
        finished := coalesce(finished_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
        run_id := coalesce(run_id, ''));
