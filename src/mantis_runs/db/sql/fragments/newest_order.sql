-- newest_order: the order of "the newest runs", the one rule for `stats --last`, `list`,
-- `report --latest` and the RunStore (sqlfiles.load puts it where a query says @newest_order@):
-- the latest finished_at first, ties by run_id descending, and runs without a finished_at after
-- every dated run.
finished_at DESC NULLS LAST,
run_id DESC NULLS LAST
