from mantis_runs.cli import main

main()
