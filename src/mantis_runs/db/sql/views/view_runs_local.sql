-- view_runs_local: with a lake (db/lake_source.py install_views), the local runs view
-- (view_runs.sql) keeps its rows under the name mantis_local_runs, and `runs` becomes the
-- merged view (view_runs_lake.sql) over it and the lake.
ALTER VIEW runs RENAME TO mantis_local_runs;
