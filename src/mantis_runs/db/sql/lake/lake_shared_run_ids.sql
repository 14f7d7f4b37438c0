-- lake_shared_run_ids: the run_ids with two or more rows in the lake table's current version
-- (mantis_lake: deltalake's Arrow dataset, only its run_id column read), sorted; the proof
-- `lake compact` writes beside the table (lake/proof.py). The same set as
-- shared_run_ids.sql over every data file, without its hash-collision extras.
SELECT run_id
FROM mantis_lake
WHERE run_id IS NOT NULL
GROUP BY run_id
HAVING count(*) > 1
ORDER BY run_id;
