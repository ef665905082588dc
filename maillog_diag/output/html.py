"""A self-contained HTML report for mail clients: inline CSS, inline SVG, no external
assets, no scripts. It takes the plain report dict (the JSON contract), like every other
renderer, and shows what the plain text shows (`output.digest` chooses it for both): the
summary, the traffic totals, the mail still queued with its queue ids, the destinations,
causes with their retry hints and repeats by the MTA, the condensed replies with a
file:line example, forced splits, the retry-schedule advice, the MTA's own warnings, and
charts per hour (left out when the report spans less than `MIN_CHART_HOURS`).

Every text taken from the log goes through `html.escape`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from maillog_diag.input.timestamps import format_duration
from maillog_diag.output.digest import (
    DEFAULT_TOP,
    Plan,
    cause_line,
    daily_plan,
    leading_cause,
    number,
    plan,
    plural,
    queued_text,
    totals_lines,
)
from maillog_diag.output.escape import shows_log_text

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;margin:1em;
max-width:72em}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.1em;margin:1.2em 0 .4em}
h3{font-size:1em;margin:.8em 0 .2em}
p{margin:.3em 0} p.summary{font-size:1.1em;font-weight:bold}
p.warn{color:#9a3b00}
table{border-collapse:collapse;font-size:.9em}
th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
th.l,td.l{text-align:left}
code{font-family:Menlo,Consolas,monospace;font-size:.95em}
ul{margin:.2em 0 .6em 1.2em;padding:0} li{margin:.15em 0}
.muted{color:#666;font-size:.85em}
svg{display:block;margin:.2em 0 .8em}
"""

CHART_DESTINATIONS = 5
MIN_CHART_HOURS = 3
"""A report spanning fewer hours than this has no chart: one or two bars say nothing."""
_BAR = "#d9822b"
_LINE = "#2b6cb0"
_TRAFFIC = "#4a9a5b"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _hour(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() // 3600)


MAX_COLUMNS = 240
"""The most columns a per-hour chart has, whatever the time span of the log (a line dated
a thousand years off must not make a chart of millions of columns): a longer span puts
several hours in one column."""


def hours_per_column(first: int, last: int) -> int:
    """How many hours one chart column covers for hours `first` to `last` (POSIX hours)."""
    return max(1, -(-(last - first + 1) // MAX_COLUMNS))


def chart_svg(
    series: list[dict[str, Any]],
    first: int,
    last: int,
    labels: dict[int, str],
    *,
    bars: str,
    line: str,
    bar_label: str,
    line_label: str,
    bar_colour: str = _BAR,
    title: str = "",
) -> str:
    """One chart: `bars` per hour as bars, `line` per hour as a line, from hour `first`
    to `last` (POSIX hour numbers); `labels` names hours in the report's zone. The y axis
    of each is marked with its peak; a legend says which is which."""
    step = hours_per_column(first, last)
    n = (last - first) // step + 1
    bar_w = max(3, min(16, 760 // n))
    left, top, plot_h, bottom = 44, 22, 80, 30
    width, height = left + n * bar_w + 16, top + plot_h + bottom
    bar_vals, line_vals = [0] * n, [0] * n
    for h in series:
        i = (_hour(h["hour"]) - first) // step
        if 0 <= i < n:  # a column covering several hours shows their highest values
            bar_vals[i] = max(bar_vals[i], h[bars])
            line_vals[i] = max(line_vals[i], h[line])
    peak_b, peak_l = max(bar_vals) or 1, max(line_vals) or 1
    base = top + plot_h
    first_label = f"{bar_label} (peak {max(bar_vals)})"
    second_label = f"{line_label} (peak {max(line_vals)})"
    second = left + 14 + round(len(first_label) * 6.5) + 20
    width = max(width, second + 24 + round(len(second_label) * 6.5) + 8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}: {_e(bar_label)} and {_e(line_label)} per hour" '
        'font-family="Helvetica,Arial,sans-serif">',
        # legend: the second entry starts after the first one's text (about 6.5 px a
        # character at 11 px)
        f'<rect x="{left}" y="4" width="10" height="10" fill="{bar_colour}"/>'
        f'<text x="{left + 14}" y="13" font-size="11">{_e(first_label)}</text>'
        f'<line x1="{second}" y1="9" x2="{second + 20}" y2="9" stroke="{_LINE}" '
        'stroke-width="2"/>'
        f'<text x="{second + 24}" y="13" font-size="11">{_e(second_label)}</text>',
        # axes
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#999"/>'
        f'<line x1="{left}" y1="{base}" x2="{width - 8}" y2="{base}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end" '
        f'fill="{bar_colour}">{max(bar_vals)}</text>'
        f'<text x="{left - 4}" y="{base}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, v in enumerate(bar_vals):
        if v:
            bar_h = v / peak_b * plot_h
            hour = _e(labels.get(first + i * step, ""))
            parts.append(
                f'<rect x="{left + 1 + i * bar_w}" y="{base - bar_h:.1f}" width="{bar_w - 1}" '
                f'height="{bar_h:.1f}" fill="{bar_colour}"><title>{hour}: '
                f"{v} {_e(bar_label)}</title></rect>"
            )
    points = " ".join(
        f"{left + 1 + i * bar_w + bar_w / 2:.1f},{base - v / peak_l * plot_h:.1f}"
        for i, v in enumerate(line_vals)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="{_LINE}" stroke-width="1.5"/>')
    every = max(1, -(-n * 40 // (width - left)))
    for i in range(0, n, every):
        x = left + 1 + i * bar_w + bar_w / 2
        parts.append(
            f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 3}" stroke="#999"/>'
            f'<text x="{x:.1f}" y="{base + 14}" font-size="10" text-anchor="middle">'
            f"{_e(labels.get(first + i * step, ''))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _hour_labels(hours: list[str]) -> dict[int, str]:
    """POSIX hour number -> `13:00` (or `29 13:00` when the report spans days), in the
    report's zone (the ISO texts carry its offset), for the first hour of each chart column
    (at most `MAX_COLUMNS` of them, whatever the span)."""
    stamps = {_hour(h): datetime.fromisoformat(h) for h in hours}
    days = {d.date() for d in stamps.values()}
    fmt = "%d %H:00" if len(days) > 1 else "%H:00"
    first, last = min(stamps), max(stamps)
    step = hours_per_column(first, last)
    zone = next(iter(stamps.values())).tzinfo
    labels: dict[int, str] = {}
    for h in range(first, last + 1, step):
        try:
            labels[h] = datetime.fromtimestamp(h * 3600, zone).strftime(fmt)
        except (ValueError, OverflowError, OSError):
            labels[h] = ""
    return labels


def charts(report: dict[str, Any]) -> list[str]:
    """The per-hour charts: all mail, then the top destinations; [] when too short."""
    rows = [d for d in report["destinations"] if d.get("hourly") and not d.get("forced_split_only")]
    rows = rows[:CHART_DESTINATIONS]
    traffic = report.get("traffic") or []
    hours = [h["hour"] for d in rows for h in d["hourly"]] + [t["hour"] for t in traffic]
    if not hours:
        return []
    numbers = [_hour(h) for h in hours]
    first, last = min(numbers), max(numbers)
    if last - first + 1 < MIN_CHART_HOURS:
        return [
            "<h2>Per hour</h2>",
            f'<p class="muted">No chart: the report spans {last - first + 1} hour(s).</p>',
        ]
    labels = _hour_labels(hours)
    zone = datetime.fromisoformat(hours[0]).strftime("%z")
    out = [
        "<h2>Per hour</h2>",
        f'<p class="muted">Hours in the report\'s zone (UTC{zone[:3]}:{zone[3:]}); each chart '
        "is scaled to its own peaks.</p>",
    ]
    if traffic:
        out.append("<h3>All mail</h3>")
        out.append(
            chart_svg(
                traffic,
                first,
                last,
                labels,
                bars="delivered",
                line="deferrals",
                bar_label="recipients delivered",
                line_label="deferred attempts",
                bar_colour=_TRAFFIC,
                title="all mail",
            )
        )
    for d in rows:
        out.append(f"<h3>{_e(d['domain'])}</h3>")
        out.append(
            chart_svg(
                d["hourly"],
                first,
                last,
                labels,
                bars="held",
                line="deferrals",
                bar_label="delayed recipients in the queue",
                line_label="deferred attempts",
                title=d["domain"],
            )
        )
    return out


_HEADS = (
    ("Delayed", "recipients deferred at least once"),
    ("Late", "delayed, then delivered"),
    ("Bounced", ""),
    ("Expired", ""),
    ("Queued", "still queued at the end"),
    ("Deferrals", "deferred attempts"),
    ("p50", "time in queue of the delayed recipients: median"),
    ("p95", "95th percentile"),
    ("max", "longest"),
)


def _destination_table(rows: list[dict[str, Any]], key_head: str) -> list[str]:
    out = [f'<table><tr><th class="l">{_e(key_head)}</th>']
    out += [f'<th title="{_e(t)}">{_e(h)}</th>' for h, t in _HEADS]
    out.append('<th class="l">Leading cause</th></tr>')
    for d in rows:
        held = d["held_seconds"]
        cells = [
            number(d["recipients_deferred"]),
            number(d["delivered_after_delay"]),
            number(d["bounced"]),
            number(d["expired"]),
            number(d["held"]),
            number(d.get("deferrals_tried", d["deferrals"])),
            format_duration(held["p50"]),
            format_duration(held["p95"]),
            format_duration(held["max"]),
        ]
        out.append(
            f'<tr><td class="l">{_e(d["domain"])}</td>'
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + f'<td class="l">{_e(leading_cause(d))}</td></tr>'
        )
    out.append("</table>")
    out.append(
        '<p class="muted">Delayed: recipients deferred at least once; Late: of them, '
        "delivered; Queued: still queued at the end; Deferrals: deferred attempts; "
        "p50/p95/max: time in queue of the delayed recipients (median, 95th percentile, "
        "longest).</p>"
    )
    return out


def _healthy_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "<h2>Destinations without trouble</h2>",
        '<table><tr><th class="l">Destination</th><th>Delivered</th>'
        "<th>average delivery</th><th>longest</th></tr>",
    ]
    for d in rows:
        times = d.get("delivery_seconds") or {}
        out.append(
            f'<tr><td class="l">{_e(d["domain"])}</td><td>{number(d["delivered"])}</td>'
            f"<td>{_e(format_duration(times.get('mean')))}</td>"
            f"<td>{_e(format_duration(times.get('max')))}</td></tr>"
        )
    out.append("</table>")
    return out


def _queued(chosen: Plan, total: int) -> list[str]:
    if not chosen.queued:
        return []
    out = [
        f"<h2>Still queued at the end ({number(total)}), oldest first</h2>",
        '<table><tr><th class="l">Queue id</th><th class="l">Recipient</th>'
        '<th class="l">Since, cause, retry</th></tr>',
    ]
    out += [
        f'<tr><td class="l"><code>{_e(h["queue_id"])}</code></td>'
        f'<td class="l">{_e(h["address"])}</td><td class="l">{_e(queued_text(h))}</td></tr>'
        for h in chosen.queued
    ]
    out.append("</table>")
    if chosen.more_queued:
        out.append(f"<p>... and {number(chosen.more_queued)} more (--all or --format json)</p>")
    return out


def _causes(chosen: Plan, reasons: int) -> list[str]:
    if not reasons or not chosen.detailed:
        return []
    out = ["<h2>Causes by destination</h2>"]
    for d in chosen.detailed:
        out.append(f"<h3>{_e(d['domain'])}</h3><ul>")
        for c in d["causes"][:reasons]:
            out.append(f"<li>{_e(cause_line(c).strip())}")
            if c.get("detail"):
                out.append(f'<br><span class="muted">{_e(c["detail"])}</span>')
            out.append("</li>")
        for r in d["reasons"][:reasons]:
            out.append(f"<li>{_e(number(r['count']))} x <code>{_e(r['reason'])}</code>")
            if r["example_line"]:
                out.append(f'<br><span class="muted">e.g. {_e(r["example_line"])}</span>')
            out.append("</li>")
        split = d["forced_split"]
        if split["deferrals"]:
            out.append(
                f"<li>forced splits: {_e(plural(split['deferrals'], 'deferral'))} of "
                f"{_e(plural(split['recipients'], 'recipient'))}; delay added "
                f"{_e(format_duration(split['delay_seconds']))}</li>"
            )
        sched = d["retry_schedule"]
        if sched["compared"]:
            asked = sched.get("median_hint_seconds")
            asked_text = f" ({format_duration(asked)}, median)" if asked is not None else ""
            out.append(
                f"<li>retries vs the receiver's stated interval{_e(asked_text)}: "
                f"{sched['early']} early ({sched['wasted']} wasted), {sched['on_time']} on "
                f"time, {sched['late']} late (avoidable delay "
                f"{_e(format_duration(sched['avoidable_seconds']))})</li>"
            )
        out.append("</ul>")
    return out


def _global_causes(report: dict[str, Any], limit: int = 8) -> list[str]:
    causes = report.get("causes") or []
    if not causes:
        return []
    out = ["<h2>Causes across all destinations</h2><ul>"]
    for c in causes[:limit]:
        repeated = f", +{number(c['suspended'])} repeated by the MTA" if c["suspended"] else ""
        out.append(
            f"<li>{_e(number(c['count']))} x {_e(c['cause'])}: "
            f"{_e(plural(c['recipients'], 'recipient'))} at "
            f"{_e(plural(c.get('domain_count', 0), 'destination'))}{_e(repeated)}</li>"
        )
    out.append("</ul>")
    if len(causes) > limit:
        out.append(f"<p>... and {_e(plural(len(causes) - limit, 'more cause'))}</p>")
    return out


def _advice(chosen: Plan) -> list[str]:
    if not chosen.advice:
        return []
    out = ["<h2>Retry schedule advice</h2><ul>"]
    out += [
        f"<li><b>{_e(d['domain'])}</b>: {_e(d['retry_schedule']['suggestion'])}</li>"
        for d in chosen.advice
    ]
    out.append("</ul>")
    if chosen.more_advice:
        out.append(f"<p>... and {_e(plural(chosen.more_advice, 'more destination'))}</p>")
    return out


def _splits(chosen: Plan) -> list[str]:
    if not chosen.splits:
        return []
    out = ["<h2>Forced splits</h2>", "<p>The receiver asked for fewer recipients per transaction:"]
    out.append("</p><ul>")
    out += [
        f"<li>{_e(d['domain'])}: {_e(plural(d['forced_split']['recipients'], 'recipient'))} "
        f"split off, delay added {_e(format_duration(d['forced_split']['delay_seconds']))}</li>"
        for d in chosen.splits
    ]
    out.append("</ul>")
    return out


def _problems(report: dict[str, Any]) -> list[str]:
    rows = report.get("mta_problems") or []
    if not rows:
        return []
    out = ["<h2>MTA warnings, errors and panics</h2><ul>"]
    for p in rows:
        out.append(f"<li>{_e(number(p['count']))} x {_e(p['kind'])}")
        if p.get("example"):
            out.append(f"<br><code>{_e(p['example'])}</code>")
        if p.get("example_line"):
            out.append(f'<br><span class="muted">e.g. {_e(p["example_line"])}</span>')
        out.append("</li>")
    out.append("</ul>")
    return out


@shows_log_text
def render_html(
    report: dict[str, Any],
    summary: str,
    title: str = "maillog-diag report",
    *,
    reasons: int = 3,
    top: int = DEFAULT_TOP,
    everything: bool = True,
) -> str:
    """The whole report as one HTML document (`summary` is the one-line summary). With
    `everything` False (the daily mail), the selection of `digest.daily_plan`."""
    chosen = plan(report) if everything else daily_plan(report, top, False)
    window, span = report.get("window") or {}, report["span"]
    lines = report["lines"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary">{_e(summary)}</p>',
    ]
    if window.get("since") or window.get("until"):
        out.append(
            f"<p>Window: {_e(window.get('since') or 'start of the log')} to "
            f"{_e(window.get('until') or 'end of the log')}</p>"
        )
    out.append(f"<p>Log span: {_e(span['start'])} to {_e(span['end'])}</p>")
    out.append(
        f"<p>Lines: {number(lines['total'])} read, {number(lines['used'])} used, "
        f"{number(lines['ignored'])} ignored, {number(lines['unparsed'])} unparsed.</p>"
    )
    out += [f"<p>{_e(line)}</p>" for line in totals_lines(report)]
    out += [f'<p class="warn">Warning: {_e(w)}</p>' for w in report["coverage"]["warnings"]]
    out += _queued(chosen, len(report.get("held_mail") or []))
    troubled = [
        d
        for d in chosen.destinations
        if d["recipients_deferred"] or d["bounced"] or d["expired"] or d["held"] or d["unknown"]
    ]
    healthy = [d for d in chosen.destinations if d not in troubled]
    by = report.get("by", "destination")
    if troubled:
        out.append("<h2>Destinations</h2>" if by == "destination" else f"<h2>By {_e(by)}</h2>")
        out += _destination_table(troubled, "Destination" if by == "destination" else by)
    else:
        out.append("<p>No delayed, bounced, expired or queued mail.</p>")
    if chosen.more_destinations:
        out.append(
            f"<p>... and {_e(plural(chosen.more_destinations, 'more destination'))} with "
            f"{_e(plural(chosen.more_delayed, 'delayed recipient'))} (--all lists them)</p>"
        )
    if healthy:
        out += _healthy_table(healthy)
    if not everything:
        out += _global_causes(report)
    out += _causes(chosen, reasons)
    out += _advice(chosen)
    out += _splits(chosen)
    out += _problems(report)
    out += charts(report)
    out.append("</body></html>\n")
    return "\n".join(out)
