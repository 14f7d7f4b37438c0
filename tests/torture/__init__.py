"""The slow torture tests (real processes, SIGKILL, full disks): see tests/conftest.py."""
