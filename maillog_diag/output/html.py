"""A self-contained HTML report for mail clients: inline CSS, inline SVG, no external
assets, no scripts. It takes the plain report dict (the JSON contract), like every other
renderer."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from maillog_diag.input.timestamps import format_duration
from maillog_diag.output.escape import shows_log_text

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;margin:1em}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.1em;margin:1.2em 0 .4em}
p.summary{font-size:1.1em;font-weight:bold}
p.warn{color:#9a3b00}
table{border-collapse:collapse;font-size:.9em}
th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child,td.cause{text-align:left}
.muted{color:#777;font-size:.85em}
svg{display:block;margin:.2em 0 .8em}
"""

CHART_DESTINATIONS = 5
_BAR = "#d9822b"
_LINE = "#2b6cb0"


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


def chart_svg(d: dict[str, Any], first: int, last: int) -> str:
    """Held recipients as bars, deferrals as a line, one destination; one column per hour,
    or per `hours_per_column` hours (the highest value of the hours it covers)."""
    step = hours_per_column(first, last)
    n = (last - first) // step + 1
    bar_w = max(3, min(14, 720 // n))
    width, height, pad = n * bar_w + 40, 90, 14
    held = [0] * n
    defer = [0] * n
    for h in d["hourly"]:
        i = (_hour(h["hour"]) - first) // step
        if 0 <= i < n:
            held[i], defer[i] = max(held[i], h["held"]), max(defer[i], h["deferrals"])
    peak_h, peak_d = max(held) or 1, max(defer) or 1
    scale = height - 2 * pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(d["domain"])}: held and deferred per hour">'
    ]
    for i, v in enumerate(held):
        if v:
            h = v / peak_h * scale
            parts.append(
                f'<rect x="{30 + i * bar_w}" y="{height - pad - h:.1f}" width="{bar_w - 1}" '
                f'height="{h:.1f}" fill="{_BAR}"><title>{v} held</title></rect>'
            )
    points = " ".join(
        f"{30 + i * bar_w + bar_w / 2:.1f},{height - pad - v / peak_d * scale:.1f}"
        for i, v in enumerate(defer)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="{_LINE}" stroke-width="1.5"/>')
    parts.append(
        f'<text x="0" y="{pad}" font-size="10" fill="{_BAR}">{max(held)}</text>'
        f'<text x="0" y="{pad + 12}" font-size="10" fill="{_LINE}">{max(defer)}</text>'
        f'<line x1="30" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#999"/>'
        "</svg>"
    )
    return "".join(parts)


@shows_log_text
def render_html(report: dict[str, Any], summary: str, title: str = "maillog-diag report") -> str:
    """The whole report as one HTML document (`summary` is the one-line summary)."""
    window, span = report.get("window") or {}, report["span"]
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
    out += [f'<p class="warn">Warning: {_e(w)}</p>' for w in report["coverage"]["warnings"]]
    rows = report["destinations"]
    if rows:
        out.append("<h2>Destinations</h2><table><tr>")
        heads = ("Destination", "Delayed", "Late", "Bounced", "Expired", "Held", "Deferrals")
        out += [f"<th>{h}</th>" for h in heads]
        out.append("<th>Held p50</th><th>p95</th><th>max</th><th>Leading cause</th></tr>")
        for d in rows:
            held = d["held_seconds"]
            cause = d["causes"][0]["cause"] if d["causes"] else "-"
            if d.get("forced_split_only"):
                cause = "forced split only (not a failure)"
            cells = [
                d["domain"],
                d["recipients_deferred"],
                d["delivered_after_delay"],
                d["bounced"],
                d["expired"],
                d["held"],
                d["deferrals"],
                format_duration(held["p50"]),
                format_duration(held["p95"]),
                format_duration(held["max"]),
            ]
            out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells))
            out.append(f'<td class="cause">{_e(cause)}</td></tr>')
        out.append("</table>")
    charted = [d for d in rows if d.get("hourly") and not d.get("forced_split_only")]
    charted = charted[:CHART_DESTINATIONS]
    if charted:
        hours = [_hour(h["hour"]) for d in charted for h in d["hourly"]]
        first, last = min(hours), max(hours)
        out.append(
            "<h2>Per hour</h2>"
            f'<p class="muted">From {_e(charted[0]["hourly"][0]["hour"])}, '
            f"{hours_per_column(first, last)} hour(s) per column: "
            f'<span style="color:{_BAR}">bars: recipients held</span>, '
            f'<span style="color:{_LINE}">line: deferrals</span>; peaks at the left.</p>'
        )
        for d in charted:
            out.append(f"<div>{_e(d['domain'])}</div>{chart_svg(d, first, last)}")
    causes = [d for d in rows if d["causes"]]
    if causes:
        out.append("<h2>Causes</h2>")
        for d in causes:
            out.append(f"<h3>{_e(d['domain'])}</h3><ul>")
            for c in d["causes"]:
                text = f"{c['count']} x {c['cause']}"
                if c.get("provider"):
                    text += f" ({c['provider']}{'/' + c['token'] if c.get('token') else ''})"
                out.append(f"<li>{_e(text)}")
                if c.get("example"):
                    out.append(f'<br><span class="muted">{_e(c["example"])}</span>')
                out.append("</li>")
            out.append("</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)
