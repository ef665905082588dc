"""The `maillog-diag` command line: thin wrappers over the core, plus output and exit codes.

Exit status: 0 success; 2 usage error; 3 an input could not be read, or no line of the
input could be read as an MTA log; 70 an internal error (reported in one line, with no
traceback). Data goes to stdout; the unparsed-line sample and errors go to stderr.
"""

from __future__ import annotations

import gc
import io
import itertools
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer

from maillog_diag import __version__, compiled
from maillog_diag.cli.config import ConfigError, load_config
from maillog_diag.cli.options import (
    DEFAULT_LOG,
    DEFAULT_SENDMAIL,
    AllOpt,
    ByOpt,
    ContinuedOpt,
    DailyFormatOpt,
    FilesArg,
    MailToOpt,
    MessagesFormatOpt,
    OutputOpt,
    QueueFileOpt,
    QueueOpt,
    ReadArgs,
    ReasonsOpt,
    ReportFormatOpt,
    SendmailOpt,
    SummariesArg,
    TopOpt,
    TraceFormatOpt,
    TzOpt,
    WatchFormatOpt,
    WhyFormatOpt,
    YearOpt,
    at_least,
    reads_logs,
)
from maillog_diag.cli.reading import (
    FAILURES,
    ExitCode,
    fail,
    finish,
    max_line,
    partial_run,
    queue_comparison,
    report_run,
    require_input,
    resolve,
    run,
    stale_note,
    stop_on_signals,
    stop_status,
    unreadable,
    wait_for_stop,
    warn_if_stale,
    zone_of,
)
from maillog_diag.core.analysis import GROUPINGS
from maillog_diag.core.model import Message
from maillog_diag.core.window import MessageFilter, parse_duration
from maillog_diag.errors import InputError, MaillogError
from maillog_diag.input.follow import Follower
from maillog_diag.output.digest import DEFAULT_TOP, summary_line
from maillog_diag.output.escape import visible
from maillog_diag.output.html import render_html
from maillog_diag.output.jsontext import write_json
from maillog_diag.output.mail import daily_message
from maillog_diag.output.metrics import (
    DEFAULT_TOP_DESTINATIONS,
    LiveCollector,
    exposition,
    parse_listen,
    report_families,
    serve,
    write_textfile,
)
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
    render_live,
    render_messages_table,
    render_report_csv,
    render_report_table,
    render_report_text,
    render_trace,
    render_trace_table,
    render_why_text,
    write_jsonl,
)
from maillog_diag.output.serialize import (
    attempt_event_dict,
    causes_dict,
    lines_dict,
    message_dict,
    report_dict,
    span_dict,
)
from maillog_diag.scan.live import Fed, LiveScan
from maillog_diag.scan.partial import PartialScan
from maillog_diag.scan.partial import finish as finish_scan
from maillog_diag.scan.pipeline import ScanOptions
from maillog_diag.scan.summary import (
    SummaryError,
    merge_summaries,
    read_summary,
    settings_of,
    write_summary,
)

app = typer.Typer(
    name="maillog-diag",
    help=(
        "Why outbound mail is delayed, and for how long, from Postfix, Exim, Sendmail and "
        "OpenSMTPD logs."
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        build = "compiled by mypyc" if compiled() else "pure Python"
        sys.stdout.write(f"maillog-diag {__version__} ({build})\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Why outbound mail is delayed, and for how long, from the MTA's own logs."""


@app.command()
@reads_logs(jobs=True, state=True)
def report(
    read: ReadArgs,
    fmt: ReportFormatOpt = None,
    all_destinations: AllOpt = False,
    reasons: ReasonsOpt = 3,
    queue: QueueOpt = False,
    queue_file: QueueFileOpt = None,
    by: ByOpt = "destination",
) -> None:
    """Per destination domain: delayed, bounced, expired and still queued mail, time in
    queue, causes and reasons.

    Example: maillog-diag report /var/log/mail.log
    """
    if by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}", ExitCode.USAGE)
    setup = resolve(read)
    builder, result = report_run(setup, by=by)
    require_input(result)
    warn_if_stale(setup, result, held=bool(builder.held_mail))
    chosen = _report_format(fmt)
    data = report_dict(
        builder,
        result,
        setup.zone,
        include_all=all_destinations,
        reasons=max(reasons, 1),
        window=setup.window,
        queue=queue_comparison(builder, setup, ask=queue, listing_file=queue_file),
        rows_when_written=chosen in _JSON_FORMATS,
    )
    _render_report(data, chosen, reasons)
    finish(result)


@app.command()
@reads_logs(window=False, jobs=True)
def summarize(
    read: ReadArgs,
    output: OutputOpt = None,
    continued: ContinuedOpt = False,
) -> None:
    """Read logs into a summary file, to merge with other hosts' (or later days') later.

    Example: maillog-diag summarize /var/log/mail.log -o mx1.summary.gz
    """
    if output is None:
        raise fail("summarize needs --output FILE (the summary to write)", ExitCode.USAGE)
    setup = resolve(read)
    part, result = partial_run(setup, continued=continued)
    settings = settings_of(read.tz or setup.config.tz, read.year, setup.window)
    try:
        with open(output, "wb") as out:
            write_summary(part, settings, out, compress=output.name.endswith(".gz"))
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror}", ExitCode.USAGE) from None
    finish(result)


def _summaries_read(
    summaries: list[Path],
) -> Iterator[tuple[str, PartialScan, dict[str, Any]]]:
    """Each summary read when asked (merged one at a time: memory holds one summary and
    the merged scan); a file that cannot be read or is no summary ends the run with a
    one-line error naming it."""
    for path in summaries:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise fail(f"{path}: {exc.strerror}", ExitCode.INPUT) from None
        try:
            part, settings = read_summary(str(path), data)
        except SummaryError as exc:
            raise fail(str(exc), ExitCode.INPUT) from None
        del data
        yield str(path), part, settings


@app.command("merge")
def merge_summaries_cmd(
    summaries: SummariesArg,
    fmt: ReportFormatOpt = None,
    all_destinations: AllOpt = False,
    reasons: ReasonsOpt = 3,
    output: OutputOpt = None,
) -> None:
    """Report on summaries (from summarize) as if all their logs had been read together.

    Example: maillog-diag merge mx1.summary.gz mx2.summary.gz --format json
    """
    parts = _summaries_read(summaries)
    first = next(parts, None)
    if first is None:
        raise fail("no summary to merge", ExitCode.USAGE)
    settings = first[2]
    zone_name = settings.get("zone")
    zone = resolve(ReadArgs(tz=zone_name if isinstance(zone_name, str) else None, files=[])).zone
    try:
        window = settings.get("window")  # built by read_summary
        year = settings.get("year")
        options = ScanOptions(
            zone=zone, year=year if isinstance(year, int) else None, window=window
        )
        merged = merge_summaries(itertools.chain([first], parts), options)
        del first
        inexact = merged.inexact
        if output is not None:
            with open(output, "wb") as out:
                kept = settings_of(settings.get("zone"), options.year, window)
                write_summary(merged, kept, out, compress=output.name.endswith(".gz"))
            _vouch(inexact)
            return
        builder, result = finish_scan(merged, options)
        report = report_dict(
            builder,
            result,
            zone,
            include_all=all_destinations,
            reasons=max(reasons, 1),
            window=window if isinstance(window, MessageFilter) else None,
            rows_when_written=_report_format(fmt) in _JSON_FORMATS,
        )
    except SummaryError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror}", ExitCode.USAGE) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise fail(f"a summary is damaged ({type(exc).__name__})", ExitCode.INPUT) from None
    _render_report(report, fmt, reasons)
    finish(result)
    _vouch(inexact)


def _vouch(inexact: str | None) -> None:
    """After `merge` wrote its output: a merge that cannot vouch for the one-pass answer
    (`PartialScan.inexact`) says why, with exit 3. A scan of the logs reads them again in
    one pass instead; summaries cannot be read again."""
    if inexact is not None:
        raise fail(
            f"the summaries cannot be merged exactly ({inexact}): some figures may differ"
            " from reading the logs together",
            ExitCode.INPUT,
        )


_JSON_FORMATS = (OutputFormat.JSON, OutputFormat.JSONL)


def _report_format(fmt: OutputFormat | None) -> OutputFormat:
    """The format a report is written in: as asked, else a table on a terminal, else text."""
    return fmt or (OutputFormat.TABLE if sys.stdout.isatty() else OutputFormat.TEXT)


def _render_report(data: dict[str, Any], fmt: OutputFormat | None, reasons: int) -> None:
    """Write a report in the chosen format (see `_report_format`)."""
    out = sys.stdout
    chosen = _report_format(fmt)
    if chosen in _JSON_FORMATS:
        write_json(data, out)
    elif chosen is OutputFormat.HTML:
        out.write(render_html(data, summary_line(data), reasons=reasons))
    elif chosen is OutputFormat.CSV:
        render_report_csv(data, out)
    elif chosen is OutputFormat.TEXT:
        render_report_text(data, out, reasons)
    else:
        render_report_table(data, make_console(), reasons)


@app.command()
@reads_logs(
    unparsed=False,
    jobs=True,
    since_default="yesterday",
    until_default="today",
    rotated_default=True,
    state=True,
)
def daily(
    read: ReadArgs,
    fmt: DailyFormatOpt = None,
    quiet_if_clean: Annotated[
        bool,
        typer.Option(
            "--quiet-if-clean", help="Print nothing when no mail was delayed, queued or bounced."
        ),
    ] = False,
    reasons: ReasonsOpt = 2,
    queue: QueueOpt = False,
    queue_file: QueueFileOpt = None,
    top: TopOpt = DEFAULT_TOP,
    everything: AllOpt = False,
    mail_to: MailToOpt = None,
    sendmail: SendmailOpt = DEFAULT_SENDMAIL,
) -> None:
    """Yesterday's report for cron mail, ordered for action: summary line, mail still
    queued, the top destinations, causes, retry advice; the rest counted.

    Plain text of 80 columns with no control characters (or --format html), at most about
    200 lines whatever the log size (--all keeps everything). With --mail-to, one message
    with both the text and the HTML is piped to sendmail instead.

    Example: maillog-diag daily --quiet-if-clean --mail-to postmaster@example.org
    """
    setup = resolve(read)
    fmt = fmt or OutputFormat.TEXT
    builder, result = report_run(setup)
    require_input(result)
    stale = stale_note(setup, result, held=bool(builder.held_mail))
    if stale is not None:
        sys.stderr.write(f"maillog-diag: warning: {stale}\n")
    data = report_dict(
        builder,
        result,
        setup.zone,
        reasons=max(reasons, 1),
        window=setup.window,
        queue=queue_comparison(builder, setup, ask=queue, listing_file=queue_file),
        include_all=everything,
    )
    totals = data["totals"]
    clean = not (totals["recipients_deferred"] or totals["held"] or totals["bounced"])
    # A day the log does not cover is not clean: cron mails what is printed, so say so.
    clean = clean and data["coverage"]["complete"] and stale is None
    if not (quiet_if_clean and clean and not result.input_errors):
        title = "maillog-diag daily report"
        if mail_to is not None:
            text = io.StringIO()
            render_daily_text(data, text, reasons, top=top, everything=everything)
            html = render_html(
                data, summary_line(data), title, reasons=reasons, top=top, everything=everything
            )
            message = daily_message(
                mail_to,
                f"{title} ({socket.gethostname()}): {summary_line(data)}",
                text.getvalue(),
                html,
            )
            send_mail(message.as_bytes(), sendmail)
        elif fmt is OutputFormat.HTML:
            sys.stdout.write(
                render_html(
                    data, summary_line(data), title, reasons=reasons, top=top, everything=everything
                )
            )
        elif fmt in (OutputFormat.JSON, OutputFormat.JSONL):
            write_json(data, sys.stdout)
        else:
            render_daily_text(data, sys.stdout, reasons, top=top, everything=everything)
    finish(result, show_sample=not quiet_if_clean)


def send_mail(message: bytes, command: str) -> None:
    """Pipe `message` to `command` (split like a shell would, not run by one); a command
    that cannot be run or fails is an error of its own (exit 75, EX_TEMPFAIL: cron
    mails the stderr line)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise fail(f"--sendmail {command!r}: {exc}", ExitCode.USAGE) from None
    if not argv:
        raise fail("--sendmail is empty", ExitCode.USAGE)
    try:
        done = subprocess.run(argv, input=message, capture_output=True, check=False, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise fail(f"cannot run {argv[0]}: {exc}", ExitCode.MAIL) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise fail(
            f"{argv[0]} exited with status {done.returncode}"
            f"{': ' + why[-1] if why else ''}; the report was not sent",
            ExitCode.MAIL,
        )


@app.command()
@reads_logs(jobs=True)
def why(
    read: ReadArgs,
    fmt: WhyFormatOpt = None,
    domains: Annotated[
        int,
        typer.Option(
            "--domains",
            callback=at_least(1),
            metavar="N",
            help="Destinations named per cause (1 or more).",
        ),
    ] = 5,
) -> None:
    """Causes of deferral across all destinations: counts, domains, what to do, an example.

    Example: maillog-diag why /var/log/mail.log
    """
    setup = resolve(read)
    builder, result = report_run(setup)
    require_input(result)
    warn_if_stale(setup, result, held=bool(builder.held_mail))
    # (`why` shows no destination rows: they are never made.)
    data = report_dict(builder, result, setup.zone, window=setup.window, rows_when_written=True)
    data["causes"] = causes_dict(builder, domains=domains)
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        write_json(
            {k: data[k] for k in ("lines", "span", "messages", "totals", "causes")}, sys.stdout
        )
    else:
        render_why_text(data, sys.stdout)
    finish(result)


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
@reads_logs()
def trace(
    read: ReadArgs,
    query: Annotated[
        str,
        typer.Argument(help="A queue id, a Message-ID or an email address.", metavar="QUERY"),
    ],
    fmt: TraceFormatOpt = None,
) -> None:
    """The timeline of each matching message, recipient by recipient, with its log lines.

    Example: maillog-diag trace 4F2A31C02B9 /var/log/mail.log
    """
    if not query.strip().strip("<>").strip():
        raise typer.BadParameter("is empty: name a queue id, a Message-ID or an address")
    setup = resolve(read)
    fmt = fmt or OutputFormat.TEXT
    matches = _matches(query)
    found: list[Message] = []

    def emit(msg: Message) -> None:
        if matches(msg):
            found.append(msg)

    result = run(setup, emit, keep_lines=True)
    require_input(result)
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
    finish(result)


def _with_lines(msg: Message, zone: tzinfo) -> dict[str, Any]:
    data = message_dict(msg, zone)
    data["lines"] = [
        {"source": ref.source, "line": ref.lineno, "text": ref.text} for ref in msg.lines
    ]
    return data


@app.command()
@reads_logs()
def messages(
    read: ReadArgs,
    fmt: MessagesFormatOpt = None,
    delayed_only: Annotated[
        bool,
        typer.Option(
            "--delayed", help="Only messages with a deferred, bounced, expired or held recipient."
        ),
    ] = False,
) -> None:
    """One record per message (as each message finishes), for scripts.

    Example: maillog-diag messages /var/log/mail.log --format jsonl
    """
    setup = resolve(read)
    fmt = fmt or OutputFormat.JSONL
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

    result = run(setup, emit)
    require_input(result)
    if fmt is OutputFormat.JSON:
        write_json(collected, out)
    elif fmt is OutputFormat.TABLE:
        render_messages_table(collected, make_console())
    finish(result)


@app.command()
@reads_logs(window=False)
def stats(read: ReadArgs) -> None:
    """Line accounting only: how many lines were used, ignored (and why), unparsed (JSON)."""
    setup = resolve(read)
    zone = setup.zone
    result = run(setup, lambda _m: None)
    require_input(result)
    data = {
        "lines": lines_dict(result),
        "span": span_dict(result, zone),
        "ignored_by_reason": dict(
            sorted(result.counts.ignored_by_reason.items(), key=lambda kv: -kv[1])
        ),
        "max_open_messages": result.max_open_messages,
    }
    write_json(data, sys.stdout)
    finish(result)


@app.command()
@reads_logs(unparsed=False, since_default="-1h", state=True)
def check(
    read: ReadArgs,
    warn_held_age: Annotated[
        str | None,
        typer.Option(
            "--warn-held-age",
            metavar="AGE",
            help="WARNING when mail has been in the queue this long.",
        ),
    ] = None,
    crit_held_age: Annotated[
        str | None,
        typer.Option(
            "--crit-held-age",
            metavar="AGE",
            help="CRITICAL when mail has been in the queue this long.",
        ),
    ] = None,
    warn_deferred: Annotated[
        str | None,
        typer.Option(
            "--warn-deferred", metavar="N", help="WARNING at this many deferrals in the window."
        ),
    ] = None,
    crit_deferred: Annotated[
        str | None,
        typer.Option(
            "--crit-deferred", metavar="N", help="CRITICAL at this many deferrals in the window."
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help="domain (default: the worst domain's deferrals) or total.",
        ),
    ] = None,
) -> None:
    """Monitoring plugin (Nagios/Icinga): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Example: maillog-diag check --warn-held-age 1h --crit-held-age 4h --warn-deferred 50
    """
    try:
        cfg = load_config(str(read.config) if read.config is not None else None)
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
        since = read.since or pick(None, "since")
        setup = resolve(replace(read, since=since) if since else read, stdin_default=False)
        builder, result = report_run(setup, jobs=1)
    except typer.Exit:
        why = FAILURES[-1] if FAILURES else "cannot read the input or the options"
        sys.stdout.write(unknown(why) + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN)) from None
    if result.input_errors:
        sys.stdout.write(unknown(str(result.input_errors[0])) + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN))
    if result.counts.total and not result.counts.used and result.counts.unparsed:
        sys.stdout.write(unknown("no line of the input could be read as an MTA log") + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN))
    if result.last_time is None:
        sys.stdout.write(unknown("the input has no dated log line: is the MTA logging?") + "\n")
        raise typer.Exit(int(CheckState.UNKNOWN))
    data = report_dict(builder, result, setup.zone, window=setup.window)
    stale = stale_note(setup, result, held=bool(builder.held_mail))
    state, line = evaluate(data, thresholds, stale=stale)
    sys.stdout.write(line + "\n")
    _CHECK_RAN.append(state)
    raise typer.Exit(int(state))


@app.command()
@reads_logs(jobs=True, window=False, state=True)
def metrics(
    read: ReadArgs,
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write node_exporter's textfile format here (atomically: a temporary file "
            "in the same directory, renamed); name it *.prom.",
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="ADDR:PORT",
            help="Serve /metrics over HTTP here (e.g. 127.0.0.1:9469), re-reading the logs "
            "every --interval seconds, until SIGTERM or Ctrl-C.",
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            "--top-destinations",
            min=0,
            metavar="N",
            help="Destinations with labels of their own (by impact); the rest are 'other'.",
        ),
    ] = DEFAULT_TOP_DESTINATIONS,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=1.0,
            metavar="SECONDS",
            help="With --listen: seconds between two re-reads of the logs.",
        ),
    ] = 60.0,
) -> None:
    """Prometheus metrics: deferrals by cause, outcomes, held times, queued mail.

    Without --textfile or --listen the metrics go to standard output. An input that
    cannot be read leaves the textfile as it was (exit 3).

    Example: maillog-diag metrics --textfile /var/lib/prometheus/node-exporter/maillog.prom
    """
    if textfile is not None and listen is not None:
        raise fail("--textfile and --listen exclude each other", ExitCode.USAGE)
    address = None
    if listen is not None:
        try:
            address = parse_listen(listen)
        except ValueError as exc:
            raise fail(str(exc), ExitCode.USAGE) from None
    setup = resolve(read)
    builder, result = report_run(setup)
    if result.input_errors or unreadable(result):
        finish(result)  # says why on stderr and exits 3: nothing is written
    families = report_families(builder, result, top=top)
    if address is not None:
        _serve_metrics(read, address, families, top=top, interval=interval)
        return
    if textfile is None:
        sys.stdout.write(exposition(families))
        finish(result)
        return
    try:
        write_textfile(str(textfile), families)
    except OSError as exc:
        raise fail(f"{textfile}: cannot write: {exc.strerror}", ExitCode.USAGE) from None
    finish(result, show_sample=False)


def _serve_metrics(
    read: ReadArgs, address: tuple[str, int], first: list[Any], *, top: int, interval: float
) -> None:
    """`metrics --listen`: serve until SIGTERM (exit 0) or SIGINT (exit 130)."""

    def refresh() -> list[Any] | None:
        try:
            setup = resolve(read)
            builder, result = report_run(setup, jobs=1)  # no fork beside the server thread
        except typer.Exit:
            return None
        except Exception as exc:  # the service goes on; last_scan_ok says 0
            sys.stderr.write(f"maillog-diag: re-reading the logs failed: {exc}\n")
            return None
        if result.input_errors or unreadable(result):
            for err in result.input_errors:
                sys.stderr.write(f"maillog-diag: {err}\n")
            return None
        return report_families(builder, result, top=top)

    collector = LiveCollector(first, refresh, interval)
    try:
        server, _thread = serve(address[0], address[1], collector)
    except OSError as exc:
        raise fail(f"--listen {address[0]}:{address[1]}: {exc.strerror}", ExitCode.USAGE) from None
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"maillog-diag: serving http://{shown}:{port}/metrics\n")
    sys.stderr.flush()
    refresher = threading.Thread(target=collector.run, name="refresh", daemon=True)
    refresher.start()
    code = wait_for_stop(collector.stop)
    server.shutdown()
    server.server_close()
    raise typer.Exit(code)


@app.command()
def watch(
    files: FilesArg = None,
    fmt: WatchFormatOpt = None,
    tz: TzOpt = None,
    year: YearOpt = None,
    from_start: Annotated[
        bool,
        typer.Option("--from-start", help="Read what the files already hold first."),
    ] = False,
    poll: Annotated[
        float,
        typer.Option(
            "--poll",
            min=0.05,
            metavar="SECONDS",
            help="Seconds between two looks at the files when nothing new came.",
        ),
    ] = 0.5,
) -> None:
    """Follow the log as it grows (like tail -F: rotation and truncation are followed).

    On a terminal a live screen shows the mail queued now by destination, its last cause
    and when the receiver will accept a retry, deferrals per minute and recent bounces.
    --format jsonl streams one JSON object per delivery attempt ("type": "delivery") and
    per finished message ("type": "message"), flushed line by line. SIGTERM ends it with
    exit 0, Ctrl-C with 130.

    Example: maillog-diag watch /var/log/mail.log --format jsonl
    """
    zone = zone_of(tz)
    paths = files or [DEFAULT_LOG]
    chosen = fmt or (OutputFormat.TABLE if sys.stdout.isatty() else OutputFormat.JSONL)
    if chosen not in (OutputFormat.TABLE, OutputFormat.JSONL):
        raise fail("watch writes --format table or jsonl", ExitCode.USAGE)
    out = sys.stdout
    live = LiveScan(zone, year, time.time)
    with stop_on_signals() as (stop, got):
        try:
            limit = max_line()
            followers = [Follower(p, from_start=from_start, max_line=limit) for p in paths]
        except InputError as exc:
            raise fail(str(exc), ExitCode.INPUT) from None
        seen = [(0, 0)] * len(followers)
        numbers = [0] * len(followers)

        def step() -> bool:
            """Read what is new in every file; True when anything came."""
            came = False
            for i, follower in enumerate(followers):
                lines = follower.poll()
                turn = (follower.rotations, follower.truncations)
                if turn != seen[i]:
                    seen[i], numbers[i] = turn, 0  # a new file (or the same one, emptied)
                for line in lines:
                    came = True
                    numbers[i] += 1
                    fed = live.feed(line, follower.path, numbers[i])
                    if chosen is OutputFormat.JSONL:
                        _stream(fed, zone, out)
            return came

        try:
            if chosen is OutputFormat.JSONL:
                write_jsonl(
                    {
                        "type": "watching",
                        "files": paths,
                        "found": [f.is_open for f in followers],
                        "from_start": from_start,
                    },
                    out,
                )
                out.flush()
                while not stop.is_set():
                    if not step():
                        stop.wait(poll)
            else:
                _live_screen(live, step, stop, poll, zone, paths)
        finally:
            for follower in followers:
                follower.close()
    raise typer.Exit(stop_status(got))


def _stream(fed: Fed, zone: tzinfo, out: Any) -> None:
    """One JSON line per attempt and per finished message, flushed at once."""
    for seen in fed.attempts:
        write_jsonl(attempt_event_dict(seen, zone), out)
    for msg in fed.finished:
        if msg.recipients:
            write_jsonl({"type": "message", **message_dict(msg, zone)}, out)
    if fed.unparsed is not None:
        exc = fed.unparsed
        write_jsonl(
            {
                "type": "unparsed",
                "line": f"{exc.source}:{exc.lineno}",
                "why": exc.context,
                "text": exc.text[:1000],
            },
            out,
        )
    out.flush()


def _live_screen(
    live: LiveScan,
    step: Callable[[], bool],
    stop: threading.Event,
    poll: float,
    zone: tzinfo,
    paths: list[str],
) -> None:
    """The Rich live screen, redrawn once a second until `stop` is set."""
    from rich.live import Live

    console = make_console()
    with Live(
        render_live(live.snapshot(time.time()), zone, paths),
        console=console,
        auto_refresh=False,
        screen=console.is_terminal,
    ) as screen:
        drawn = 0.0
        while not stop.is_set():
            came = step()
            now = time.time()
            if now - drawn >= 1.0:
                screen.update(render_live(live.snapshot(now), zone, paths), refresh=True)
                drawn = now
            if not came:
                stop.wait(poll)


_CHECK_RAN: list[CheckState] = []
"""Set when `check` reached a verdict: its exit 2 is CRITICAL, not a usage error."""


class _Recorder:
    """A text stream that passes writes on and keeps the last line written (for `check`,
    whose usage errors must be readable in its one status line)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            self.last = lines[-1]
        return int(self.stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _usage_text(recorder: _Recorder | None) -> str:
    """The usage error `check` reports: Click's own `Error: ...` line when it was seen."""
    last = recorder.last if recorder is not None else ""
    last = last.removeprefix("Error: ").removeprefix("maillog-diag: ")
    return f"usage error: {last}" if last else "usage error"


def main() -> None:
    """Console entry point: run the app; no traceback ever reaches the user.

    Output to a closed pipe (`maillog-diag messages | head`) ends the process by SIGPIPE,
    silently, as it ends `cat` or `grep` (a shell reports 141)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    recorder: _Recorder | None = None
    if sys.argv[1:2] == ["check"]:
        recorder = _Recorder(sys.stderr)
        sys.stderr = recorder
    try:
        app()
    except MaillogError as exc:
        sys.stderr.write(f"maillog-diag: {visible(str(exc))}\n")
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
            sys.stdout.write(unknown(_usage_text(recorder)) + "\n")
            sys.exit(int(CheckState.UNKNOWN))
        raise
    except Exception as exc:  # the promise: one line, never a traceback
        sys.stderr.write(
            f"maillog-diag: internal error: {type(exc).__name__}: {visible(str(exc))}\n"
        )
        sys.exit(int(ExitCode.INTERNAL))
    finally:
        # The interpreter's exit runs the cyclic collector over every object left, a whole
        # scan's worth: 0.15-0.25 s on the bench logs (1M Postfix lines, 200k Exim lines),
        # 0.04-0.07 s with them frozen out of its walks. Exit handlers, module teardown and
        # the closing of files all still run; only garbage cycles go uncollected, which the
        # process's end frees anyway.
        gc.freeze()
