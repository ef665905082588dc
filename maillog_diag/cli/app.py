"""The `maillog-diag` command line: thin wrappers over the core, plus output and exit codes.

Exit status: 0 success; 2 usage error; 3 an input could not be read, or no line of the
input could be read as an MTA log; 70 an internal error (reported in one line, with no
traceback). Data goes to stdout; the unparsed-line sample and errors go to stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import IntEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from maillog_diag import __version__
from maillog_diag.cli.config import Config, ConfigError, load_config
from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.model import Message
from maillog_diag.core.window import MessageFilter, parse_duration, parse_moment
from maillog_diag.errors import InputError, MaillogError, UnparsableLine
from maillog_diag.input.journal import journalctl_command
from maillog_diag.input.sources import JOURNAL_INPUT, expand_inputs, total_bytes
from maillog_diag.input.timestamps import format_time, resolve_zone
from maillog_diag.mta import journal_units
from maillog_diag.output.html import render_html
from maillog_diag.output.monitor import CheckState, Thresholds, evaluate, unknown
from maillog_diag.output.render import (
    OutputFormat,
    attempt_rows,
    attempts_csv_writer,
    make_console,
    message_text,
    messages_csv_writer,
    recipient_rows,
    render_daily_text,
    render_messages_table,
    render_report_csv,
    render_report_table,
    render_report_text,
    render_trace,
    render_trace_table,
    render_why_text,
    summary_line,
    write_json,
    write_jsonl,
)
from maillog_diag.output.serialize import (
    causes_dict,
    lines_dict,
    message_dict,
    report_dict,
    span_dict,
)
from maillog_diag.scan.pipeline import ScanOptions, ScanResult, default_jobs, scan, scan_report

DEFAULT_LOG = "/var/log/mail.log"


class ExitCode(IntEnum):
    """The exit statuses the README documents."""

    OK = 0
    USAGE = 2
    INPUT = 3
    INTERNAL = 70


app = typer.Typer(
    name="maillog-diag",
    help="Why outbound mail is delayed, and for how long, from Postfix, Exim and Sendmail logs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

FilesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Log files to read in order ('-' for standard input). Default: {DEFAULT_LOG}.",
        show_default=False,
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone of stamps without one (IANA name, e.g. Europe/Berlin). Default: local.",
    ),
]
YearOpt = Annotated[
    int | None,
    typer.Option("--year", help="Year of the first yearless syslog stamp (default: inferred)."),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Processes to use (default: one per core for logs of 32 MB or more, else one).",
    ),
]
RotatedOpt = Annotated[
    bool | None,
    typer.Option(
        "--rotated/--no-rotated",
        help="Also read each named file's rotations (mail.log.1, mail.log.2.gz, "
        "mail.log-20261128, ...), oldest first, as one stream.",
        show_default=False,
    ),
]
JournalOpt = Annotated[
    bool,
    typer.Option(
        "--journal",
        help="Read the systemd journal (runs journalctl -o json with mail filters).",
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start of the window: yesterday, today, -24h, '3 days ago', 2026-11-28, "
        "'2026-11-28 06:00', ISO 8601.",
    ),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="End of the window (same forms as --since).")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings file (default: /etc/maillog-diag/config.toml, then "
        "~/.config/maillog-diag/config.toml).",
    ),
]
UnparsedOpt = Annotated[
    Path | None,
    typer.Option(
        "--unparsed",
        help="Write every unparsed line (with file:line and why) to this file; '-' for stderr.",
    ),
]


def _fail(message: str, code: ExitCode) -> typer.Exit:
    sys.stderr.write(f"maillog-diag: {message}\n")
    return typer.Exit(int(code))


def _zone(tz: str | None) -> tzinfo:
    try:
        return resolve_zone(tz)
    except ValueError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None


class _UnparsedSink:
    """Writes every unparsed line to a file when asked to (`--unparsed`)."""

    def __init__(self, target: Path | None) -> None:
        self._file: IO[str] | None = None
        if target is None:
            return
        if str(target) == "-":
            self._file = sys.stderr
        else:
            try:
                self._file = open(target, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise _fail(f"{target}: cannot write: {exc.strerror}", ExitCode.USAGE) from None

    def __call__(self, exc: UnparsableLine) -> None:
        assert self._file is not None
        self._file.write(f"{exc.source}:{exc.lineno}: {exc.context}\n    {exc.text}\n")

    @property
    def callback(self) -> Callable[[UnparsableLine], None] | None:
        return self if self._file is not None else None

    def close(self) -> None:
        if self._file is not None and self._file is not sys.stderr:
            self._file.close()


NOW_VAR = "MAILLOG_DIAG_NOW"
"""An ISO 8601 moment to use as "now" (for tests and for re-running yesterday's job)."""


def _now() -> float:
    value = os.environ.get(NOW_VAR)
    if not value:
        return time.time()
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise _fail(f"{NOW_VAR}={value!r} is not an ISO 8601 time", ExitCode.USAGE) from None


@dataclass(slots=True)
class _Setup:
    """What a command reads and how: resolved from options, the config file and defaults."""

    names: list[str]
    zone: tzinfo
    window: MessageFilter
    config: Config
    now: float
    journal_cmd: tuple[str, ...] | None = None


def _setup(
    files: list[str] | None,
    *,
    tz: str | None,
    rotated: bool | None = None,
    journal: bool = False,
    since: str | None = None,
    until: str | None = None,
    config: Path | None = None,
    default_rotated: bool = False,
) -> _Setup:
    try:
        cfg = load_config(str(config) if config is not None else None)
    except ConfigError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None
    zone = _zone(tz or cfg.tz)
    now = _now()
    try:
        since_t = parse_moment(since, zone, now) if since else None
        until_t = parse_moment(until, zone, now) if until else None
    except ValueError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None
    if since_t is not None and until_t is not None and since_t >= until_t:
        raise _fail(
            f"--since ({format_time(since_t, zone)}) is not before --until "
            f"({format_time(until_t, zone)})",
            ExitCode.USAGE,
        )
    window = MessageFilter(since_t, until_t, frozenset(cfg.exclude_domains))
    if journal or (cfg.journal and not files):
        if files:
            raise _fail("--journal reads the journal: name no files with it", ExitCode.USAGE)
        try:
            cmd = journalctl_command(since_t, until_t, units=journal_units())
        except InputError as exc:
            raise _fail(str(exc), ExitCode.INPUT) from None
        return _Setup([JOURNAL_INPUT], zone, window, cfg, now, tuple(cmd))
    chosen = rotated if rotated is not None else cfg.rotated
    try:
        names = expand_inputs(
            files or cfg.inputs or [DEFAULT_LOG],
            rotated=chosen if chosen is not None else default_rotated,
        )
    except InputError as exc:
        raise _fail(str(exc), ExitCode.INPUT) from None
    return _Setup(names, zone, window, cfg, now)


PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Inputs smaller than this are read without a progress bar."""


@contextmanager
def _progress(names: list[str]) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal and the inputs are large files."""
    total = total_bytes(names)
    if not sys.stderr.isatty() or total is None or total < PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("reading"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rate]} lines/s"),
        TimeRemainingColumn(),
        console=make_console(stderr=True),
        transient=True,
    )
    task = bar.add_task("read", total=total, rate="-")
    started = time.monotonic()

    def update(done: int, lines: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        bar.update(task, completed=done, rate=f"{lines / elapsed:,.0f}")

    with bar:
        yield update


def _scan_options(
    setup: _Setup, year: int | None, sink: _UnparsedSink, **extra: Any
) -> ScanOptions:
    return ScanOptions(
        zone=setup.zone,
        year=year,
        on_unparsed=sink.callback,
        journal_cmd=setup.journal_cmd,
        window=setup.window,
        **extra,
    )


def _run(
    setup: _Setup,
    *,
    year: int | None,
    unparsed: Path | None,
    emit: Callable[[Message], None],
    keep_lines: bool = False,
) -> ScanResult:
    sink = _UnparsedSink(unparsed)
    window = setup.window
    target = emit
    if window.since is not None or window.until is not None:

        def target(msg: Message) -> None:
            if window.touches(msg):
                emit(msg)

    try:
        with _progress(setup.names) as progress:
            options = _scan_options(setup, year, sink, keep_lines=keep_lines, progress=progress)
            result = scan(setup.names, options, target)
    finally:
        sink.close()
    return result


def _report_run(
    setup: _Setup,
    *,
    year: int | None,
    unparsed: Path | None,
    jobs: int | None,
) -> tuple[ReportBuilder, ScanResult]:
    names = setup.names
    sink = _UnparsedSink(unparsed)
    try:
        with _progress(names) as progress:
            options = _scan_options(setup, year, sink, progress=progress)
            builder, result = scan_report(names, options, jobs or default_jobs(names))
    finally:
        sink.close()
    return builder, result


def _finish(result: ScanResult, *, show_sample: bool = True) -> None:
    """Report unparsed lines and input errors on stderr; raise the right exit."""
    counts = result.counts
    if counts.unparsed and show_sample:
        sys.stderr.write(
            f"maillog-diag: {counts.unparsed} of {counts.total} lines could not be parsed"
            f" (all of them with --unparsed FILE); first ones:\n"
        )
        for exc in result.unparsed_sample:
            sys.stderr.write(f"  {exc.source}:{exc.lineno}: {exc.context}\n")
            sys.stderr.write(f"    {exc.text[:300]}\n")
    for err in result.input_errors:
        sys.stderr.write(f"maillog-diag: {err}\n")
    if result.input_errors:
        raise typer.Exit(int(ExitCode.INPUT))
    if counts.total and not counts.used and counts.unparsed:
        raise _fail("no line of the input could be read as an MTA log", ExitCode.INPUT)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"maillog-diag {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Why outbound mail is delayed, and for how long, from the MTA's own logs."""


@app.command()
def report(
    files: FilesArg = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="table (default on a terminal), text (default otherwise), json, csv, html.",
        ),
    ] = None,
    tz: TzOpt = None,
    year: YearOpt = None,
    all_destinations: Annotated[
        bool, typer.Option("--all", help="List every destination, not only troubled ones.")
    ] = False,
    reasons: Annotated[
        int, typer.Option("--reasons", min=0, help="Reasons shown per destination.")
    ] = 3,
    unparsed: UnparsedOpt = None,
    jobs: JobsOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Per destination domain: delayed, bounced, expired and held mail, held times, reasons.

    Example: maillog-diag report /var/log/mail.log
    """
    setup = _setup(
        files,
        tz=tz,
        rotated=rotated,
        journal=journal,
        since=since,
        until=until,
        config=config,
    )
    builder, result = _report_run(setup, year=year, unparsed=unparsed, jobs=jobs)
    zone = setup.zone
    data = report_dict(
        builder,
        result,
        zone,
        include_all=all_destinations,
        reasons=max(reasons, 1),
        window=setup.window,
    )
    out = sys.stdout
    chosen = fmt or (OutputFormat.TABLE if out.isatty() else OutputFormat.TEXT)
    if chosen is OutputFormat.JSON or chosen is OutputFormat.JSONL:
        write_json(data, out)
    elif chosen is OutputFormat.HTML:
        out.write(render_html(data, summary_line(data)))
    elif chosen is OutputFormat.CSV:
        render_report_csv(data, out)
    elif chosen is OutputFormat.TEXT:
        render_report_text(data, out, reasons)
    else:
        render_report_table(data, make_console(), reasons)
    _finish(result)


@app.command()
def daily(
    files: FilesArg = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text (default), html, json.")
    ] = OutputFormat.TEXT,
    tz: TzOpt = None,
    year: YearOpt = None,
    since: Annotated[
        str, typer.Option("--since", help="Start of the window (default: yesterday).")
    ] = "yesterday",
    until: Annotated[
        str, typer.Option("--until", help="End of the window (default: today, i.e. midnight).")
    ] = "today",
    quiet_if_clean: Annotated[
        bool,
        typer.Option("--quiet-if-clean", help="Print nothing when no mail was delayed or held."),
    ] = False,
    reasons: Annotated[
        int, typer.Option("--reasons", min=0, help="Reasons shown per destination.")
    ] = 2,
    rotated: Annotated[
        bool | None,
        typer.Option(
            "--rotated/--no-rotated",
            help="Read each file's rotations too (default: yes, yesterday's lines are "
            "usually in mail.log.1).",
            show_default=False,
        ),
    ] = None,
    journal: JournalOpt = False,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Yesterday's report for cron mail: summary line, table, per-hour picture, causes.

    Plain text with no control characters and a fixed layout (or --format html).

    Example: maillog-diag daily --quiet-if-clean
    """
    setup = _setup(
        files,
        tz=tz,
        rotated=rotated,
        journal=journal,
        since=since,
        until=until,
        config=config,
        default_rotated=True,
    )
    builder, result = _report_run(setup, year=year, unparsed=None, jobs=jobs)
    data = report_dict(builder, result, setup.zone, reasons=max(reasons, 1), window=setup.window)
    totals = data["totals"]
    clean = not (totals["recipients_deferred"] or totals["held"] or totals["bounced"])
    if not (quiet_if_clean and clean and not result.input_errors):
        out = sys.stdout
        if fmt is OutputFormat.HTML:
            out.write(render_html(data, summary_line(data), "maillog-diag daily report"))
        elif fmt in (OutputFormat.JSON, OutputFormat.JSONL):
            write_json(data, out)
        else:
            render_daily_text(data, out, reasons)
    _finish(result, show_sample=not quiet_if_clean)


@app.command()
def why(
    files: FilesArg = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text (default), json.")
    ] = OutputFormat.TEXT,
    tz: TzOpt = None,
    year: YearOpt = None,
    domains: Annotated[
        int, typer.Option("--domains", min=1, help="Destinations named per cause.")
    ] = 5,
    unparsed: UnparsedOpt = None,
    jobs: JobsOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Causes of deferral across all destinations: counts, domains, what to do, an example.

    Example: maillog-diag why /var/log/mail.log
    """
    setup = _setup(
        files,
        tz=tz,
        rotated=rotated,
        journal=journal,
        since=since,
        until=until,
        config=config,
    )
    builder, result = _report_run(setup, year=year, unparsed=unparsed, jobs=jobs)
    data = report_dict(builder, result, setup.zone, window=setup.window)
    data["causes"] = causes_dict(builder, domains=domains)
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        write_json(
            {k: data[k] for k in ("lines", "span", "messages", "totals", "causes")}, sys.stdout
        )
    else:
        render_why_text(data, sys.stdout)
    _finish(result)


def _matches(query: str) -> Callable[[Message], bool]:
    q = query.strip()
    bare = q[1:-1] if q.startswith("<") and q.endswith(">") else q
    lowered = bare.lower()

    def match(msg: Message) -> bool:
        if msg.queue_id == bare or msg.message_id == bare:
            return True
        if msg.sender is not None and msg.sender.lower() == lowered:
            return True
        return any(
            r.address.lower() == lowered
            or (r.orig_address is not None and r.orig_address.lower() == lowered)
            for r in msg.recipients.values()
        )

    return match


@app.command()
def trace(
    query: Annotated[str, typer.Argument(help="A queue id, a Message-ID or an email address.")],
    files: FilesArg = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="text (default), table, json, jsonl, csv."),
    ] = OutputFormat.TEXT,
    tz: TzOpt = None,
    year: YearOpt = None,
    unparsed: UnparsedOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The timeline of each matching message, recipient by recipient, with its log lines.

    Example: maillog-diag trace 4F2A31C02B9 /var/log/mail.log
    """
    setup = _setup(
        files,
        tz=tz,
        rotated=rotated,
        journal=journal,
        since=since,
        until=until,
        config=config,
    )

    matches = _matches(query)
    found: list[Message] = []

    def emit(msg: Message) -> None:
        if matches(msg):
            found.append(msg)

    result = _run(setup, year=year, unparsed=unparsed, emit=emit, keep_lines=True)
    zone = setup.zone
    found.sort(key=lambda m: (m.first_seen, m.host, m.queue_id))
    out = sys.stdout
    if fmt is OutputFormat.JSON:
        write_json([_with_lines(m, zone) for m in found], out)
    elif fmt is OutputFormat.JSONL:
        for m in found:
            write_jsonl(_with_lines(m, zone), out)
    elif fmt is OutputFormat.CSV:
        writer = attempts_csv_writer(out)
        for m in found:
            for row in attempt_rows(message_dict(m, zone)):
                writer.writerow(row)
    else:
        order = {name: i for i, name in enumerate(setup.names)}
        console = make_console() if fmt is OutputFormat.TABLE else None
        for m in found:
            refs = sorted(m.lines, key=lambda r: (order.get(r.source, -1), r.lineno))
            lines = [f"{ref.source}:{ref.lineno}: {ref.text}" for ref in refs]
            if console is not None:
                render_trace_table(message_dict(m, zone), lines, console)
            else:
                render_trace(message_dict(m, zone), lines, out)
        if not found:
            sys.stderr.write(f"maillog-diag: no message matches {query!r}\n")
    _finish(result)


def _with_lines(msg: Message, zone: tzinfo) -> dict[str, Any]:
    data = message_dict(msg, zone)
    data["lines"] = [
        {"source": ref.source, "line": ref.lineno, "text": ref.text} for ref in msg.lines
    ]
    return data


@app.command()
def messages(
    files: FilesArg = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="jsonl (default), json, csv, text, table."),
    ] = OutputFormat.JSONL,
    tz: TzOpt = None,
    year: YearOpt = None,
    delayed_only: Annotated[
        bool,
        typer.Option(
            "--delayed", help="Only messages with a deferred, bounced, expired or held recipient."
        ),
    ] = False,
    unparsed: UnparsedOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One record per message (as each message finishes), for scripts.

    Example: maillog-diag messages /var/log/mail.log --format jsonl
    """
    setup = _setup(
        files,
        tz=tz,
        rotated=rotated,
        journal=journal,
        since=since,
        until=until,
        config=config,
    )
    out = sys.stdout
    zone_holder: list[tzinfo] = [setup.zone]
    collected: list[dict[str, Any]] = []
    writer = messages_csv_writer(out) if fmt is OutputFormat.CSV else None

    def emit(msg: Message) -> None:
        if not msg.recipients:
            return
        if delayed_only and not any(
            r.deferrals or r.outcome not in (None, "delivered") for r in msg.recipients.values()
        ):
            return
        data = message_dict(msg, zone_holder[0])
        if fmt in (OutputFormat.JSON, OutputFormat.TABLE):
            collected.append(data)
        elif writer is not None:
            for row in recipient_rows(data):
                writer.writerow(row)
        elif fmt is OutputFormat.TEXT:
            out.write(message_text(data))
        else:
            write_jsonl(data, out)

    result = _run(setup, year=year, unparsed=unparsed, emit=emit)
    if fmt is OutputFormat.JSON:
        write_json(collected, out)
    elif fmt is OutputFormat.TABLE:
        render_messages_table(collected, make_console())
    _finish(result)


@app.command()
def stats(
    files: FilesArg = None,
    tz: TzOpt = None,
    year: YearOpt = None,
    unparsed: UnparsedOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Line accounting only: how many lines were used, ignored (and why), unparsed (JSON)."""
    setup = _setup(files, tz=tz, rotated=rotated, journal=journal, config=config)
    zone = setup.zone
    result = _run(setup, year=year, unparsed=unparsed, emit=lambda _m: None)
    data = {
        "lines": lines_dict(result),
        "span": span_dict(result, zone),
        "ignored_by_reason": dict(
            sorted(result.counts.ignored_by_reason.items(), key=lambda kv: -kv[1])
        ),
        "max_open_messages": result.max_open_messages,
    }
    write_json(data, sys.stdout)
    _finish(result)


@app.command()
def check(
    files: FilesArg = None,
    warn_held_age: Annotated[
        str | None, typer.Option("--warn-held-age", help="WARNING when mail is held this long.")
    ] = None,
    crit_held_age: Annotated[
        str | None, typer.Option("--crit-held-age", help="CRITICAL when mail is held this long.")
    ] = None,
    warn_deferred: Annotated[
        str | None,
        typer.Option("--warn-deferred", help="WARNING at this many deferrals in the window."),
    ] = None,
    crit_deferred: Annotated[
        str | None,
        typer.Option("--crit-deferred", help="CRITICAL at this many deferrals in the window."),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option("--scope", help="domain (default: the worst domain's deferrals) or total."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Start of the window (default: -1h).")
    ] = None,
    until: UntilOpt = None,
    tz: TzOpt = None,
    year: YearOpt = None,
    rotated: RotatedOpt = None,
    journal: JournalOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Monitoring plugin (Nagios/Icinga): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Example: maillog-diag check --warn-held-age 1h --crit-held-age 4h --warn-deferred 50
    """
    try:
        cfg = load_config(str(config) if config is not None else None)
        defaults = cfg.check

        def pick(value: str | None, key: str) -> str | None:
            chosen = value if value is not None else defaults.get(key)
            return None if chosen is None else str(chosen)

        ages = [pick(warn_held_age, "warn_held_age"), pick(crit_held_age, "crit_held_age")]
        counts = [pick(warn_deferred, "warn_deferred"), pick(crit_deferred, "crit_deferred")]
        chosen_scope = pick(scope, "scope") or "domain"
        if chosen_scope not in ("domain", "total"):
            raise ValueError(f"--scope must be domain or total, not {chosen_scope!r}")
        thresholds = Thresholds(
            warn_held_age=None if ages[0] is None else parse_duration(ages[0]),
            crit_held_age=None if ages[1] is None else parse_duration(ages[1]),
            warn_deferred=None if counts[0] is None else int(counts[0]),
            crit_deferred=None if counts[1] is None else int(counts[1]),
            scope=chosen_scope,
        )
    except (ValueError, ConfigError) as exc:
        sys.stdout.write(unknown(str(exc)) + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN)) from None
    try:
        setup = _setup(
            files,
            tz=tz,
            rotated=rotated,
            journal=journal,
            since=since or pick(None, "since") or "-1h",
            until=until,
            config=config,
        )
        builder, result = _report_run(setup, year=year, unparsed=None, jobs=1)
    except typer.Exit:
        sys.stdout.write(unknown("cannot read the input or the options (see stderr)") + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN)) from None
    if result.input_errors:
        sys.stdout.write(unknown(str(result.input_errors[0])) + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN))
    if result.counts.total and not result.counts.used and result.counts.unparsed:
        sys.stdout.write(unknown("no line of the input could be read as an MTA log") + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN))
    data = report_dict(builder, result, setup.zone, window=setup.window)
    state, line = evaluate(data, thresholds)
    sys.stdout.write(line + "\n")
    _CHECK_RAN.append(state)
    raise typer.Exit(int(state))


_CHECK_RAN: list[CheckState] = []
"""Set when `check` reached a verdict: its exit 2 is CRITICAL, not a usage error."""


def main() -> None:
    """Console entry point: run the app; no traceback ever reaches the user."""
    try:
        app()
    except MaillogError as exc:
        sys.stderr.write(f"maillog-diag: {exc}\n")
        sys.exit(int(ExitCode.INPUT))
    except KeyboardInterrupt:
        sys.stderr.write("maillog-diag: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except SystemExit as exc:
        # A monitoring system reads 2 as CRITICAL: a usage error of `check` is UNKNOWN.
        if exc.code == int(ExitCode.USAGE) and sys.argv[1:2] == ["check"] and not _CHECK_RAN:
            sys.stdout.write(unknown("usage error (see stderr)") + "\n")
            sys.exit(int(CheckState.UNKNOWN))
        raise
    except Exception as exc:  # the promise: one line, never a traceback
        sys.stderr.write(f"maillog-diag: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(int(ExitCode.INTERNAL))
