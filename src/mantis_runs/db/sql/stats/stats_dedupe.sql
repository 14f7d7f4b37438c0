-- stats_dedupe: keep one copy of each run_id in mantis_candidates, the one the copy order (fragments/copy_order.sql) ranks
-- first (the copy the views and compaction keep too). The copies of other workflows (rivals)
-- take part: a run whose winning copy is under another workflow is not a run of this one.
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
        ORDER BY @copy_order@
    ) > 1
);
