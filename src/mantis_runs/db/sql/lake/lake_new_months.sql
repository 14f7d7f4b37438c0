-- lake_new_months: how many rows of lake_new (lake_new_rows.sql) each month holds, for the
-- report and `--dry-run` (NULL: runs without a finished_at).
SELECT month, count(*) AS n
FROM lake_new
GROUP BY month
ORDER BY month NULLS LAST;
