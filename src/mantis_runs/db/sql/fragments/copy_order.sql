-- copy_order: which copy of a run wins. This is the one rule for run_ids written more than once;
-- the views, `stats` and compaction rank copies by it (sqlfiles.load puts this list where a
-- query says @copy_order@: ORDER BY @copy_order@, and the first copy is the run). In order:
--   a copy with a finished_at beats one without (NULL: missing or unparseable);
--   then the latest finished_at;
--   then a finite total_time_s beats none (NULL, NaN, +-infinity: only hand-written lines);
--   then the largest finite total_time_s;
--   then status, then workflow_id, by their text, descending (NULL last), so that copies tied
--   on time and total still resolve the same way on every path.
-- Copies equal in all of these are interchangeable for every question mantis answers.
-- (Plain sort keys, not one struct: a struct key turns DuckDB's window into an arg_max
-- aggregate that cannot spill, and the views ran out of memory at 10M runs.)
finished_at DESC NULLS LAST,
mantis_finite(total_time_s) DESC NULLS LAST,
status DESC NULLS LAST,
workflow_id DESC NULLS LAST
