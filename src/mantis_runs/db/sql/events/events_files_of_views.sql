-- events_files_of_views: the events files the run_events views of this connection read (the
-- session variable mantis_event_files, ending with the empty placeholder), as a VARCHAR[].
SELECT getvariable('mantis_event_files');
