"""The dashboard's sections of `trend`, `tail` and `failures` (docs/dashboard.md): HTML fragments
from their typed results, with the same cells as :mod:`~mantis_runs.dashboard.page` (the exact
value of each number in ``data-value``, stored text escaped and isolated)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cli.compare_text import _p as p_value
from ..cli.render import _minute
from ..cli.text import seconds
from .cells import num, ratio_cells, table
from .charts import excess_chart, verdict_css, weekly_bars
from .escape import attr, stored, text
from .trend_chart import trend_panel

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.enrichment import Candidate
    from ..analysis.failures import FailureClass, FailuresResult
    from ..analysis.tail import Line, TailResult
    from ..analysis.trend import ChangePoint, TrendResult


#: The label of tail's line of time in no bucket (total - the run's buckets).
NO_BUCKET = "(in no bucket)"


# -- trend ----------------------------------------------------------------------------------------


def _change_row(c: ChangePoint) -> str:
    cells = [f'<th scope="row">{stored(c.metric)}</th>', f"<td>{c.at.isoformat()}</td>",
             f"<td>{text(', '.join(c.series))}</td>",
             f"<td>{c.before_start.isoformat()} .. {c.at.isoformat()}</td>",
             f"<td>{c.at.isoformat()} .. {c.after_end.isoformat()}</td>",
             ratio_cells(c.verdict.p50),
             f'<td class="verdict {verdict_css(c.verdict.verdict)}">'
             f"{text(c.verdict.verdict)}</td>"]
    return (f'<tr data-change="{attr(c.metric)}" data-at="{c.at.isoformat()}">'
            + "".join(cells) + "</tr>")


def trend_section(r: TrendResult) -> str:
    per = "day" if r.every == "1d" else "week"
    who = f"{r.status} runs" if r.status else "runs (any status)"
    out = [f"<p>p50 and p95 per UTC {per} of {text(who)} finished since "
           f"{text(_minute(r.start))} UTC, each metric with its change points, as "
           f"<code>mantis runs trend --detect</code>. p95 is drawn where a {per} has the 72 runs "
           "it needs.</p>"]
    if r.note:
        out.append(f'<p class="note">{text(r.note)}.</p>')
    if r.empty:
        out.append(f'<p class="empty">No {text(who)} in this window.</p>')
        return "\n".join(out)
    changes = r.changes or []
    if r.changes is not None:
        out.append(_changes_table(changes, r.confirm_periods, per))
    out.append('<p class="note">Lines: p50 (solid), p95 (dashed), the band between them; change '
               "points: a solid line when compare's verdict confirms them (red slower, green "
               "faster), dotted when not.</p>")
    panels = [f'<figure class="chart trend" id="chart-trend-{i}" data-metric="{attr(m.metric)}">'
              f"{trend_panel(m, r.periods, [c for c in changes if c.metric == m.metric])}"
              "</figure>" for i, m in enumerate(r.metrics)]
    return "\n".join([*out, '<div class="panels">', *panels, "</div>"])


def _changes_table(changes: list[ChangePoint], confirm: int, per: str) -> str:
    if not changes:
        return '<p class="summary v-unchanged">No change point found.</p>'
    headers = ["metric", "from", "series", "before", "after", "p50 ratio", "95% CI", "verdict"]
    return (table(headers, [_change_row(c) for c in changes], "changes")
            + f'<p class="note">Each change is checked by compare on the runs of up to {confirm} '
            f"{per}s before against as many after.</p>")


# -- tail -----------------------------------------------------------------------------------------


def _line_row(label: str, x: Line, key: str) -> str:
    share = "—" if x.share is None else f"{x.share * 100:.1f}%"
    cells = [f'<th scope="row">{label}</th>', num(x.tail_mean, seconds(x.tail_mean)),
             num(x.band_mean, seconds(x.band_mean)), num(x.excess, seconds(x.excess)),
             num(x.share, share), num(x.median_excess, seconds(x.median_excess)),
             num(x.dominant, f"{x.dominant:,}")]
    return f'<tr data-line="{attr(key)}">' + "".join(cells) + "</tr>"


def _candidate_row(c: Candidate) -> str:
    cells = [f"<td>{stored(c.attribute)}</td>", f"<td>{stored(c.value)}</td>",
             num(c.tail_runs, f"{c.tail_runs:,}"), num(c.runs, f"{c.runs:,}"),
             num(c.lift, f"×{c.lift:.2f}"), num(c.p_value, p_value(c.p_value)),
             num(c.q_value, p_value(c.q_value))]
    return "<tr>" + "".join(cells) + "</tr>"


def tail_section(r: TailResult) -> str:
    out = [f"<p>The slowest succeeded runs of the last week (finished since "
           f"{text(_minute(r.start))} UTC, compare's current window) against the typical ones "
           "(p40 to p60 of total_time_s), as <code>mantis runs tail</code>.</p>"]
    if r.note:
        out.append(f'<p class="note">{text(r.note)}.</p>')
    if not r.enough or r.band is None or r.unbucketed is None:
        return "\n".join(out)
    out.append(f'<dl class="windows"><dt>tail</dt><dd>{r.tail_runs:,} runs above {text(r.above)} '
               f"({text(seconds(r.threshold))}), mean {text(seconds(r.tail_mean))}</dd>"
               f"<dt>band</dt><dd>{r.band_runs:,} runs from {text(seconds(r.band[0]))} to "
               f"{text(seconds(r.band[1]))}, mean {text(seconds(r.band_mean))}</dd></dl>")
    rows = [_line_row(stored(b.bucket), b, b.bucket) for b in r.buckets]
    rows.append(_line_row(f'<span class="none">{NO_BUCKET}</span>', r.unbucketed, ""))
    out.append(table(["bucket", "tail mean", "band mean", "excess", "share", "median excess",
                      "dominant"], rows, "tail"))
    out.append('<p class="note">excess: mean in the tail minus mean in the band (a run without '
               "a bucket counts 0 for it); the excesses sum to the gap between the means. "
               "dominant: tail runs in which the bucket exceeds the band's median the most.</p>")
    out.append(f'<figure class="chart" id="chart-tail">'
               f"{excess_chart([*((b.bucket, b) for b in r.buckets), (NO_BUCKET, r.unbucketed)])}"
               "</figure>")
    return "\n".join([*out, *_findings(r)])


def _findings(r: TailResult) -> list[str]:
    head = (f"<h3>Attribute values over-represented in the tail</h3><p>{r.runs_in_tail:,} of "
            f"{r.runs:,} runs above {text(seconds(r.threshold))}, failed runs included; "
            f"{len(r.candidates):,} values tested (one-sided Fisher exact test, "
            "Benjamini-Hochberg).</p>")
    found = r.findings
    if not found:
        return [head, '<p class="empty">None.</p>']
    return [head, table(["attribute", "value", "in tail", "runs", "lift", "p", "q (BH)"],
                        [_candidate_row(c) for c in found], "findings")]


# -- failures -------------------------------------------------------------------------------------


def _class_row(c: FailureClass) -> str:
    cells = [f'<td class="error">{stored(c.error_class)}</td>', num(c.count, f"{c.count:,}"),
             num(c.share, f"{c.share:.1%}"), f"<td>{text(_minute(c.first_seen))}</td>",
             f"<td>{text(_minute(c.last_seen))}</td>",
             f'<td class="spark">{weekly_bars(c.weekly)}</td>',
             f"<td><code>{stored(c.example_run_id)}</code></td>"]
    return f'<tr data-class="{attr(c.error_class)}">' + "".join(cells) + "</tr>"


def failures_section(r: FailuresResult) -> str:
    since = "" if r.since is None else f" finished since {_minute(r.since)} UTC"
    rate = "—" if r.failure_rate is None else f"{r.failure_rate:.1%}"
    out = [f"<p><strong>{r.failed:,}</strong> failed of {r.terminal:,} runs{text(since)} "
           f"(<strong>{text(rate)}</strong>), by the class of their error: the first line of "
           "the error text with what differs from run to run replaced, as "
           "<code>mantis runs failures</code>.</p>"]
    if not r.classes:
        out.append('<p class="empty">No failed run in this window.</p>')
        return "\n".join(out)
    weeks = (f"{r.weeks[0].isoformat()} .. {r.weeks[-1].isoformat()}" if r.weeks else "")
    out.append(table(["error class", "runs", "share", "first seen (UTC)", "last seen (UTC)",
                      f"per week {weeks}", "newest run"],
                     [_class_row(c) for c in r.classes], "failures"))
    return "\n".join(out)
