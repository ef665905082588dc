"""Output for people and scripts: Rich tables, plain text, JSON and CSV.

Only this module and `cli.py` know about Rich. Renderers take the plain dicts of
`maillog_diag.serialize` (the JSON contract), so every format shows the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from maillog_diag.input.timestamps import format_duration, format_time
from maillog_diag.output.escape import json_safe, shows_log_text, visible
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
    """The two header lines: the time span covered and the line accounting."""
    span = report["span"]
    lines = report["lines"]
    totals = report["totals"]
    first = (
        f"Log span: {span['start']} to {span['end']}"
        if span["start"]
        else "Log span: no dated mail lines"
    )
    second = (
        f"Lines: {lines['total']} read, {lines['used']} used, {lines['ignored']} ignored, "
        f"{lines['unparsed']} unparsed. Messages: {report['messages']}; recipients: "
        f"{totals['recipients']}, delayed {totals['recipients_deferred']}, "
        f"still held {totals['held']}."
    )
    out = [first, second]
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


_COLUMNS = (
    ("domain", "Destination"),
    ("recipients_deferred", "Delayed"),
    ("delivered_after_delay", "Late"),
    ("bounced", "Bounced"),
    ("expired", "Expired"),
    ("held", "Held"),
    ("deferrals", "Deferrals"),
)


def cause_label(c: dict[str, Any]) -> str:
    """`greylisting (postgrey) · retry 300s` style label for one cause entry."""
    who = "/".join(x for x in (c.get("provider"), c.get("token")) if x)
    label: str = c["cause"] + (f" ({who})" if who else "")
    seconds = c.get("retry_hint_seconds")
    if seconds is not None:
        kind = "asked" if c.get("retry_hint") == "explicit" else "documented"
        label += f", retry {format_duration(seconds)} {kind}"
    elif c.get("retry_hint") == "vague":
        label += ", retry later"
    return label


def _row(d: dict[str, Any]) -> list[str]:
    held = d["held_seconds"]
    top = cause_label(d["causes"][0]) if d.get("causes") else "-"
    if d.get("forced_split_only"):
        top = "forced split only (not a failure)"
    return [
        *(str(d[key]) for key, _ in _COLUMNS),
        _dur(held["p50"]),
        _dur(held["p95"]),
        _dur(held["max"]),
        top,
    ]


_HEADS = [title for _, title in _COLUMNS] + ["Held p50", "p95", "max", "Leading cause"]


@shows_log_text
def detail_lines(report: dict[str, Any], reasons: int) -> list[str]:
    """The sections under the table: causes and reasons per destination, forced splits,
    the retry schedule against the receivers' hints, and mail still held."""
    out: list[str] = []
    if reasons:
        out += ["", "Causes by destination:"]
        for d in report["destinations"]:
            if not d["causes"] and not d["reasons"]:
                continue
            out.append(d["domain"])
            for c in d["causes"][:reasons]:
                extra = f" (+{c['suspended']} repeated by the MTA)" if c["suspended"] else ""
                out.append(f"  {c['count']:>6} x {cause_label(c)}{extra}")
                if c.get("detail"):
                    out.append(f"           {c['detail']}")
            for r in d["reasons"][:reasons]:
                out.append(f"  {r['count']:>6} x {r['reason']}")
                if r["example_line"]:
                    out.append(f"           e.g. {r['example_line']}")
            split = d["forced_split"]
            if split["deferrals"]:
                out.append(
                    f"  forced splits: {split['deferrals']} deferral(s) of {split['recipients']}"
                    f" recipient(s) while others in the same transaction were accepted; "
                    f"delay added {format_duration(split['delay_seconds'])}"
                )
            sched = d["retry_schedule"]
            if sched["compared"]:
                out.append(
                    f"  retries vs the receiver's stated interval: {sched['early']} early "
                    f"({sched['wasted']} wasted), {sched['on_time']} on time, {sched['late']} late "
                    f"(avoidable delay {format_duration(sched['avoidable_seconds'])})"
                )
            if sched["suggestion"]:
                out.append(f"  suggestion: {sched['suggestion']}")
    splits = [d for d in report["destinations"] if d.get("forced_split_only")]
    if splits:
        out += ["", "Forced splits (the receiver asked for fewer recipients per transaction):"]
        for d in splits:
            out.append(
                f"  {d['domain']}: {d['forced_split']['recipients']} recipient(s) split off, "
                f"delay added {format_duration(d['forced_split']['delay_seconds'])}"
            )
    held = report.get("held_mail") or []
    if held:
        out += ["", f"Still held at the end of the log ({len(held)}):"]
        for h in held[:20]:
            retry = (
                f", receiver accepts a retry from {h['retry_after']}" if h["retry_after"] else ""
            )
            out.append(
                f"  {h['address']} ({h['queue_id']}) since {h['since'] or 'before the log'}, "
                f"{h['deferrals']} deferral(s), last cause {h['last_cause'] or 'unknown'}{retry}"
            )
        if len(held) > 20:
            out.append(f"  ... and {len(held) - 20} more (see --format json)")
    return out + queue_lines(report)


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


def plain(text: str) -> str:
    """`text` without control characters: the ones log text may bring become visible
    escapes (`output.escape.visible`), tabs become spaces; newlines of the layout stay."""
    return "\n".join(visible(line).replace("\t", " ") for line in text.split("\n"))


@shows_log_text
def summary_line(report: dict[str, Any]) -> str:
    """One line for the top of a mailed report: how many destinations delayed mail, how
    many recipients are still held, and the worst destination with its longest held time
    and leading cause."""
    failing = [d for d in report["destinations"] if not d.get("forced_split_only")]
    delayed = [d for d in failing if d["recipients_deferred"] or d["held"]]
    held = report["totals"]["held"]
    if not delayed and not held:
        return "No mail was delayed."
    n = len(delayed)
    parts = [f"{n} destination{'s' if n != 1 else ''} delayed mail", f"{held} still held"]
    if failing:
        worst = failing[0]
        cause = worst["causes"][0]["cause"] if worst.get("causes") else "cause unknown"
        parts.append(
            f"worst: {worst['domain']} {format_duration(worst['held_seconds']['max'])}, {cause}"
        )
    return "; ".join(parts)


_LEVELS_ASCII = " .:-=+*#%@"
_LEVELS_UNICODE = " ▁▂▃▄▅▆▇█"


@shows_log_text
def hourly_picture(
    report: dict[str, Any], *, unicode: bool = False, top: int = 5, width: int = 48
) -> list[str]:
    """Delayed and held mail per hour for the top destinations, one character per hour
    (or per few hours, to fit `width`), scaled to each row's peak."""
    rows = [d for d in report["destinations"] if d.get("hourly") and not d.get("forced_split_only")]
    rows = rows[:top]
    if not rows:
        return []
    hours = sorted({h["hour"] for d in rows for h in d["hourly"]})
    stamps = [datetime.fromisoformat(h).timestamp() for h in hours]
    first, last = int(min(stamps) // 3600), int(max(stamps) // 3600)
    step = max(1, -(-(last - first + 1) // width))
    columns = -(-(last - first + 1) // step)
    levels = _LEVELS_UNICODE if unicode else _LEVELS_ASCII
    name_width = max(len(d["domain"]) for d in rows)
    out = [
        "",
        f"Per hour from {hours[0]} ({step} hour(s) per column; held recipients, then "
        "deferrals; each row scaled to its peak):",
    ]
    for d in rows:
        for key, label, name in (("held", "held ", d["domain"]), ("deferrals", "defer", "")):
            buckets = [0] * columns
            for h in d["hourly"]:
                i = (int(datetime.fromisoformat(h["hour"]).timestamp() // 3600) - first) // step
                buckets[i] = max(buckets[i], h[key])
            peak = max(buckets)
            chars = "".join(
                levels[0] if v == 0 else levels[max(1, round(v / peak * (len(levels) - 1)))]
                for v in buckets
            )
            out.append(f"  {name.ljust(name_width)}  {label} |{chars}| peak {peak}")
    return out


@shows_log_text
def render_daily_text(report: dict[str, Any], out: IO[str], reasons: int) -> None:
    """The report for cron mail: the summary line first, then the window and accounting,
    the per-destination table, the per-hour picture and the causes. Plain ASCII layout,
    no control characters, the same width whatever the terminal."""
    buf = io.StringIO()
    render_report_text(report, buf, reasons, hourly=True)
    out.write(plain(summary_line(report)) + "\n\n")
    out.write(plain(buf.getvalue()))


@shows_log_text
def render_report_table(report: dict[str, Any], console: Console, reasons: int) -> None:
    """The terminal report: header, the destination table, then reasons per destination."""
    for line in header_lines(report):
        console.print(line, highlight=False, markup=False)
    if not report["destinations"]:
        console.print("No delayed, bounced, expired or held mail.", highlight=False)
        for line in queue_lines(report):
            console.print(Text(line), highlight=False)
        return
    fancy = console.is_terminal
    table = Table(
        box=box.SIMPLE_HEAD if fancy else None,
        show_edge=False,
        pad_edge=False,
        header_style="bold" if fancy else "",
    )
    for i, title in enumerate(_HEADS):
        table.add_column(
            title,
            justify="left" if i in (0, len(_HEADS) - 1) else "right",
            overflow="fold" if i == len(_HEADS) - 1 else "ellipsis",
            ratio=3 if i == len(_HEADS) - 1 else None,
            no_wrap=i != len(_HEADS) - 1,
        )
    for d in report["destinations"]:
        table.add_row(*map(Text, _row(d)))
    console.print(table)
    for line in hourly_picture(report, unicode=True):
        console.print(Text(line), highlight=False)
    for line in detail_lines(report, reasons):
        console.print(Text(line), highlight=False)


@shows_log_text
def render_report_text(
    report: dict[str, Any], out: IO[str], reasons: int, *, hourly: bool = False
) -> None:
    """A plain report of stable layout, for mail and files: fixed columns sized to their
    content, and the leading cause, last, written out in full."""
    for line in header_lines(report):
        out.write(line + "\n")
    out.write("\n")
    rows = [_row(d) for d in report["destinations"]]
    if not rows:
        out.write("No delayed, bounced, expired or held mail.\n")
        for line in queue_lines(report):
            out.write(line + "\n")
        return
    fixed = [_HEADS] + [r[:-1] + [""] for r in rows]
    widths = [max(len(r[i]) for r in fixed) for i in range(len(_HEADS) - 1)]

    def fmt(cells: list[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:], strict=True)]
        parts.append(cells[-1])
        return "  ".join(parts).rstrip()

    out.write(fmt(_HEADS) + "\n")
    for r in rows:
        out.write(fmt(r) + "\n")
    for line in hourly_picture(report) if hourly else []:
        out.write(line + "\n")
    for line in detail_lines(report, reasons):
        out.write(line + "\n")


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


class _CsvWriter:
    """`csv.writer` whose text cells pass through `escape.visible` (README: CSV shows
    control characters as `\\xHH`, like the text formats; JSON has the exact text)."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([visible(c) if isinstance(c, str) else c for c in row])


def render_report_csv(report: dict[str, Any], out: IO[str]) -> None:
    """One CSV row per destination (seconds for durations)."""
    writer = _CsvWriter(out)
    writer.writerow(_CSV_FIELDS)
    for d in report["destinations"]:
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


def write_json(data: Any, out: IO[str]) -> None:
    """Pretty JSON with a trailing newline."""
    out.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))
    out.write("\n")


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
            f"held {_dur(r['held_seconds'])}\n"
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
            f"{r['outcome']}, {r['deferrals']} deferral(s), held {_dur(r['held_seconds'])}"
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


@shows_log_text
def render_trace_table(message: dict[str, Any], lines: list[str], console: Console) -> None:
    """One message's timeline as a Rich table (attempts in time order), then its log lines."""
    fancy = console.is_terminal
    console.print(
        Text(
            f"{message['mta']} {message['host']} {message['queue_id']}  "
            f"<{message['message_id'] or ''}>  from <{message['sender'] or ''}>  "
            f"arrived {message['arrived'] or 'unknown'}",
            style="bold" if fancy else "",
        )
    )
    table = Table(box=box.SIMPLE_HEAD if fancy else None, show_edge=False, pad_edge=False)
    for title in ("Time", "Recipient", "Status", "DSN", "Cause", "Reply"):
        last = title == "Reply"
        table.add_column(title, overflow="fold" if last else "ellipsis", no_wrap=not last)
    for r in message["recipients"]:
        for a in r["attempts"]:
            status = a["status"] + (" (repeat)" if a["suspended"] else "")
            cells = (
                a["time"] or "",
                r["address"],
                status,
                a["dsn"] or "",
                cause_label(a) if a["cause"] else "",
                a["reply"] or "",
            )
            table.add_row(*map(Text, cells))
        table.add_row(
            "", Text(f"= {r['outcome']}, held {format_duration(r['held_seconds'])}"), "", "", "", ""
        )
    console.print(table)
    for line in lines:
        console.print(Text(line, style="dim" if fancy else ""), highlight=False)
    console.print()


@shows_log_text
def render_messages_table(messages: list[dict[str, Any]], console: Console) -> None:
    """Recipients of the messages as one Rich table (for `messages --format table`)."""
    fancy = console.is_terminal
    table = Table(box=box.SIMPLE_HEAD if fancy else None, show_edge=False, pad_edge=False)
    for title in ("Queue id", "Arrived", "Recipient", "Outcome", "Deferrals", "Held", "Last reply"):
        last = title == "Last reply"
        table.add_column(
            title,
            overflow="fold" if last else "ellipsis",
            no_wrap=not last,
            min_width=None if last else len(title),
        )
    for m in messages:
        for row in recipient_rows(m):
            cells = (
                str(row[1]),
                str(row[4] or ""),
                str(row[5]),
                str(row[7]),
                str(row[8]),
                format_duration(row[11]),
                str(row[12] or ""),
            )
            table.add_row(*map(Text, cells))
    console.print(table)


LIVE_ROWS = 20
"""Destinations the live screen lists (most queued recipients first)."""


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
