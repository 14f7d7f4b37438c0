-- failures_groups: mantis_failed grouped by the shape of the error text (translate($from, $to):
-- analysis/errors.py SHAPE_FROM, SHAPE_TO; texts of one shape have one class unless it keeps
-- a digit): one text of the shape (the least), how many runs, the first and last finished_at
-- (microseconds since the epoch), and the runs per ISO week, as a map from the week's start
-- (mantis_week_start) to a count. With $shapes (not NULL) only those shapes, grouped by the
-- text itself instead (`shape` is then the text): the shapes whose class keeps a digit.
-- translate costs per character: it runs once per distinct text. analysis/failures.py merges
-- the rows whose texts normalise to the same class, in Python.
-- Parameters: $from, $to, $shapes (VARCHAR[] or NULL).
WITH texts AS (
    SELECT error, week, sum(runs) AS runs, min(first_us) AS first_us, max(last_us) AS last_us
    FROM mantis_failed
    GROUP BY error, week
), shapes AS (
    SELECT error,
           CASE WHEN $shapes IS NULL THEN translate(error, $from, $to) ELSE error END AS shape
    FROM (SELECT DISTINCT error FROM texts)
    WHERE $shapes IS NULL OR list_contains($shapes, translate(error, $from, $to))
), weeks AS (
    SELECT s.shape, min(t.error) AS error, t.week, sum(t.runs) AS runs,
           min(t.first_us) AS first_us, max(t.last_us) AS last_us
    FROM texts AS t
    JOIN shapes AS s ON s.error IS NOT DISTINCT FROM t.error
    GROUP BY s.shape, t.week
)
SELECT shape, min(error) AS error, sum(runs) AS runs, min(first_us) AS first_us,
       max(last_us) AS last_us, map_from_entries(list((week, runs))) AS weekly
FROM weeks
GROUP BY shape;
