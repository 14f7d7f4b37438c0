"""`mantis runs dashboard` without a browser: every section carries exactly the numbers the
library returns, stored text cannot escape its element, the page references nothing outside
itself, and the command's options and refusals. The real browser is tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from mantis_runs import RunStore
from mantis_runs.analysis.compare import compare
from mantis_runs.analysis.failures import failures
from mantis_runs.analysis.tail import tail
from mantis_runs.analysis.trend import trend as trend_of
from mantis_runs.cli.text import seconds, visible
from mantis_runs.dashboard import build, render_html
from mantis_runs.demo import WORKFLOWS, synth_runs
from mantis_runs.log.record import format_timestamp
from mantis_runs.stats.result import NAMES

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
BUSIEST = WORKFLOWS[0][0]
#: The window start of the CLI tests (which run at the real current time), as NOW - 90d.
SINCE = (NOW - timedelta(days=90)).isoformat()
#: Stored text that would break a page printed without escaping: a tag, quotes, an ampersand,
#: an RTL override, an escape character and a URL (which must stay text).
HOSTILE_WF = 'acme__<script>alert("wf")</script> & \'q\' \u202eevil https://evil.example/x'
HOSTILE_BUCKET = '<img src=x onerror=alert(1)>"&amp;'
HOSTILE_MODEL = '"><svg onload=alert(2)>'
HOSTILE_ERROR = "Boom</td><script>alert(3)</script>: \x1b]0;title\x07 see https://evil.example/"
HOSTILE = (HOSTILE_WF, HOSTILE_BUCKET, HOSTILE_MODEL, HOSTILE_ERROR)


def hostile_rows(n: int = 160) -> list[dict[str, Any]]:
    """``n`` runs of HOSTILE_WF over the 40 days before NOW, with a hostile bucket, model and
    error class."""
    rng = random.Random(3)
    rows = []
    for i in range(n):
        finished = NOW - timedelta(days=40 * i / n, minutes=1)
        buckets = {"think": round(rng.lognormvariate(3, 0.3), 3),
                   HOSTILE_BUCKET: round(rng.lognormvariate(1, 0.3), 3)}
        failed = i % 9 == 0
        rows.append({"run_id": f"hostile-{i:04d}", "workflow_id": HOSTILE_WF,
                     "model": HOSTILE_MODEL, "tenant_id": "acme",
                     "status": "failed" if failed else "succeeded",
                     "finished_at": format_timestamp(finished),
                     "total_time_s": round(sum(buckets.values()) + 1, 3),
                     "wall_time_breakdown": buckets,
                     "error": HOSTILE_ERROR if failed else None})
    return rows


def make_store(root: Path) -> Path:
    """The demo's 90 days (its planted `settle` regression included) and HOSTILE_WF's runs."""
    d = root / "store"
    write_rows(d, synth_runs(3500, now=NOW))
    write_rows(d, hostile_rows())
    return d


@dataclass
class Page(HTMLParser):
    """A parsed page: every start tag with its attributes, the text of each element, the CSS."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    css: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    cells: dict[str, list[tuple[str, dict[str, str | None]]]] = field(default_factory=dict)
    _open: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        (self.css if self._open[-1:] == ["style"] else self.text).append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


#: The attributes that name a table row: (its kind, its key) in table_rows.
ROW_KEYS = ("bucket", "metric", "change", "line", "class")


class Rows(HTMLParser):
    """The rows of the page's tables, keyed by (kind, key) from their data-bucket, data-metric,
    data-change (the change's metric and date), data-line or data-class: each cell's text and
    data-value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        self._row: list[tuple[str, str | None]] | None = None
        self._cell: list[str] | None = None
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        kind = next((k for k in ROW_KEYS if f"data-{k}" in a), None)
        if tag == "tr" and kind is not None:
            key = a[f"data-{kind}"] or ""
            if kind == "change":
                key += f"@{a['data-at']}"
            self._row = self.rows.setdefault((kind, key), [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._value = [], a.get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(("".join(self._cell), self._value))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    p = Rows()
    p.feed(html)
    return p.rows


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def busiest_page(store: Path) -> str:
    return render_html(build(BUSIEST, data_dir=store, since="90d", now=NOW))


@pytest.fixture(scope="module")
def hostile_page(store: Path) -> str:
    return render_html(build(HOSTILE_WF, data_dir=store, since="90d", now=NOW))


def exact(value: float | int | None, cell: tuple[str, str | None]) -> None:
    """The cell carries ``value`` exactly (repr round-trips a float)."""
    assert cell[1] is not None and (float(cell[1]) == value or math.isnan(float(cell[1])))


def test_the_stats_table_is_the_librarys(store: Path, busiest_page: str) -> None:
    want = RunStore(store).stats(BUSIEST, last=100, since=NOW - timedelta(days=90), ci=True)
    assert want.run_count == 100 and want.buckets
    rows = table_rows(busiest_page)
    for b in [*want.buckets, want.total]:
        row = rows["bucket", b.bucket]
        assert row[0][0] == b.bucket
        for i, (name, value) in enumerate(zip(NAMES, (b.p50, b.p95, b.p99), strict=True)):
            cell = row[1 + 2 * i]
            exact(value, cell)
            assert cell[0] == ("~" if name in b.rough else "") + seconds(value)
        exact(b.n, row[-1])
    # the buckets in the library's order, total_time_s last
    assert [k[1] for k in rows if k[0] == "bucket"] == [b.bucket for b in want.buckets] + [
        "total_time_s"]
    assert want.failures is not None
    assert f"{want.failures.failed:,} of {want.failures.runs:,} runs" in busiest_page


def test_the_compare_section_is_the_librarys(store: Path, busiest_page: str) -> None:
    want = compare(BUSIEST, data_dir=store, baseline="35d..7d", current="7d", now=NOW)
    rows = table_rows(busiest_page)
    assert [k[1] for k in rows if k[0] == "metric"] == [m.metric for m in want.metrics]
    for m in want.metrics:
        row = rows["metric", m.metric]
        exact(m.n_baseline, row[1])
        exact(m.n_current, row[2])
        exact(m.p50.baseline, row[3])
        exact(m.p50.current, row[4])
        exact(m.p50.ratio, row[5])
        assert row[-1][0] == m.verdict
    # the demo's planted regression (settle, 1.4 times slower for 10 days) is the headline
    assert [m.metric for m in want.metrics if m.verdict == "regressed"] == ["settle"]
    assert "Regressed: <bdi>settle</bdi>" in busiest_page
    assert f"exit status {want.exit_code})" in busiest_page


def test_the_trend_tail_and_failures_are_the_librarys(store: Path, busiest_page: str) -> None:
    start = NOW - timedelta(days=90)
    rows = table_rows(busiest_page)
    trend = trend_of(BUSIEST, data_dir=store, since=start, detect=True, now=NOW)
    assert trend.changes  # the demo's planted settle change, and maybe others
    assert [k[1] for k in rows if k[0] == "change"] == [
        f"{c.metric}@{c.at.isoformat()}" for c in trend.changes]
    for c in trend.changes:
        row = rows["change", f"{c.metric}@{c.at.isoformat()}"]
        exact(c.verdict.p50.ratio, row[5])
        assert row[-1][0] == c.verdict.verdict
    assert re.findall(r'<figure class="chart trend" id="chart-trend-\d+" data-metric="([^"]*)"',
                      busiest_page) == [m.metric for m in trend.metrics]
    slow = tail(BUSIEST, data_dir=store, since="7d", now=NOW)
    assert slow.enough and slow.unbucketed is not None
    assert [k[1] for k in rows if k[0] == "line"] == [b.bucket for b in slow.buckets] + [""]
    for line in [*slow.buckets, slow.unbucketed]:
        row = rows["line", "" if line is slow.unbucketed else line.bucket]
        for cell, value in zip(row[1:], (line.tail_mean, line.band_mean, line.excess, line.share,
                                         line.median_excess, line.dominant), strict=True):
            exact(value, cell)
    failed = failures(BUSIEST, data_dir=store, since=start, now=NOW)
    assert [k[1] for k in rows if k[0] == "class"] == [c.error_class for c in failed.classes]
    for c in failed.classes:
        row = rows["class", c.error_class]
        exact(c.count, row[1])
        exact(c.share, row[2])
        assert row[-1][0] == c.example_run_id
    assert f"<strong>{failed.failed:,}</strong> failed of {failed.terminal:,} runs" in busiest_page


@pytest.mark.parametrize("since", ["90d", "10d"])
def test_one_read_gives_compare_and_trend_their_own_answers(store: Path, since: str) -> None:
    """build reads the runs of compare's windows and the trend's once: every number is the
    one the separate calls give (10d: the trend's window is inside compare's)."""
    page = build(BUSIEST, data_dir=store, since=since, now=NOW)
    alone = compare(BUSIEST, data_dir=store, baseline="35d..7d", current="7d", now=NOW)
    trend = trend_of(BUSIEST, data_dir=store, since=since, detect=True, now=NOW)
    assert json.dumps(page.compare.to_json()) == json.dumps(alone.to_json())
    assert json.dumps(page.trend.to_json()) == json.dumps(trend.to_json())
    assert alone.metrics and (trend.changes or since == "10d")  # not vacuous


def test_stored_text_cannot_escape_its_element(store: Path, hostile_page: str) -> None:
    page = parse(hostile_page)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "base", "form"}
    assert tags >= {"html", "head", "body", "section", "table", "svg", "bdi"}
    for _, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")]
    text = "".join(page.text)
    # each hostile string shows as what it holds: control characters as escapes, the rest as is
    error_class = failures(HOSTILE_WF, data_dir=store, since=NOW - timedelta(days=90),
                           now=NOW).classes[0].error_class
    assert "<script>" in error_class and "\x1b" in error_class
    for s in (HOSTILE_WF, HOSTILE_BUCKET, error_class):
        assert visible(s) in text
    assert "\x1b" not in hostile_page and "\x07" not in hostile_page
    # the workflow id is isolated in <bdi> as visible() shows it (the RTL override as an escape,
    # or isolated with it); no RTL override outside <bdi> or FSI ... PDI (the title)
    from mantis_runs.dashboard.escape import text as escaped

    assert f"<bdi>{escaped(HOSTILE_WF)}</bdi>" in hostile_page
    assert re.sub("<bdi>[^<]*</bdi>|\u2068[^\u2069<]*\u2069", "", hostile_page).count(
        "\u202e") == 0


def test_the_page_references_nothing_outside_itself(busiest_page: str,
                                                     hostile_page: str) -> None:
    for html in (busiest_page, hostile_page):
        page = parse(html)
        csp = [a.get("content") for t, a in page.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
        for tag, attrs in page.tags:
            for name in ("href", "src", "xlink:href", "action", "srcset", "poster", "data"):
                value = attrs.get(name)
                assert value is None or value.startswith("#"), (tag, name, value)
            assert "url(" not in (attrs.get("style") or "")
        css = "".join(page.css)
        assert "@import" not in css and "url(" not in css and "//" not in css
        # the only URLs on the page are stored text (the hostile names), never markup: not in
        # an attribute but those that hold a stored name, a comment or the CSS
        markup = [v or "" for _, attrs in page.tags for k, v in attrs.items()
                  if k not in ("data-bucket", "data-metric")] + page.comments + [css]
        assert not [m for m in markup if "http://" in m or "https://" in m]
    assert "https://evil.example/x" in "".join(parse(hostile_page).text)


def test_cli_writes_the_page(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    code, stdout, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store),
                                "--output", str(out), "--since", SINCE, "--last", "50")
    assert (code, stdout, err) == (0, "", f"wrote {out}\n")
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<strong>50</strong> succeeded runs" in html
    assert next(k[1] for k in table_rows(html) if k[0] == "metric") == "total_time_s"


def test_cli_refuses_a_file_in_the_data_dir_and_needs_output(store: Path) -> None:
    target = store / "runs_log" / "page.html"
    code, _, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store),
                           "--output", str(target))
    assert code == 2 and "is inside the data dir" in err and not target.exists()
    code, _, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store))
    assert code == 2 and "Missing option '--output'" in err


def test_cli_checks_the_output_before_reading(store: Path, tmp_path: Path) -> None:
    """A FILE that cannot be written is one line before any read; so is a window in the
    future (the dates as ISO text, not a Python repr)."""
    missing = tmp_path / "no-such-folder" / "page.html"
    code, stdout, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store),
                                "-o", str(missing))
    assert (code, stdout) == (2, "") and err.endswith(
        f"Error: cannot write {missing}: there is no folder {missing.parent}\n")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    if not os.access(folder, os.W_OK):  # root may write anywhere
        code, _, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store),
                               "-o", str(folder / "p.html"))
        assert code == 2 and "the folder" in err and "is not writable" in err
    code, stdout, err = run_cli("runs", "dashboard", BUSIEST, "--data-dir", str(store),
                                "-o", "-", "--since", "2030-01-01")
    assert (code, stdout) == (2, "") and "datetime" not in err
    assert re.search(r"Error: since must be before now \(\d{4}-\d\d-\d\dT[\d:]+Z\), got "
                     r"2030-01-01T00:00:00Z\n$", err), err


def test_the_change_points_need_neither_ruptures_nor_scipy_stats(store: Path) -> None:
    """PELT is mantis' own: with ruptures and scipy.stats unimportable the page still has its
    change points table (the fixture's busiest workflow has a confirmed step)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['ruptures'] = sys.modules['scipy.stats'] = None; "
            "from mantis_runs.cli import main; "
            f"sys.argv = ['mantis', 'runs', 'dashboard', {BUSIEST!r}, '--data-dir', "
            f"{str(store)!r}, '--since', {SINCE!r}, '-o', '-']; main()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "No change points" not in p.stdout and "ruptures" not in p.stdout
    assert '<table class="changes">' in p.stdout, p.stdout


def test_cli_unknown_workflow_still_writes_a_page_and_hints(store: Path) -> None:
    code, stdout, err = run_cli("runs", "dashboard", BUSIEST[:-1] + "2", "--data-dir",
                                str(store), "-o", "-")
    assert code == 0 and f"similar ones: {BUSIEST}" in err
    assert stdout.startswith("<!DOCTYPE html>") and stdout.endswith("</html>\n")
    assert "No succeeded runs in this window." in stdout
