"""Output for people and scripts: Rich tables, plain text, JSON and CSV.

Only this module and `cli.py` know about Rich. Renderers take the plain dicts of
`maillog_diag.serialize` (the JSON contract), so every format shows the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from maillog_diag.input.timestamps import format_duration, format_time
from maillog_diag.output.digest import (
    DEFAULT_TOP,
    TABLE_LEGEND,
    Plan,
    cause_label,
    cause_line,
    daily_plan,
    leading_cause,
    number,
    plan,
    plural,
    summary_line,
    totals_lines,
)
from maillog_diag.output.escape import json_safe, shows_log_text, visible
from maillog_diag.output.layout import GAP, Column, fit_table, wrap
from maillog_diag.scan.live import Snapshot


class OutputFormat(StrEnum):
    """`--format` values."""

    TABLE = "table"
    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    HTML = "html"


def _dur(value: float | None) -> str:
    return format_duration(value)


@shows_log_text
def header_lines(report: dict[str, Any]) -> list[str]:
    """The header: window, time span, line accounting, traffic totals, warnings."""
    return _header_lines(report)


def _header_lines(report: dict[str, Any]) -> list[str]:
    """`header_lines` of a report that has passed `visible_data` already (see
    `report_lines`)."""
    span = report["span"]
    lines = report["lines"]
    totals = report["totals"]
    first = (
        f"Log span: {span['start']} to {span['end']}"
        if span["start"]
        else "Log span: no dated mail lines"
    )
    second = (
        f"Lines: {number(lines['total'])} read, {number(lines['used'])} used, "
        f"{number(lines['ignored'])} ignored, {number(lines['unparsed'])} unparsed. "
        f"Messages: {number(report['messages'])}; recipients: {number(totals['recipients'])}, "
        f"delayed {number(totals['recipients_deferred'])}, still queued {number(totals['held'])}."
    )
    out = [first, second, *totals_lines(report)]
    window = report.get("window") or {}
    if window.get("since") or window.get("until"):
        out.insert(
            0,
            f"Window: {window.get('since') or 'start of the log'} to "
            f"{window.get('until') or 'end of the log'}",
        )
    if window.get("excluded_domains"):
        out.append(f"Left out: {', '.join(window['excluded_domains'])}")
    out += [f"Warning: {w}" for w in (report.get("coverage") or {}).get("warnings", [])]
    return out


TEXT_WIDTH = 80
"""Columns of the plain text report (files, cron mail): the same whatever the terminal."""

_LONG_HEADS = ("Delayed", "Late", "Bounced", "Expired", "Queued", "Deferrals")
_SHORT_HEADS = ("Delay", "Late", "Bnc", "Exp", "Queue", "Defer")
_COUNT_KEYS = (
    "recipients_deferred",
    "delivered_after_delay",
    "bounced",
    "expired",
    "held",
    "deferrals_tried",
)
"""The table's columns. Deferrals are attempts that were made (the receiver answered, or the
connection failed); the MTA's repeats without trying are listed under the causes."""


def _row(d: dict[str, Any]) -> list[str]:
    held = d["held_seconds"]
    return [
        d["domain"],
        *(number(d[key]) for key in _COUNT_KEYS),
        format_duration(held["p50"]),
        format_duration(held["p95"]),
        format_duration(held["max"]),
        leading_cause(d),
    ]


def destination_table(
    rows: list[dict[str, Any]], width: int, *, key_head: str = "Destination"
) -> tuple[list[str], bool]:
    """The destination table laid out to `width` (see `layout.fit_table`): long column
    heads when they fit beside a 24-column destination, else short ones (then the caller
    prints `TABLE_LEGEND`). Returns the lines and whether the short heads were used."""
    cells = [_row(d) for d in rows]
    for heads in (_LONG_HEADS, _SHORT_HEADS):
        columns = [
            Column(key_head, flex=True),
            *(Column(h, right=True) for h in heads),
            Column("p50" if heads is _SHORT_HEADS else "queue p50", right=True),
            Column("p95", right=True),
            Column("max", right=True),
            Column("Leading cause", tail=True, label="cause: "),
        ]
        lines = fit_table(columns, cells, width)
        fixed = sum(
            max([len(c.head)] + [len(r[i]) for r in cells])
            for i, c in enumerate(columns)
            if not c.tail and not c.flex
        ) + len(GAP) * (len(columns) - 2)
        if heads is _SHORT_HEADS or fixed + 24 <= width:
            return lines, heads is _SHORT_HEADS
    raise AssertionError("unreachable")


def healthy_table(rows: list[dict[str, Any]], width: int) -> list[str]:
    """Destinations without trouble (`--all`): recipients delivered and the average and
    longest delivery time (time in queue of delivered recipients)."""
    columns = [
        Column("Destination", flex=True),
        Column("Delivered", right=True),
        Column("avg", right=True),
        Column("max", right=True),
    ]
    cells = [
        [
            d["domain"],
            number(d["delivered"]),
            format_duration((d.get("delivery_seconds") or {}).get("mean")),
            format_duration((d.get("delivery_seconds") or {}).get("max")),
        ]
        for d in rows
    ]
    return fit_table(columns, cells, width)


def table_section(report: dict[str, Any], chosen: Plan, width: int) -> list[str]:
    """The destination table with its legend and the count of what it leaves out."""
    rows = [d for d in chosen.destinations if _troubled(d)]
    healthy = [d for d in chosen.destinations if not _troubled(d)]
    if not rows and not healthy:
        return ["No delayed, bounced, expired or queued mail."]
    out: list[str] = []
    by = report.get("by", "destination")
    head = "Destination" if by == "destination" else by.capitalize()
    if rows:
        lines, short = destination_table(rows, width, key_head=head)
        out += lines
        if short:
            out += wrap(TABLE_LEGEND, width)
    else:
        out.append("No delayed, bounced, expired or queued mail.")
    if chosen.more_destinations:
        out.append(
            f"... and {plural(chosen.more_destinations, 'more destination')} with "
            f"{plural(chosen.more_delayed, 'delayed recipient')} (--all lists them)"
        )
    if healthy:
        out += ["", "Destinations without trouble (delivery time: average, longest):"]
        out += healthy_table(healthy, width)
    return out


def queue_lines(report: dict[str, Any]) -> list[str]:
    """With a queue listing: what the queue holds, held mail the queue no longer has, and
    queued mail the log never showed (with its age)."""
    queue = report.get("queue")
    if not queue:
        return []
    out = [
        "",
        plain(
            f"Queue ({queue['source']}, {queue['format']}, {queue['taken_at']}): "
            f"{queue['messages']} message(s), {queue['recipients']} recipient(s)"
            + (f", {queue['skipped']} line(s) not understood" if queue["skipped"] else "")
        ),
    ]
    gone = [h for h in report.get("held_mail") or [] if h.get("in_queue") is False]
    if gone:
        out.append(
            f"  held in the log but not in the queue ({len(gone)}: it left without a line "
            "this tool understood, or the listing is newer than the log):"
        )
        out += [plain(f"    {h['address']} ({h['queue_id']})") for h in gone[:20]]
    only = report.get("queue_only") or []
    if only:
        out.append(f"In the queue but not held in the log ({len(only)}):")
        for e in only[:20]:
            where = {True: "before the log", False: "within the log"}.get(
                e["before_log"], "arrival unknown"
            )
            rcpts = ", ".join(r["address"] for r in e["recipients"][:3])
            more = f" +{len(e['recipients']) - 3}" if len(e["recipients"]) > 3 else ""
            reason = next((r["reason"] for r in e["recipients"] if r["reason"]), None)
            out.append(
                plain(
                    f"  {e['queue_id']} age {format_duration(e['age_seconds'])} "
                    f"(arrived {e['arrived'] or 'at an unknown time'}, {where}) "
                    f"<{e['sender'] or ''}> to {rcpts}{more}"
                    + (f": {reason[:160]}" if reason else "")
                )
            )
        if len(only) > 20:
            out.append(f"  ... and {len(only) - 20} more (see --format json)")
    return out


def _troubled(d: dict[str, Any]) -> bool:
    return bool(
        d["recipients_deferred"] or d["bounced"] or d["expired"] or d["held"] or d["unknown"]
    )


def on_hold_section(report: dict[str, Any], width: int, limit: int = 20) -> list[str]:
    """Messages put on hold by the admin or a header/body check, with since when and how
    long (apart from mail merely still queued)."""
    holds = report.get("on_hold") or []
    if not holds:
        return []
    out = ["", f"On hold at the end of the log (put there by the admin or a check: {len(holds)}):"]
    for o in holds[:limit]:
        rcpts = ", ".join(o["recipients"]) or "recipients not logged yet"
        out += wrap(
            f"{o['queue_id']} since {o['since']}, {format_duration(o['hold_seconds'])} on hold"
            f" ({rcpts}): {o['reason'] or 'no reason logged'}",
            width,
            "  ",
            "    ",
        )
    if len(holds) > limit:
        out.append(f"  ... and {number(len(holds) - limit)} more (see --format json)")
    return out


def queued_section(chosen: Plan, total: int, width: int) -> list[str]:
    """Mail still queued at the end, oldest first: queue id (whole: it is what `trace`
    takes), address, since when, time in queue, deferrals, then the last cause and when
    the receiver accepts a retry."""
    if not chosen.queued:
        return []
    suffix = _zone_suffix([h["since"] or "" for h in chosen.queued])
    columns = [
        Column("Queue id"),
        Column("Recipient", flex=True),
        Column(f"Since ({suffix})" if suffix else "Since"),
        Column("In queue", right=True),
        Column("Dfr", right=True),
        Column("Last cause", tail=True, label="last cause: "),
    ]
    rows = []
    for h in chosen.queued:
        who = "/".join(x for x in (h.get("provider"), h.get("token")) if x)
        cause = (h.get("last_cause") or "unknown") + (f" ({who})" if who else "")
        if h.get("on_hold"):
            cause = "on hold; " + cause
        if h.get("retry_after"):
            cause += f"; receiver accepts a retry from {h['retry_after']}"
        since = h["since"][:16].replace("T", " ") if suffix and h["since"] else h["since"]
        rows.append(
            [
                h["queue_id"],
                h["address"],
                since or "before the log",
                format_duration(h["held_seconds"]),
                number(h["deferrals"]),
                cause,
            ]
        )
    out = ["", f"Still queued at the end ({number(total)}), oldest first:"]
    out += fit_table(columns, rows, width)
    if chosen.more_queued:
        out.append(f"... and {number(chosen.more_queued)} more (--all or --format json)")
    return out


def cause_section(
    chosen: Plan, reasons: int, width: int, *, compact_finals: bool = False
) -> list[str]:
    """Per destination: causes (with provider, token, stated retry interval, repeats by
    the MTA), the condensed replies with a file:line example, forced splits and how the
    retries compared with the receiver's stated interval."""
    out: list[str] = []
    if not reasons or not chosen.detailed:
        return out
    out += ["", "Causes by destination:"]
    for d in chosen.detailed:
        out.append(d["domain"])
        if d.get("deferrals_repeated"):
            out += wrap(
                f"{plural(d['deferrals_repeated'], 'more deferral')} repeated by the MTA "
                "without trying (not in the Deferrals column)",
                width,
                "  ",
                "    ",
            )
        for c in d["causes"][:reasons]:
            out += wrap(cause_line(c), width, "  ", " " * 11)
            if c.get("detail"):
                out += wrap(c["detail"], width, "           ")
        for r in d["reasons"][:reasons]:
            out += wrap(f"{number(r['count']):>6} x {r['reason']}", width, "  ", " " * 11)
            if r["example_line"]:
                out.append(f"           e.g. {r['example_line']}")
        finals = d.get("final_reasons") or []
        if finals and compact_finals:
            # The daily mail stays short: causes and counts with one example line; the
            # replies themselves are in `report` and the JSON.
            shown = ", ".join(f"{number(f['count'])} x {f['cause']}" for f in finals[:reasons])
            example = finals[0]["example_line"]
            out += wrap(
                f"ended bounced or expired: {shown}" + (f" (e.g. {example})" if example else ""),
                width,
                "  ",
                "    ",
            )
            finals = []
        elif finals:
            out.append("  ended bounced or expired:")
        for f in finals[:reasons]:
            out += wrap(
                f"{number(f['count']):>6} x {f['cause']}: {f['reason']}", width, "  ", " " * 11
            )
            if f["example_line"]:
                out.append(f"           e.g. {f['example_line']}")
        split = d["forced_split"]
        if split["deferrals"]:
            out += wrap(
                f"forced splits: {plural(split['deferrals'], 'deferral')} of "
                f"{plural(split['recipients'], 'recipient')} while others in the same "
                f"transaction were accepted; delay added "
                f"{format_duration(split['delay_seconds'])}",
                width,
                "  ",
            )
        sched = d["retry_schedule"]
        if sched["compared"]:
            out += wrap(schedule_text(sched), width, "  ")
    return out


def schedule_text(sched: dict[str, Any]) -> str:
    """How the retries compared with the receiver's stated interval (median)."""
    asked = sched.get("median_hint_seconds")
    asked_text = f" ({format_duration(asked)}, median)" if asked is not None else ""
    return (
        f"retries vs the receiver's stated interval{asked_text}: {sched['early']} early "
        f"({sched['wasted']} wasted), {sched['on_time']} on time, {sched['late']} late "
        f"(avoidable delay {format_duration(sched['avoidable_seconds'])})"
    )


def advice_section(chosen: Plan, width: int) -> list[str]:
    """Retry-schedule suggestions, one per destination."""
    if not chosen.advice:
        return []
    out = ["", "Retry schedule advice:"]
    for d in chosen.advice:
        out += wrap(f"{d['domain']}: {d['retry_schedule']['suggestion']}", width, "  ")
    if chosen.more_advice:
        out.append(f"  ... and {plural(chosen.more_advice, 'more destination')} (--all)")
    return out


def split_section(chosen: Plan, width: int) -> list[str]:
    """Destinations whose only delays were forced splits."""
    if not chosen.splits:
        return []
    out = ["", "Forced splits (the receiver asked for fewer recipients per transaction):"]
    for d in chosen.splits:
        out += wrap(
            f"{d['domain']}: {plural(d['forced_split']['recipients'], 'recipient')} split "
            f"off, delay added {format_duration(d['forced_split']['delay_seconds'])}",
            width,
            "  ",
        )
    return out


def warnings_section(report: dict[str, Any], width: int) -> list[str]:
    """The MTA's own warnings, fatal errors and panics: counted by kind, one example each."""
    rows = report.get("mta_problems") or []
    if not rows:
        return []
    out = ["", "MTA warnings, errors and panics (often the cause of a delay):"]
    for p in rows:
        out += wrap(f"{number(p['count']):>6} x {p['kind']}", width, "  ")
        if p.get("example"):
            out += wrap(p["example"], width, "           ")
        if p.get("example_line"):
            out.append(f"           e.g. {p['example_line']}")
    return out


def global_causes_section(report: dict[str, Any], width: int, limit: int = 8) -> list[str]:
    """Causes across all destinations, one line each (the daily mail's overview)."""
    causes = report.get("causes") or []
    if not causes:
        return []
    out = ["", "Causes across all destinations:"]
    for c in causes[:limit]:
        repeated = f", +{number(c['suspended'])} repeated by the MTA" if c["suspended"] else ""
        out += wrap(
            f"{number(c['count']):>6} x {c['cause']}: {plural(c['recipients'], 'recipient')} "
            f"at {plural(c.get('domain_count', 0), 'destination')}{repeated}",
            width,
            "  ",
        )
    if len(causes) > limit:
        out.append(f"  ... and {plural(len(causes) - limit, 'more cause')}")
    return out


def detail_lines(report: dict[str, Any], reasons: int, width: int = TEXT_WIDTH) -> list[str]:
    """The sections under the table of a full report: causes and reasons per destination,
    retry advice, forced splits, the MTA's warnings, and mail still queued."""
    chosen = plan(report)
    return [
        *cause_section(chosen, reasons, width),
        *advice_section(chosen, width),
        *split_section(chosen, width),
        *warnings_section(report, width),
        *on_hold_section(report, width),
        *queued_section(chosen, len(report.get("held_mail") or []), width),
        *queue_lines(report),
    ]


def plain(text: str) -> str:
    """`text` without control characters: the ones log text may bring become visible
    escapes (`output.escape.visible`), tabs become spaces; newlines of the layout stay."""
    return "\n".join(visible(line).replace("\t", " ") for line in text.split("\n"))


_LEVELS_ASCII = " .:-=+*#%@"
_LEVELS_UNICODE = " ▁▂▃▄▅▆▇█"


@shows_log_text
def hourly_picture(
    report: dict[str, Any],
    *,
    unicode: bool = False,
    top: int = 5,
    width: int = 48,
    line_width: int = TEXT_WIDTH,
) -> list[str]:
    """Per hour: all mail (recipients delivered, deferrals) and, for the top destinations,
    delayed recipients in the queue and deferrals; one character per hour (or per few
    hours, to fit `width`), each row scaled to its peak."""
    return _hourly_picture(report, unicode=unicode, top=top, width=width, line_width=line_width)


def _hourly_picture(
    report: dict[str, Any],
    *,
    unicode: bool = False,
    top: int = 5,
    width: int = 48,
    line_width: int = TEXT_WIDTH,
) -> list[str]:
    """`hourly_picture` of a report that has passed `visible_data` already (see
    `report_lines`)."""
    rows = [d for d in report["destinations"] if d.get("hourly") and not d.get("forced_split_only")]
    rows = rows[:top]
    traffic = report.get("traffic") or []
    if not rows and not traffic:
        return []
    hours = sorted({h["hour"] for d in rows for h in d["hourly"]} | {t["hour"] for t in traffic})
    stamps = [datetime.fromisoformat(h).timestamp() for h in hours]
    first, last = int(min(stamps) // 3600), int(max(stamps) // 3600)
    step = max(1, -(-(last - first + 1) // width))
    columns = -(-(last - first + 1) // step)
    levels = _LEVELS_UNICODE if unicode else _LEVELS_ASCII
    names = [d["domain"] for d in rows] + (["all mail"] if traffic else [])
    name_width = max(len(n) for n in names)
    width = max(8, min(width, line_width - name_width - 25))
    step = max(1, -(-(last - first + 1) // width))
    columns = -(-(last - first + 1) // step)

    def strip(series: list[dict[str, Any]], key: str) -> tuple[str, int]:
        buckets = [0] * columns
        for h in series:
            i = (int(datetime.fromisoformat(h["hour"]).timestamp() // 3600) - first) // step
            buckets[i] = max(buckets[i], h[key])
        peak = max(buckets)
        chars = "".join(
            levels[0] if v == 0 else levels[max(1, round(v / peak * (len(levels) - 1)))]
            for v in buckets
        )
        return chars, peak

    out = [
        "",
        f"Per hour from {hours[0]} ({step} hour(s) per column; each row scaled to its peak):",
    ]
    if traffic:
        for key, label, name in (("delivered", "sent ", "all mail"), ("deferrals", "defer", "")):
            chars, peak = strip(traffic, key)
            out.append(f"  {name.ljust(name_width)}  {label} |{chars}| peak {number(peak)}")
    for d in rows:
        for key, label, name in (("held", "queue", d["domain"]), ("deferrals", "defer", "")):
            chars, peak = strip(d["hourly"], key)
            out.append(f"  {name.ljust(name_width)}  {label} |{chars}| peak {number(peak)}")
    out.append(
        "  sent: recipients delivered; queue: delayed recipients in the queue during the "
        "hour; defer: deferred attempts"
    )
    return out


def fitted(lines: list[str], width: int) -> list[str]:
    """Lines longer than `width` wrapped at spaces (continued two columns in), so that no
    terminal wraps or cuts them."""
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
        else:
            lead = line[: len(line) - len(line.lstrip())]
            out += wrap(line.strip(), width, lead, lead + "  ")
    return out


def daily_lines(report: dict[str, Any], reasons: int, top: int, everything: bool) -> list[str]:
    """The daily mail, ordered for action: summary, header, mail still queued, the top
    destinations, causes, advice, forced splits, the MTA's warnings, the per-hour picture.
    `report` has passed `visible_data` (as in `report_lines`)."""
    width = TEXT_WIDTH
    chosen = daily_plan(report, top, everything)
    held = report.get("held_mail") or []
    return fitted(
        [
            summary_line(report),
            "",
            *_header_lines(report),
            *on_hold_section(report, width),
            *queued_section(chosen, len(held), width),
            *queue_lines(report),
            "",
            *table_section(report, chosen, width),
            *([] if everything else global_causes_section(report, width)),
            *cause_section(chosen, reasons, width, compact_finals=True),
            *advice_section(chosen, width),
            *split_section(chosen, width),
            *warnings_section(report, width),
            *_hourly_picture(report, line_width=width),
        ],
        width,
    )


@shows_log_text
def render_daily_text(
    report: dict[str, Any],
    out: IO[str],
    reasons: int,
    *,
    top: int = DEFAULT_TOP,
    everything: bool = False,
) -> None:
    """The report for cron mail (see `daily_lines`): plain ASCII layout of 80 columns, no
    control characters, the same whatever the terminal."""
    for line in daily_lines(report, reasons, top, everything):
        out.write(plain(line) + "\n")


def report_lines(report: dict[str, Any], reasons: int, width: int, *, hourly: bool) -> list[str]:
    """The full report: header, the destination table, the per-hour picture (terminal),
    then the detail sections.

    `report` has passed `visible_data` (the renderers that call this are `shows_log_text`):
    the sections take it as it is. Passing a whole report through it again, as the
    decorated `header_lines` would, cost 0.2 of the 0.63 CPU seconds of the text report on
    the 1M-line bench log (its 556,000 values)."""
    return fitted(
        [
            *_header_lines(report),
            "",
            *table_section(report, plan(report), width),
            *(_hourly_picture(report, unicode=True, line_width=width) if hourly else []),
            *detail_lines(report, reasons, width),
        ],
        width,
    )


@shows_log_text
def render_report_table(report: dict[str, Any], console: Console, reasons: int) -> None:
    """The terminal report, laid out to the terminal's width: no cell is cut (a domain
    that does not fit takes a line of its own, the cause goes under its row)."""
    fancy = console.is_terminal and not console.no_color
    lines = report_lines(report, reasons, console.width, hourly=True)
    for line in lines:
        title = line[:1] not in ("", " ") and line.endswith(":")
        head = " p50 " in line or line.endswith(" max") and not line.startswith(" ")
        style = "bold" if fancy and (title or head) else ""
        console.print(Text(line, style=style), highlight=False)


def render_report_text(
    report: dict[str, Any], out: IO[str], reasons: int, *, hourly: bool = False
) -> None:
    """A plain report of stable layout, for mail and files: 80 columns whatever the
    terminal, no cell cut."""
    _write_report_text(report if hourly else _without_hours(report), out, reasons, hourly)


@shows_log_text
def _write_report_text(report: dict[str, Any], out: IO[str], reasons: int, hourly: bool) -> None:
    for line in report_lines(report, reasons, TEXT_WIDTH, hourly=hourly):
        out.write(plain(line) + "\n")


def _without_hours(report: dict[str, Any]) -> dict[str, Any]:
    """A report without the per-hour figures only the per-hour picture shows (`hourly` of
    each row, `traffic`): a text report without that picture need not pass them through
    `visible_data` (on the 1M-line bench log, 14,400 hourly rows of 1,200 destinations).
    The report itself is left as it is."""

    lean = dict(report)
    for key in ("destinations", "groups"):
        if isinstance(report.get(key), list):
            lean[key] = [{**row, "hourly": []} for row in report[key]]
    if isinstance(report.get("totals"), dict):
        lean["totals"] = {**report["totals"], "hourly": []}
    if "traffic" in report:
        lean["traffic"] = []
    return lean


_CSV_FIELDS = (
    "domain",
    "recipients",
    "delivered",
    "recipients_deferred",
    "delivered_after_delay",
    "bounced",
    "expired",
    "held",
    "unknown",
    "deferrals",
    "held_p50",
    "held_p95",
    "held_max",
    "top_reason",
    "top_reason_count",
)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula in a CSV cell (OWASP, CSV injection)."""
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _csv_cell(value: str) -> str:
    """A text cell as CSV shows it: control characters as `\\xHH`, and a leading apostrophe
    where a spreadsheet would otherwise run the text as a formula (a recipient
    `<=HYPERLINK(...)@x>` comes from whoever sent the mail). Numbers and a lone `-` stay."""
    text = visible(value)
    if text.startswith(_FORMULA_START) and text != "-" and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class _CsvWriter:
    """`csv.writer` whose text cells pass through `_csv_cell` (README: CSV shows control
    characters as `\\xHH`, like the text formats, and never starts a cell with a formula;
    JSON has the exact text)."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([_csv_cell(c) if isinstance(c, str) else c for c in row])


def render_report_csv(report: dict[str, Any], out: IO[str]) -> None:
    """One CSV row per destination, or per group of `--by` (seconds for durations)."""
    writer = _CsvWriter(out)
    grouped = "groups" in report  # report --by: the first column is the group's key
    writer.writerow((report["by"], *_CSV_FIELDS[1:]) if grouped else _CSV_FIELDS)
    for d in report["groups"] if grouped else report["destinations"]:
        held = d["held_seconds"]
        top = d["reasons"][0] if d["reasons"] else {"reason": "", "count": ""}
        writer.writerow(
            [
                *(d[k] for k in _CSV_FIELDS[:10]),
                "" if held["p50"] is None else held["p50"],
                "" if held["p95"] is None else held["p95"],
                "" if held["max"] is None else held["max"],
                top["reason"],
                top["count"],
            ]
        )


def write_jsonl(item: Any, out: IO[str]) -> None:
    """One compact JSON object on one line."""
    out.write(json_safe(json.dumps(item, ensure_ascii=False, separators=(",", ":"))))
    out.write("\n")


_RCPT_FIELDS = (
    "host",
    "queue_id",
    "message_id",
    "sender",
    "arrived",
    "address",
    "domain",
    "outcome",
    "deferrals",
    "first_deferred",
    "final",
    "held_seconds",
    "last_reply",
)


def recipient_rows(message: dict[str, Any]) -> Iterable[list[Any]]:
    """Flat rows, one per recipient, for CSV and text listings of messages."""
    for r in message["recipients"]:
        last = r["attempts"][-1]["reply"] if r["attempts"] else None
        yield [
            message["host"],
            message["queue_id"],
            message["message_id"],
            message["sender"],
            message["arrived"],
            r["address"],
            r["domain"],
            r["outcome"],
            r["deferrals"],
            r["first_deferred"],
            r["final"],
            r["held_seconds"],
            last,
        ]


def messages_csv_writer(out: IO[str]) -> Any:
    """A csv writer with the header row already written."""
    writer = _CsvWriter(out)
    writer.writerow(_RCPT_FIELDS)
    return writer


@shows_log_text
def message_text(message: dict[str, Any]) -> str:
    """A short plain-text block for one message (used by `messages --format text`)."""
    buf = io.StringIO()
    buf.write(
        f"{message['host']} {message['queue_id']} <{message['message_id'] or ''}> "
        f"from <{message['sender'] or ''}> arrived {message['arrived'] or 'before the log'}\n"
    )
    for r in message["recipients"]:
        buf.write(
            f"  {r['address']}: {r['outcome']}, {r['deferrals']} deferral(s), "
            f"{_dur(r['held_seconds'])} in queue\n"
        )
    return buf.getvalue()


@shows_log_text
def render_trace(message: dict[str, Any], lines: list[str], out: IO[str]) -> None:
    """One message's timeline, recipient by recipient, then its original log lines."""
    out.write(
        f"== {message['mta']} {message['host']} queue id {message['queue_id']}\n"
        f"   message-id <{message['message_id'] or ''}>, from <{message['sender'] or ''}>, "
        f"size {message['size'] if message['size'] is not None else '?'}\n"
        f"   arrived {message['arrived'] or 'unknown'}"
        f"{'' if message['arrival_seen'] else ' (worked out from the delay the MTA logged)'}\n"
    )
    if message["expired"]:
        out.write(f"   expired (returned to sender) {message['expired']}\n")
    if message["rejected"]:
        out.write(f"   rejected: {message['rejected']}\n")
    for n in message["notifications"]:
        out.write(f"   {n['time']} {n['kind']} -> {n['queue_id']}\n")
    for r in message["recipients"]:
        out.write(
            f"\n   {r['address']}"
            f"{' (for ' + r['orig_address'] + ')' if r['orig_address'] else ''}: "
            f"{r['outcome']}, {r['deferrals']} deferral(s), {_dur(r['held_seconds'])} in queue"
            f"{', final ' + r['final'] if r['final'] else ''}\n"
        )
        for a in r["attempts"]:
            flag = " (suspended: earlier failure repeated)" if a["suspended"] else ""
            out.write(
                f"     {a['time']}  {a['status']:<8} dsn={a['dsn'] or '-'} "
                f"relay={a['relay'] or '-'}{flag}\n"
            )
            if a["reply"]:
                out.write(f"         {a['reply']}\n")
            if a["cause"]:
                out.write(f"         cause: {cause_label(a)} (hint: {a['retry_hint']})\n")
    if lines:
        out.write("\n   log lines:\n")
        for line in lines:
            out.write(f"   {line}\n")
    out.write("\n")


def make_console(file: IO[str] | None = None, stderr: bool = False) -> Console:
    """A console created per command, so `NO_COLOR`, `COLUMNS` and TTY state are honoured."""
    return Console(
        file=file, stderr=stderr, highlight=False, soft_wrap=False, markup=False, emoji=False
    )


@shows_log_text
def render_why_text(data: dict[str, Any], out: IO[str]) -> None:
    """Causes across all destinations: counts, affected domains, what to do, one example."""
    for line in header_lines(data):
        out.write(line + "\n")
    if not data["causes"]:
        out.write("\nNo deferrals.\n")
        return
    for c in data["causes"]:
        domains = ", ".join(f"{d['domain']} ({d['count']})" for d in c["domains"])
        more = c["domain_count"] - len(c["domains"])
        repeated = f", +{c['suspended']} repeated by the MTA" if c["suspended"] else ""
        out.write(
            f"\n{c['cause']}: {c['count']} deferral(s) of {c['recipients']} recipient(s)"
            f"{repeated} at {c['domain_count']} destination(s)\n"
        )
        out.write(f"  destinations: {domains}{f' and {more} more' if more > 0 else ''}\n")
        if c["explanation"]:
            out.write(f"  what it means: {c['explanation']}\n")
        if c["sender_action"]:
            out.write(f"  what to do: {c['sender_action']}\n")
        if c["example"]:
            out.write(f"  example: {c['example']}\n")
        if c["example_line"]:
            out.write(f"           ({c['example_line']})\n")


_ATTEMPT_FIELDS = (
    "host",
    "queue_id",
    "message_id",
    "address",
    "time",
    "status",
    "dsn",
    "relay",
    "suspended",
    "cause",
    "provider",
    "token",
    "retry_hint",
    "retry_hint_seconds",
    "reply",
    "line",
)


def attempt_rows(message: dict[str, Any]) -> Iterable[list[Any]]:
    """Flat rows, one per attempt, for `trace --format csv`."""
    for r in message["recipients"]:
        for a in r["attempts"]:
            yield [
                message["host"],
                message["queue_id"],
                message["message_id"],
                r["address"],
                a["time"],
                a["status"],
                a["dsn"],
                a["relay"],
                a["suspended"],
                a["cause"],
                a["provider"],
                a["token"],
                a["retry_hint"],
                a["retry_hint_seconds"],
                a["reply"],
                a["line"],
            ]


def attempts_csv_writer(out: IO[str]) -> Any:
    """A csv writer for attempt rows with the header row already written."""
    writer = _CsvWriter(out)
    writer.writerow(_ATTEMPT_FIELDS)
    return writer


def _zone_suffix(stamps: list[str]) -> str:
    """The UTC offset all these ISO 8601 times share (`+00:00`), or "" when they differ."""
    offsets = {t[19:] for t in stamps if t}
    return offsets.pop() if len(offsets) == 1 else ""


def _short_time(stamp: str | None, suffix: str) -> str:
    """`2026-11-29 13:41:16` when the column head names the offset, else the ISO text."""
    if not stamp:
        return ""
    return stamp[:19].replace("T", " ") if suffix else stamp


@shows_log_text
def render_trace_table(message: dict[str, Any], lines: list[str], console: Console) -> None:
    """One message's timeline as a table (attempts in time order) laid out to the
    terminal's width, then its log lines. Cause and reply go under their row when the
    terminal is too narrow for them."""
    fancy = console.is_terminal and not console.no_color
    console.print(
        Text(
            f"{message['mta']} {message['host']} {message['queue_id']}  "
            f"<{message['message_id'] or ''}>  from <{message['sender'] or ''}>  "
            f"arrived {message['arrived'] or 'unknown'}",
            style="bold" if fancy else "",
        )
    )
    times = [a["time"] for r in message["recipients"] for a in r["attempts"]]
    suffix = _zone_suffix(times)
    columns = [
        Column(f"Time ({suffix})" if suffix else "Time"),
        Column("Recipient", flex=True),
        Column("Status"),
        Column("DSN"),
        Column("Cause", tail=True, label="cause: "),
        Column("Reply", tail=True, label="reply: "),
    ]
    rows: list[list[str]] = []
    for r in message["recipients"]:
        for a in r["attempts"]:
            status = a["status"] + (" (repeat)" if a["suspended"] else "")
            rows.append(
                [
                    _short_time(a["time"], suffix),
                    r["address"],
                    status,
                    a["dsn"] or "",
                    cause_label(a) if a["cause"] else "",
                    a["reply"] or "",
                ]
            )
        rows.append(
            ["", f"= {r['outcome']}, {format_duration(r['held_seconds'])} in queue", "", "", "", ""]
        )
    for i, line in enumerate(fit_table(columns, rows, console.width)):
        console.print(Text(line, style="bold" if fancy and i == 0 else ""), highlight=False)
    for line in lines:
        console.print(Text(line, style="dim" if fancy else ""), highlight=False)
    console.print()


@shows_log_text
def render_messages_table(messages: list[dict[str, Any]], console: Console) -> None:
    """Recipients of the messages as one table (for `messages --format table`), laid out
    to the terminal's width: queue ids are never cut (they are what `trace` takes)."""
    fancy = console.is_terminal and not console.no_color
    suffix = _zone_suffix([m["arrived"] or "" for m in messages])
    columns = [
        Column("Queue id"),
        Column(f"Arrived ({suffix})" if suffix else "Arrived"),
        Column("Recipient", flex=True),
        Column("Outcome"),
        Column("Dfr", right=True),
        Column("In queue", right=True),
        Column("Last reply", tail=True, label="last reply: "),
    ]
    rows = [
        [
            str(row[1]),
            _short_time(row[4], suffix),
            str(row[5]),
            "queued" if row[7] == "held" else str(row[7]),
            str(row[8]),
            format_duration(row[11]),
            str(row[12] or ""),
        ]
        for m in messages
        for row in recipient_rows(m)
    ]
    for i, line in enumerate(fit_table(columns, rows, console.width)):
        console.print(Text(line, style="bold" if fancy and i == 0 else ""), highlight=False)
    if not fancy or rows:
        console.print(
            Text("Dfr: deferrals; In queue: time in queue (to the outcome, or to the end)"),
            highlight=False,
        )


LIVE_ROWS = 20
"""Destinations the live screen lists (most queued recipients first)."""


@shows_log_text
def render_live(snap: Snapshot, zone: tzinfo, files: list[str]) -> RenderableType:
    """The `watch` screen: mail queued now by destination (age of the oldest, last cause,
    when the receiver will take a retry), deferrals in the last minute, recent bounces.
    Every text from the log goes through `plain` (no control characters reach the
    terminal) and is shown as Rich `Text` (no markup is read from it)."""

    def when(t: float | None) -> str:
        if t is None:
            return "-"
        if t <= snap.now:
            return "now"
        return "in " + format_duration(t - snap.now)

    stamp = format_time(round(snap.now), zone) or ""
    head = Text(
        plain(
            f"{stamp}  following {', '.join(files)}  lines {snap.lines}"
            f" (unparsed {snap.unparsed})  deferrals in the last minute: "
            f"{snap.deferrals_last_minute}"
        )
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left")
    table.title = Text(f"Queued now ({sum(q.recipients for q in snap.queued)} recipients)")
    for title, justify in (
        ("Destination", "left"),
        ("Queued", "right"),
        ("Oldest", "right"),
        ("Last cause", "left"),
        ("Retry accepted", "right"),
        ("Last reply", "left"),
    ):
        table.add_column(title, justify=justify, no_wrap=title != "Last reply", overflow="ellipsis")  # type: ignore[arg-type]
    for q in snap.queued[:LIVE_ROWS]:
        cls = q.last_cause
        cause = (
            "-" if cls is None else cls.cause.value + (f" ({cls.provider})" if cls.provider else "")
        )
        table.add_row(
            Text(plain(q.domain)),
            str(q.recipients),
            _dur(None if q.oldest_since is None else snap.now - q.oldest_since),
            Text(plain(cause)),
            when(q.retry_after),
            Text(plain((q.last_reply or "")[:200])),
        )
    if len(snap.queued) > LIVE_ROWS:
        table.caption = Text(f"... and {len(snap.queued) - LIVE_ROWS} more destinations")
    parts: list[RenderableType] = [head, table]
    if snap.recent_bounces:
        parts.append(Text("Recent bounces:"))
        for t, rcpt, reply in snap.recent_bounces:
            shown = format_time(t, zone) or ""
            parts.append(Text(plain(f"  {shown}  {rcpt}  {(reply or '')[:160]}")))
    return Group(*parts)
