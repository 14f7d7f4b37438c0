"""Regenerate docs/cli.md from the CLI's own --help: python docs/gen_cli_reference.py

tests/test_docs.py fails when docs/cli.md differs from what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from mantis_runs.cli import main

HEADER = """# CLI reference

Generated from `--help` by `python docs/gen_cli_reference.py`; a test keeps it in sync.
"""


def _walk(cmd: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.list_commands(click.Context(cmd))):
            sub = cmd.get_command(click.Context(cmd), name)
            if sub is not None and not sub.hidden:
                out.extend(_walk(sub, [*path, name]))
    return out


def render() -> str:
    parts = [HEADER]
    for path, _cmd in _walk(main, ["mantis"]):
        result = CliRunner().invoke(main, [*path[1:], "--help"], prog_name="mantis",
                                    terminal_width=100)
        assert result.exit_code == 0, result.output
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    target = Path(__file__).with_name("cli.md")
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text(encoding="utf-8") == text else 1)
    target.write_text(text, encoding="utf-8")
