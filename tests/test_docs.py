"""Docs stay true: the CLI reference matches --help, and the README's commands run as written."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_generated_from_help() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "docs" / "gen_cli_reference.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == gen.render(), (
        "docs/cli.md is stale: run python docs/gen_cli_reference.py")


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for cmd in re.findall(r"^## `mantis runs (\w+)`", cli, re.M):
        assert f"mantis runs {cmd}" in readme, cmd


def test_readme_first_command_runs_and_points_at_a_fresh_folder(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python -m pip install -e .\nmantis runs demo\n" in readme
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path),
           "TMPDIR": str(tmp_path)}
    p = subprocess.run(["mantis", "runs", "demo", "--runs", "150"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    folder = re.search(r"to (\S+)\n", p.stdout)
    assert folder and folder.group(1).startswith(str(tmp_path / "mantis-demo-"))
    assert not (tmp_path / ".local").exists()  # never the user's real log
    stats = re.search(r"^  (mantis runs stats .*)$", p.stdout, re.M)
    assert stats
    q = subprocess.run(stats.group(1), shell=True, capture_output=True, text=True, env=env,
                       timeout=60)
    assert q.returncode == 0 and "total_time_s" in q.stdout, q.stderr
