"""``render_html``: the dashboard as one self-contained HTML page (docs/dashboard.md).

The page is the template ``page.html`` (shipped in this package: inline CSS, a Content Security
Policy that lets the page load nothing at all) filled with one HTML fragment per section. Stored
text goes through :mod:`~mantis_runs.dashboard.escape`; numbers are printed as the terminal
prints them (``seconds``, ``compare``'s ratios and p-values) and each numeric cell also carries
the exact value in ``data-value``.
"""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from .. import __version__
from ..cli.compare_text import _legend as compare_legend
from ..cli.compare_text import _notes as compare_notes
from ..cli.compare_text import _p as p_value
from ..cli.compare_text import _rate
from ..cli.render import _minute
from ..cli.stats_text import ROUGH
from ..cli.stats_text import _interval as seconds_interval
from ..cli.text import seconds
from .cells import num, ratio_cells, table
from .charts import percentile_chart, ratio_chart, verdict_css
from .escape import attr, plain, stored, text
from .insights import failures_section, tail_section, trend_section

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import CompareResult, Window
    from ..analysis.verdicts import MetricVerdict
    from ..stats.result import BucketStats, StatsResult
    from .data import DashboardData

#: The sections, in page order: (anchor, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("stats", "Percentiles per bucket"),
    ("trend", "Trend and change points"),
    ("compare", "The last week against the four before"),
    ("tail", "What makes the slow runs slow"),
    ("failures", "Failure classes"),
)


def render_html(data: DashboardData) -> str:
    """The page of ``data``: a complete HTML document, with nothing to fetch."""
    template = Template(resources.files(__package__).joinpath("page.html")
                        .read_text(encoding="utf-8"))
    sections = [_section("stats", _stats_section(data.stats)),
                _section("trend", trend_section(data.trend)),
                _section("compare", _compare_section(data.compare)),
                _section("tail", tail_section(data.tail)),
                _section("failures", failures_section(data.failures))]
    nav = " · ".join(f'<a href="#{anchor}">{text(title)}</a>' for anchor, title in SECTIONS)
    return template.substitute(
        title=plain(data.workflow_id) + ": mantis runs dashboard",
        workflow=stored(data.workflow_id),
        generated=text(_minute(data.generated_at)),
        since=text(_minute(data.since)),
        data_dir=stored(data.data_dir),
        nav=nav,
        sections="\n".join(sections),
        version=text(__version__),
    )


def _section(anchor: str, body: str) -> str:
    title = dict(SECTIONS)[anchor]
    return (f'<section id="{anchor}">\n<h2>{text(title)}</h2>\n{body}\n</section>')


# -- stats ----------------------------------------------------------------------------------------


def _stats_row(b: BucketStats, css: str = "") -> str:
    from ..stats.result import NAMES

    cells = [f'<th scope="row">{stored(b.bucket)}</th>']
    rough = set(b.rough)
    for i, (name, value) in enumerate(zip(NAMES, (b.p50, b.p95, b.p99), strict=True)):
        mark = ROUGH if name in rough and value is not None else ""
        cells.append(num(value, mark + seconds(value)))
        interval = "" if b.ci is None else seconds_interval(b.ci[i])
        cells.append(f'<td class="ci">{text(interval)}</td>')
    cells.append(num(b.n, f"{b.n:,}"))
    return f'<tr class="{css}" data-bucket="{attr(b.bucket)}">' + "".join(cells) + "</tr>"


def _stats_section(r: StatsResult) -> str:
    from ..stats.result import NAMES, needed_runs

    who = f"{r.status} runs" if r.status else "runs (any status)"
    since = f" finished since {_minute(r.since)} UTC" if r.since else ""
    intro = (f"<p>Across the newest <strong>{r.run_count:,}</strong> {text(who)}{text(since)} "
             f"(at most {r.last:,}): the same numbers as <code>mantis runs stats --last "
             f"{r.last} --ci</code>.</p>")
    if r.run_count == 0:
        return intro + f'<p class="empty">No {text(who)} in this window.</p>' + _failures(r)
    headers = ["bucket"]
    for name in NAMES:
        headers += [name, "95% CI"]
    headers.append("n")
    rows = [_stats_row(b) for b in r.buckets] + [_stats_row(r.total, "total")]
    needs = ", ".join(f"{name} needs {n:,}" for name, n in needed_runs().items())
    note = (f'<p class="note">{ROUGH} rough: too few runs for a bounded 95% interval '
            f"({text(needs)} runs). Intervals are distribution-free (order statistics).</p>")
    chart = percentile_chart(r.buckets or [r.total])
    return "\n".join([intro, table(headers, rows, "stats"), note, _failures(r),
                      f'<figure class="chart" id="chart-stats">{chart}</figure>'])


def _failures(r: StatsResult) -> str:
    f = r.failures
    if f is None:
        return ""
    return (f'<p class="failures">Failure rate: <strong>{f.rate:.1%}</strong> '
            f"({f.failed:,} of {f.runs:,} runs finished since {text(_minute(f.since))} "
            "UTC).</p>")


# -- compare --------------------------------------------------------------------------------------


def _window(w: Window) -> str:
    where = "".join(f", {stored(k)}={stored(v)}" for k, v in sorted(w.filters.items()))
    return f"{text(_minute(w.start))} .. {text(_minute(w.end))} UTC{where}"


def _compare_row(m: MetricVerdict) -> str:
    rough = m.p95.rough and m.p95.baseline is not None
    mark = ROUGH if rough else ""
    cells = [f'<th scope="row">{stored(m.metric)}</th>',
             num(m.n_baseline, f"{m.n_baseline:,}"), num(m.n_current, f"{m.n_current:,}"),
             num(m.p50.baseline, seconds(m.p50.baseline)),
             num(m.p50.current, seconds(m.p50.current)), ratio_cells(m.p50, False),
             num(m.p95.baseline, mark + seconds(m.p95.baseline)),
             num(m.p95.current, mark + seconds(m.p95.current)), ratio_cells(m.p95, rough),
             num(m.p_value, p_value(m.p_value)),
             f'<td class="verdict {verdict_css(m.verdict)}">{text(m.verdict)}</td>']
    return f'<tr data-metric="{attr(m.metric)}">' + "".join(cells) + "</tr>"


def _compare_notes(r: CompareResult) -> list[str]:
    """compare's own legend and diagnostics (rough p95s, smallest detectable change, drift)."""
    return [f'<p class="note">{text(n)}</p>' for n in [compare_legend(r), *compare_notes(r)]]


def _compare_section(r: CompareResult) -> str:
    fb, fc = r.failures
    regressed = [m.metric for m in r.metrics if m.verdict == "regressed"]
    if r.exit_code == 2:
        head = '<p class="summary v-too-few-runs">Too few runs to compare.</p>'
    elif regressed:
        head = ('<p class="summary v-regressed">Regressed: '
                + ", ".join(stored(m) for m in regressed) + "</p>")
    else:
        head = '<p class="summary v-unchanged">No regression.</p>'
    who = f"{r.status} runs" if r.status else "runs (any status)"
    windows = (f"<dl class=\"windows\"><dt>baseline</dt><dd>{_window(r.baseline)}; failure "
               f"rate {text(_rate(fb))}</dd><dt>current</dt><dd>{_window(r.current)}; failure "
               f"rate {text(_rate(fc))}</dd></dl>")
    intro = (f"<p>{text(who.capitalize())}, as <code>mantis runs compare</code> with its default "
             "windows (exit status "
             f"{r.exit_code}).</p>")
    headers = ["metric", "n base", "n cur", "p50 base", "p50 cur", "p50 ratio", "95% CI",
               "p95 base", "p95 cur", "p95 ratio", "95% CI", "p (Holm)", "verdict"]
    rows = table(headers, [_compare_row(m) for m in r.metrics], "compare")
    parts = [head, intro, windows, rows, *_compare_notes(r)]
    if not r.empty:
        parts.append(f'<figure class="chart" id="chart-compare">{ratio_chart(r)}</figure>')
    return "\n".join(parts)
