"""The dashboard in a real headless browser: Chromium (Debian's ``chromium`` package, which .ci/run
installs) opens the page from a file with no network and its Content Security Policy in force.

Two runs of the browser over the same page at the same window size:

1. the page as written, screenshot kept in ``$MANTIS_TEST_ARTIFACTS`` (default: a pytest tmp
   dir); its console (``--enable-logging=stderr``) must be silent: the page has no script, so any
   console line is an error, a refused fetch (a CSP violation) or a parse problem;
2. a copy with a measuring script and a deliberate console line (the proof that step 1 would see
   one), printed with ``--dump-dom``: where each chart is, and how tall the page is.

The screenshot is decoded with Pillow (a dependency of matplotlib; the ``dev`` extra) and each
chart's box must hold the chart's own colours: a chart that drew nothing, or drew without its
CSS, fails. Skipped, with the reason, when no Chromium is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mantis_runs.dashboard import build, render_html
from test_dashboard import BUSIEST, HOSTILE_WF, NOW, make_store

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280
SENTINEL = "mantis-dashboard-console-check"
#: The measuring script of step 2: chart boxes and the page height, into a <pre> at the end.
MEASURE = """<script>
console.error("SENTINEL");
const boxes = [...document.querySelectorAll("figure.chart svg")].map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.closest("figure").id, x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height};
});
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify({boxes, height: document.documentElement.scrollHeight,
                                  scripts: document.scripts.length});
document.body.appendChild(pre);
</script>""".replace("SENTINEL", SENTINEL)
pytestmark = pytest.mark.slow  # a browser starts in 1 to 3 s, and the module starts four
CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")
#: The colours each chart must show (page.html's CSS): bars, lines, verdicts.
BLUE, LIGHT = (0x2F, 0x6F, 0xB3), (0x9C, 0xC0, 0xE6)
RED, GREY = (0xC0, 0x39, 0x2B), (0x6C, 0x74, 0x80)
COLOURS = {"chart-stats": [BLUE, LIGHT], "chart-compare": [GREY], "chart-tail": [RED],
           "chart-trend-0": [BLUE]}


def chromium() -> str:
    found = os.environ.get("MANTIS_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)),
                                                      None)
    if not found:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does), or set "
                    "MANTIS_CHROMIUM to a Chromium or Chrome binary")
    return found


def run_browser(binary: str, profile: Path, page: Path, height: int, *extra: str
                ) -> subprocess.CompletedProcess[str]:
    """One headless Chromium over ``page`` with no network (every host name unresolvable)."""
    args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1",
            f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0", f"--window-size={WIDTH},{height}",
            *extra, page.as_uri()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console(stderr: str) -> list[str]:
    return [m[1] for m in map(CONSOLE.search, stderr.splitlines()) if m]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("MANTIS_TEST_ARTIFACTS")
    path = Path(where) if where else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium()  # skip before writing anything
    return make_store(tmp_path_factory.mktemp("browser-store"))


@pytest.fixture(scope="module", params=[BUSIEST, HOSTILE_WF], ids=["demo", "hostile"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             artifacts: Path, store: Path) -> dict[str, Any]:
    binary = chromium()
    work = tmp_path_factory.mktemp("browser")
    html = render_html(build(request.param, data_dir=store, since="90d", now=NOW))
    page, probe = work / "dashboard.html", work / "probe.html"
    page.write_text(html, encoding="utf-8")
    probe.write_text(CSP.sub("", html).replace("</body>", MEASURE + "\n</body>"),
                     encoding="utf-8")
    measured = run_browser(binary, work / "profile-probe", probe, 1000, "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', measured.stdout, re.S)
    assert found, measured.stdout[-2000:]
    layout = json.loads(found[1])
    name = "dashboard-demo.png" if request.param == BUSIEST else "dashboard-hostile.png"
    shot = artifacts / name
    done = run_browser(binary, work / "profile-shot", page, layout["height"],
                       f"--screenshot={shot}")
    return {"workflow": request.param, "layout": layout,
            "probe_console": console(measured.stderr),
            "console": console(done.stderr), "shot": shot, "html": html}


def test_renders_without_console_errors(rendered: dict[str, Any]) -> None:
    assert rendered["console"] == []
    # the same browser does report console lines: the probe's deliberate one arrives
    assert any(SENTINEL in line for line in rendered["probe_console"])
    # and the page itself runs no script: the probe's own is the only one in its DOM
    assert rendered["layout"]["scripts"] == 1


def test_charts_are_present_and_not_blank(rendered: dict[str, Any]) -> None:
    import numpy as np
    from PIL import Image

    boxes = {b["id"]: b for b in rendered["layout"]["boxes"]}
    figures = set(re.findall(r'<figure class="chart[^"]*" id="([^"]+)"', rendered["html"]))
    assert set(boxes) == figures  # every chart of the page was laid out
    assert {"chart-stats", "chart-compare", "chart-trend-0", "chart-trend-1"} <= figures
    # the demo's busiest workflow has a tail in its last week; the hostile one too few runs
    assert ("chart-tail" in figures) == (rendered["workflow"] == BUSIEST)
    with Image.open(rendered["shot"]) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int32)
    assert rgb.shape == (rendered["layout"]["height"], WIDTH, 3)
    for chart, b in boxes.items():
        assert b["w"] > 300 and b["h"] > 100
        region = rgb[round(b["y"]):round(b["y"] + b["h"]),
                     round(b["x"]):round(b["x"] + b["w"])].reshape(-1, 3)
        inked = float(np.mean(region.sum(axis=1) < 3 * 235))
        assert inked > 0.02, (chart, inked)
        for colour in COLOURS.get(chart, []):
            near = int(np.sum(np.all(np.abs(region - colour) <= 12, axis=1)))
            assert near >= 40, (chart, colour, near)


def test_the_screenshot_is_kept(rendered: dict[str, Any], artifacts: Path) -> None:
    shot = rendered["shot"]
    assert shot.parent == artifacts and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
