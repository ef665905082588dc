"""Shared pieces of the hostile-input tests: real line shapes from `sample_logs/` and one
line's whole way through the tool (parse, correlate, classify, report, every renderer)."""

from __future__ import annotations

import io
import json
from datetime import UTC
from pathlib import Path
from typing import Any

from rich.console import Console

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.model import LineRef, Message
from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference
from maillog_diag.mta import no_removal_line
from maillog_diag.output.html import render_html
from maillog_diag.output.monitor import Thresholds, evaluate
from maillog_diag.output.render import (
    message_text,
    render_daily_text,
    render_messages_table,
    render_report_csv,
    render_report_table,
    render_report_text,
    render_trace,
    render_trace_table,
    render_why_text,
    summary_line,
)
from maillog_diag.output.serialize import causes_dict, message_dict, report_dict
from maillog_diag.scan.lines import LineParser
from maillog_diag.scan.pipeline import ScanResult

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILES = (
    ROOT / "sample_logs" / "postfix" / "mail.log",
    ROOT / "sample_logs" / "postfix" / "maillog_file.log",
    ROOT / "sample_logs" / "postfix" / "mail.log.rfc3339",
    ROOT / "sample_logs" / "exim" / "mainlog",
    ROOT / "sample_logs" / "exim" / "mainlog.millisec_tz",
    ROOT / "sample_logs" / "sendmail" / "maillog",
    ROOT / "sample_logs" / "opensmtpd" / "maillog",
)


def new_parser() -> LineParser:
    """A line parser reading yearless stamps as UTC in 2026."""
    return LineParser(TimeParser(UTC, YearInference(fixed=2026)))


def line_shapes(per_kind: int = 1, files: tuple[Path, ...] = SAMPLE_FILES) -> list[str]:
    """One real line per shape (event type, status, ignore reason) of every sample log."""
    seen: dict[tuple[str, ...], int] = {}
    out: list[str] = []
    for path in files:
        parser = new_parser()
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ev = parser.parse(line)
            except UnparsableLine:
                key: tuple[str, ...] = (str(path), "unparsed")
            else:
                if ev is None:
                    reason = max(parser.counts.ignored_by_reason.items(), key=lambda kv: kv[1])
                    key = (str(path), "ignored", reason[0], line.split()[4][:6])
                else:
                    status = str(getattr(ev, "status", ""))
                    key = (str(path), type(ev).__name__, status, str(bool(getattr(ev, "reply", 0))))
            if seen.get(key, 0) < per_kind:
                seen[key] = seen.get(key, 0) + 1
                out.append(line)
    return out


def run_lines(lines: list[str], *, check: bool = True, full: bool = True) -> dict[str, str]:
    """Every line through the parser, the correlator and every renderer (`full`; else JSON,
    text and the check line only); what each renderer wrote, by name. Checks the line
    accounting on the way."""
    parser = new_parser()
    builder = ReportBuilder({"x": 0})
    messages: list[Message] = []

    def emit(msg: Message) -> None:
        messages.append(msg)
        builder.add(msg)

    correlator = Correlator(emit, keep_lines=True, no_removal_line=no_removal_line())
    result = ScanResult()
    for i, line in enumerate(lines, 1):
        try:
            event = parser.parse(line, "x", i)
        except UnparsableLine as exc:
            result.unparsed_sample.append(exc)
            continue
        if event is not None:
            event.ref = LineRef("x", i, line)
            correlator.feed(event)
    correlator.finish()
    counts = parser.counts
    if check:
        assert counts.used + counts.ignored + counts.unparsed == counts.total == len(lines)
    result.counts = counts
    result.first_time = correlator.first_time
    result.last_time = correlator.last_time
    return render_all(builder, result, messages, full=full)


def render_all(
    builder: ReportBuilder, result: ScanResult, messages: list[Message], *, full: bool = True
) -> dict[str, str]:
    """What every renderer makes of one pass (`full`: all of them)."""
    out: dict[str, str] = {}
    data = report_dict(builder, result, UTC, include_all=True)
    data["causes"] = causes_dict(builder)
    out["json"] = json.dumps(data, ensure_ascii=False, sort_keys=True)
    buf = io.StringIO()
    render_report_text(data, buf, 3, hourly=True)
    out["text"] = buf.getvalue()
    out["check"] = evaluate(data, Thresholds(warn_held_age=60.0, warn_deferred=1))[1]
    if not full:
        return out
    buf = io.StringIO()
    render_daily_text(data, buf, 3)
    out["daily"] = buf.getvalue()
    buf = io.StringIO()
    render_report_csv(data, buf)
    out["csv"] = buf.getvalue()
    buf = io.StringIO()
    render_why_text(data, buf)
    out["why"] = buf.getvalue()
    out["html"] = render_html(data, summary_line(data))
    table = io.StringIO()
    console = Console(file=table, width=120, color_system=None, force_terminal=False)
    render_report_table(data, console, 3)
    dicts = [message_dict(m, UTC) for m in messages]
    render_messages_table(dicts, console)
    buf = io.StringIO()
    for m, d in zip(messages, dicts, strict=True):
        lines = [f"{r.source}:{r.lineno}: {r.text}" for r in m.lines]
        render_trace(d, lines, buf)
        render_trace_table(d, lines, console)
        buf.write(message_text(d))
    out["trace"] = buf.getvalue()
    out["table"] = table.getvalue()
    return out


def all_text(outputs: dict[str, Any]) -> str:
    """Everything the human-readable renderers wrote."""
    return "".join(v for k, v in outputs.items() if k not in ("json", "html", "csv"))
