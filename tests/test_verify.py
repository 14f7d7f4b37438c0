"""Checksums of compacted parts and ``mantis runs verify``, with real files, real DuckDB and the
real CLI.

* every published part has a checksum file; ``verify`` checks every part, checkpoint and
  quarantine file, exit 0 when all is well;
* a part damaged anywhere (a data page, its footer, its footer's length or magic, cut short) is
  reported by ``verify`` (exit 1, one line naming it), compaction refuses to build on it and
  leaves it in place (the month's sealed shard stays readable, the other months are compacted),
  and ``stats`` refuses it with one line naming it whenever its size or footer shows the damage;
* a part written before checksums existed is "unchecked", still read, and gets a checksum when
  compaction rewrites it; a checksum file that cannot be read is damage;
* damaged quarantine files are reported with the line;
* recovery removes checksum files left without their part; a full disk while a checksum file is
  written is one line naming it, and nothing is published.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from mantis_runs.compaction import compact
from mantis_runs.errors import MantisError
from mantis_runs.log.integrity import RESTORE_ALL, checksum_path, measure
from mantis_runs.log.layout import scan
from mantis_runs.stats.engine import stats

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # Feb, Mar and Apr are closed; May is open
RESTORE_LINE = 'restore it from a backup (docs/compaction.md, "Verifying a store")'


def run(run_id: str, fin: str, total: float, wf: str = "wa") -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": wf, "status": "succeeded", "finished_at": fin,
            "total_time_s": total, "wall_time_breakdown": {"think": total / 2, "act": total / 4}}


def month_rows(month: str, prefix: str, n: int) -> list[dict[str, Any]]:
    return [run(f"{prefix}{i:03d}", f"{month}-{1 + i % 27:02d}T{i % 24:02d}:00:00Z",
                1.0 + i * 7 % 50, "wa" if i % 3 else "wb") for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Feb, Mar and Apr compacted (Mar with one bad line, quarantined), May checkpointed."""
    d = tmp_path / "data"
    write_rows(d, month_rows("2026-02", "f", 300) + month_rows("2026-03", "m", 300)
               + month_rows("2026-04", "a", 300) + month_rows("2026-05", "y", 40))
    with open(d / "runs_log" / "2026-03.jsonl", "ab") as f:
        f.write(b"not a row\n")
    compact(d, now=NOW, checkpoint_min_bytes=0)
    assert sorted(scan(d)) == ["2026-02", "2026-03", "2026-04", "2026-05"]
    return d


def part_of(d: Path, month: str) -> Path:
    (part,) = scan(d)[month].parts
    return part


def answers(d: Path) -> list[dict[str, Any]]:
    return [stats(wf, data_dir=d, status="", last=last).to_json()
            for wf in ("wa", "wb") for last in (10**6, 5)]


def verify_cli(d: Path) -> tuple[int, list[str]]:
    code, out, err = run_cli("runs", "verify", "--data-dir", str(d))
    assert err == ""
    return code, out.splitlines()


def late(d: Path, month: str, prefix: str) -> None:
    """Late rows for a compacted month: the next compaction must build on its part."""
    write_rows(d, [run(f"{prefix}{i}", f"{month}-28T0{i}:00:00Z", 99.0 + i) for i in range(3)])


# --------------------------------------------------------------------------------------------
# a sound store


def test_every_part_has_a_checksum_and_verify_says_all_is_well(store: Path) -> None:
    parts = [p for mf in scan(store).values() for p in mf.parts]
    assert len(parts) == 3
    for p in parts:
        raw = json.loads(checksum_path(p).read_text())
        assert raw == {"format": 1, "file": p.name, **measure(p).to_json()}
        assert raw["bytes"] == p.stat().st_size
        assert p.read_bytes()[-4:] == b"PAR1" and 8 < raw["footer_bytes"] < raw["bytes"]
        assert checksum_path(p) == store / "checksums" / p.parent.name / f"{p.name}.json"

    code, lines = verify_cli(store)
    assert code == 0
    assert lines == [f"Checked {store}: 3 parts and 1 checkpoint against their checksums, "
                     "1 quarantine file.", "No damage found."]
    code, out, err = run_cli("runs", "verify", "--json", "--data-dir", str(store))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"ok": True, "data_dir": str(store), "parts": 3, "checkpoints": 1,
                               "quarantine_files": 1, "unchecked": [], "damaged": []}


# --------------------------------------------------------------------------------------------
# a damaged part


def flip(path: Path, pos: int) -> None:
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x20]))


QUICK_FOOTER = "its footer does not match the checksum recorded when it was written"
FULL = "its bytes do not match the SHA-256 recorded when it was written"


def damage(part: Path, where: str) -> tuple[str | None, str]:
    """Damage ``part``; returns what readers' quick check says (None: it cannot see it) and
    what the full check says."""
    size = part.stat().st_size
    footer = measure(part).footer_bytes
    if where == "data page":
        flip(part, (size - footer) // 2)
        return None, FULL
    if where == "footer":
        flip(part, size - footer // 2)
    elif where == "footer length":
        flip(part, size - 7)
    elif where == "magic":
        flip(part, size - 1)
    else:  # cut short
        with open(part, "r+b") as f:
            f.truncate(size - 100)
        why = f"it has {size - 100:,} bytes, {size:,} when it was written"
        return why, why
    return QUICK_FOOTER, FULL


@pytest.mark.parametrize("where", ["data page", "footer", "footer length", "magic", "cut short"])
def test_a_damaged_part_is_reported_refused_and_never_built_on(store: Path, where: str) -> None:
    march = part_of(store, "2026-03")
    april = part_of(store, "2026-04")
    quick, full = damage(march, where)
    damaged = march.read_bytes()

    code, lines = verify_cli(store)
    assert code == 1
    assert lines == [
        f"Checked {store}: 2 parts and 1 checkpoint against their checksums, 1 quarantine file.",
        f"DAMAGED compacted/2026-03/{march.name}: {full}; {RESTORE_LINE}",
        "1 damaged file found."]

    # readers: one line naming the part whenever its size or footer shows the damage
    code, out, err = run_cli("runs", "stats", "wa", "--status", "", "--data-dir", str(store))
    if quick is not None:
        assert (code, out) == (1, "")
        assert err == f"error: {march} is damaged: {quick}; {RESTORE_ALL}\n"
    else:  # a flipped byte in a data page: what verify and compaction are for
        assert "Traceback" not in err

    # compaction: March's part is not built on, nor touched; April goes on
    late(store, "2026-03", "lm")
    late(store, "2026-04", "la")
    found = quick or full  # (its size or footer, when they show it, are checked first)
    with pytest.raises(MantisError) as info:
        compact(store, now=NOW, checkpoint_min_bytes=0)
    assert str(info.value) == (
        f"{march} is damaged: {found}; it was left as it is, and nothing of 2026-03 was "
        f"compacted (its JSONL files stay readable); {RESTORE_ALL}")
    assert march.read_bytes() == damaged
    mar = scan(store)["2026-03"]
    assert mar.parts == [march] and len(mar.sealed) == 1 and mar.live is None
    new_april = part_of(store, "2026-04")
    assert new_april.name.startswith("part-000002-") and not april.exists()
    assert not (store / ".tmp").exists()
    # the dry run stops at it, as the real run would
    with pytest.raises(MantisError) as info:
        compact(store, now=NOW, dry_run=True)
    assert str(info.value) == f"{march} is damaged: {found}; {RESTORE_ALL}"


def test_a_restored_part_is_built_on(store: Path) -> None:
    march = part_of(store, "2026-03")
    backup = march.read_bytes()
    before = answers(store)
    flip(march, 200)
    late(store, "2026-03", "lm")
    with pytest.raises(MantisError):
        compact(store, now=NOW)
    march.write_bytes(backup)  # restored from a backup
    assert verify_cli(store)[0] == 0
    (mr,) = compact(store, now=NOW).months
    assert (mr.month, mr.previous_rows, mr.rows_in, mr.rows_written) == ("2026-03", 300, 3, 303)
    assert verify_cli(store)[0] == 0
    after = answers(store)
    assert after[0]["run_count"] == before[0]["run_count"] + 3


def test_other_months_are_compacted_and_each_damaged_part_counted(store: Path) -> None:
    feb, mar = part_of(store, "2026-02"), part_of(store, "2026-03")
    flip(feb, 100)
    flip(mar, 100)
    for month in ("2026-02", "2026-03", "2026-04"):
        late(store, month, f"l{month[-1]}")
    with pytest.raises(MantisError) as info:
        compact(store, now=NOW)
    assert str(info.value).startswith(f"{feb} is damaged: {FULL}; it was left as it is")
    assert str(info.value).endswith(f"{RESTORE_ALL} (1 more damaged part: run "
                                    "`mantis runs verify`)")
    assert "\n" not in str(info.value)
    assert part_of(store, "2026-04").name.startswith("part-000002-")
    code, lines = verify_cli(store)
    assert code == 1 and [ln.split(":")[0] for ln in lines[1:3]] == [
        f"DAMAGED compacted/2026-02/{feb.name}", f"DAMAGED compacted/2026-03/{mar.name}"]


# --------------------------------------------------------------------------------------------
# parts without a checksum, and checksum files that cannot be read


def test_a_part_without_a_checksum_is_unchecked_read_and_gets_one_when_rewritten(
        store: Path) -> None:
    before = answers(store)
    feb = part_of(store, "2026-02")
    checksum_path(feb).unlink()  # as an earlier mantis-runs wrote it
    assert answers(store) == before
    code, lines = verify_cli(store)
    assert code == 0
    assert lines == [
        f"Checked {store}: 2 parts and 1 checkpoint against their checksums, 1 quarantine file.",
        f"unchecked compacted/2026-02/{feb.name}: no checksum: written by an earlier "
        "mantis-runs; it decodes, and gets a checksum when compaction next rewrites it",
        "No damage found."]

    late(store, "2026-02", "lf")
    compact(store, now=NOW)
    new = part_of(store, "2026-02")
    assert new.name.startswith("part-000002-") and checksum_path(new).is_file()
    assert verify_cli(store) == (0, [f"Checked {store}: 3 parts and 1 checkpoint against their "
                                     "checksums, 1 quarantine file.", "No damage found."])


def test_an_unchecked_part_that_does_not_decode_is_damage(store: Path) -> None:
    feb = part_of(store, "2026-02")
    checksum_path(feb).unlink()
    with open(feb, "r+b") as f:
        f.truncate(feb.stat().st_size // 2)
    code, lines = verify_cli(store)
    assert code == 1
    assert lines[1].startswith(f"DAMAGED compacted/2026-02/{feb.name}: it has no checksum "
                               "(written by an earlier mantis-runs) and cannot be decoded: ")
    assert lines[1].endswith(RESTORE_LINE)


@pytest.mark.parametrize(("content", "why"), [
    (b"not json\n", "it is not JSON"),
    (b"", "it is not JSON"),
    (b"\xff\xfe{}\n", "it is not UTF-8"),
    (b"[1]", "it is not a checksum file of this mantis-runs"),
    (b'{"format": 2}', "it is not a checksum file of this mantis-runs"),
    (b"{" + b" " * 70_000 + b"}", "it is over 65,536 bytes"),
    ("other part", "it describes 'part-000001-x.parquet'"),
    ("no size", "'bytes' is not a whole number"),
    ("size is text", "'bytes' is not a whole number"),
    ("short digest", "a checksum's SHA-256 is not 64 lowercase hex digits"),
    ("footer too long", "a checksum's footer is longer than its file"),
])
def test_a_checksum_file_that_cannot_be_used_is_damage(store: Path, content: bytes | str,
                                                       why: str) -> None:
    apr = part_of(store, "2026-04")
    path = checksum_path(apr)
    if isinstance(content, str):
        raw = json.loads(path.read_bytes())
        if content == "other part":
            raw["file"] = "part-000001-x.parquet"
        elif content == "no size":
            del raw["bytes"]
        elif content == "size is text":
            raw["bytes"] = str(raw["bytes"])
        elif content == "short digest":
            raw["sha256"] = raw["sha256"][:-1]
        else:
            raw["footer_bytes"] = raw["bytes"] + 1
        content = json.dumps(raw).encode()
    path.write_bytes(content)
    code, lines = verify_cli(store)
    assert code == 1
    assert lines[1] == (f"DAMAGED compacted/2026-04/{apr.name}: its checksum file {path} cannot "
                        f"be used: {why}; {RESTORE_LINE}")
    code, out, err = run_cli("runs", "stats", "wa", "--data-dir", str(store))
    assert (code, out) == (1, "")
    assert err == (f"error: {apr} is damaged: its checksum file {path} cannot be used: {why}; "
                   f"{RESTORE_ALL}\n")


# --------------------------------------------------------------------------------------------
# quarantine files


def quarantine_file(d: Path) -> Path:
    (q,) = (d / "quarantine" / "2026-03").iterdir()
    return q


@pytest.mark.parametrize("how", ["text", "raw", "cut", "garbage"])
def test_a_damaged_quarantine_file_is_reported(store: Path, how: str) -> None:
    q = quarantine_file(store)
    entry = json.loads(q.read_bytes())
    assert entry["text"] == "not a row"
    data = q.read_bytes()
    if how == "text":
        q.write_bytes(data.replace(b'"text": "not a row"', b'"text": "not a rot"'))
        why = "line 1 is not an entry as compaction wrote it: its text is not the UTF-8 reading " \
              "of its raw_base64"
    elif how == "raw":
        raw = entry["raw_base64"].encode()
        q.write_bytes(data.replace(raw, raw[:-4]))
        why = "line 1 is not an entry as compaction wrote it: its raw_base64 holds 6 bytes, not 9"
    elif how == "cut":
        q.write_bytes(data[:-1])
        why = "line 1 is not an entry as compaction wrote it: it has no newline (the file was " \
              "cut short)"
    else:
        q.write_bytes(data + b"\x00\x00\x00\n" + data)
        why = "line 2 is not an entry as compaction wrote it: not UTF-8 JSON"
    code, lines = verify_cli(store)
    assert code == 1
    assert lines[1] == (f"DAMAGED {q.relative_to(store)}: {why}; it holds the only copy of "
                        f"those bad lines: {RESTORE_LINE}")


# --------------------------------------------------------------------------------------------
# recovery, and a full disk


def test_recovery_removes_checksum_files_without_their_part(store: Path) -> None:
    stray = store / "checksums" / "2026-03" / "part-000007-00000000deadbeef.parquet.json"
    stray.write_text("{}")
    gone = store / "checksums" / "2026-01" / "part-000001-00000000feedc0de.parquet.json"
    gone.parent.mkdir()
    gone.write_text("{}")
    other = store / "checksums" / "2026-03" / "notes.txt"  # not a checksum file: left alone
    other.write_text("mine")
    r = compact(store, now=NOW)
    assert sorted(r.recovered) == [str(gone.relative_to(store)), str(stray.relative_to(store))]
    assert other.exists() and not stray.exists() and not gone.exists()
    assert verify_cli(store)[0] == 0


def test_a_full_disk_while_a_checksum_file_is_written_is_one_line(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = answers(store)
    late(store, "2026-04", "la")
    april = part_of(store, "2026-04")
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".parquet.json.inprogress"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(MantisError) as info:
        compact(store, now=NOW)
    name = f"part-000002-{scan(store)['2026-04'].sealed[0].name.split('.sealed-')[1]}.parquet"
    assert str(info.value) == (f"writing {store / 'checksums' / '2026-04' / name}.json failed: "
                               "No space left on device; nothing was published and nothing was "
                               "lost")
    assert scan(store)["2026-04"].parts == [april]
    assert not (store / ".tmp").exists()
    assert sorted(p.name for p in (store / "checksums" / "2026-04").iterdir()) == [
        f"{april.name}.json"]
    monkeypatch.undo()
    assert answers(store)[0]["run_count"] == before[0]["run_count"] + 3
    compact(store, now=NOW)
    assert part_of(store, "2026-04").name == name
    assert verify_cli(store)[0] == 0

