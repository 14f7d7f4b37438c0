-- stats_dedupe: keep one copy of each run_id in mantis_candidates: the latest finished_at, then
-- the largest total_time_s (the copy compaction keeps too). Identical copies are interchangeable.
DELETE FROM mantis_candidates
WHERE rowid IN (
    SELECT rowid
    FROM mantis_candidates
    WHERE run_id IN (
        SELECT run_id FROM mantis_candidates
        WHERE run_id IS NOT NULL
        GROUP BY run_id
        HAVING count(*) > 1
    )
    QUALIFY row_number() OVER (
        PARTITION BY run_id
        ORDER BY finished_at DESC NULLS LAST, total_time_s DESC NULLS LAST
    ) > 1
);
