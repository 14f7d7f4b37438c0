-- runs_all: every run (the relation RunStore.relation() returns).
SELECT *
FROM runs;
