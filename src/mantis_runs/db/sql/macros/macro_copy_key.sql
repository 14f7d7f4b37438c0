-- mantis_copy_key(finished_at, total_time_s, status, workflow_id): which copy of a run wins.
-- This is the one rule for run_ids written more than once; the views, `stats` and compaction all
-- rank copies by it: ORDER BY mantis_copy_key(...) DESC, and the first copy is the run. In order:
--   a copy with a finished_at beats one without (NULL: missing or unparseable);
--   then the latest finished_at;
--   then a finite total_time_s beats none (NULL, NaN, +-infinity: only hand-written lines);
--   then the largest finite total_time_s;
--   then status, then workflow_id, by their text, descending (NULL as ''), so that copies tied
--   on time and total still resolve the same way on every path.
-- Copies equal in all six are interchangeable for every question mantis answers.
CREATE OR REPLACE TEMP MACRO mantis_copy_key(finished_at, total_time_s, status, workflow_id) AS
    struct_pack(
        dated := finished_at IS NOT NULL,
        finished := coalesce(finished_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
        finite := coalesce(isfinite(total_time_s), false),
        total := CASE WHEN isfinite(total_time_s) THEN total_time_s ELSE 0.0 END,
        status := coalesce(status, ''),
        workflow := coalesce(workflow_id, ''));
