"""Every command-line option, declared once: its flags, help text and default live here.

Commands name the options they take in their own signature only when no other command
shares them. The options that say what to read and how (files, zone, year, rotations,
journal, window, config, unparsed lines, processes) are added to a command's signature by
`reads_logs`, which hands them to the command as one `ReadArgs`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from maillog_diag.output.render import OutputFormat

DEFAULT_LOG = "/var/log/mail.log"


def at_least(lowest: int) -> Callable[[int | None], int | None]:
    """A callback that refuses a number below `lowest` (a usage error). Used instead of
    Typer's `min=`, whose help shows a Python-like `[x>=1]`; the help text says it."""

    def check(value: int | None) -> int | None:
        if value is not None and value < lowest:
            raise typer.BadParameter(f"must be {lowest} or more, not {value}")
        return value

    return check


FilesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Log files to read, in any order ('-' for standard input). Default: {DEFAULT_LOG}.",
        show_default=False,
        metavar="FILE",
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone of stamps without one (IANA name, e.g. Europe/Berlin). Default: local.",
    ),
]
YearOpt = Annotated[
    int | None,
    typer.Option(
        "--year",
        min=1,
        max=9999,
        metavar="YYYY",
        help="Year of the first yearless syslog stamp (default: inferred).",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        callback=at_least(1),
        metavar="N",
        help="Processes to use, 1 or more (default: one per core for logs of 32 MB or more, "
        "else one).",
    ),
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="ADDRESS",
        help="Run the scan on this Dask scheduler (e.g. tcp://10.0.0.5:8786); needs "
        "maillog-diag[dask] and the same files at the same paths on every worker.",
    ),
]
JournalOpt = Annotated[
    bool,
    typer.Option(
        "--journal",
        help="Read the systemd journal (runs journalctl -o json with mail filters).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Settings file (default: /etc/maillog-diag/config.toml, then "
        "~/.config/maillog-diag/config.toml).",
    ),
]
UnparsedOpt = Annotated[
    Path | None,
    typer.Option(
        "--unparsed",
        metavar="FILE",
        help="Write every unparsed line (with file:line and why) to this file; '-' for stderr.",
    ),
]

SINCE_FORMS = (
    "yesterday, today, -24h or '24h ago' (a bare 24h is refused), '3 days ago', 06:00, "
    "2026-11-28, '2026-11-28 06:00', ISO 8601"
)


def since_option(default: str | None) -> Any:
    """`--since`, with the command's own default named in its help."""
    shown = f" Default: {default}." if default else ""
    return Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help=f"Start of the window: {SINCE_FORMS}.{shown}"),
    ]


def until_option(default: str | None) -> Any:
    """`--until`, with the command's own default named in its help."""
    shown = f" Default: {default}." if default else ""
    return Annotated[
        str | None,
        typer.Option(
            "--until", metavar="WHEN", help=f"End of the window (same forms as --since).{shown}"
        ),
    ]


def rotated_option(default: bool) -> Any:
    """`--rotated/--no-rotated`, with the command's own default named in its help."""
    why = " (yesterday's lines are usually in mail.log.1)" if default else ""
    return Annotated[
        bool | None,
        typer.Option(
            "--rotated/--no-rotated",
            help="Also read each named file's rotations (mail.log.1, mail.log.2.gz, "
            f"mail.log-20261128, ...), as one stream. Default: {'yes' if default else 'no'}"
            f"{why}.",
            show_default=False,
        ),
    ]


def _format(choices: str) -> Any:
    """`--format/-f`: every command lists the formats it accepts and marks its default."""
    return typer.Option("--format", "-f", metavar="FORMAT", help=f"{choices}.", show_default=False)


ReportFormatOpt = Annotated[
    OutputFormat | None,
    _format("table (default on a terminal), text (default otherwise), json, csv, html"),
]
DailyFormatOpt = Annotated[OutputFormat | None, _format("text (default), html, json")]
WhyFormatOpt = Annotated[OutputFormat | None, _format("text (default), json")]
TraceFormatOpt = Annotated[OutputFormat | None, _format("text (default), table, json, jsonl, csv")]
MessagesFormatOpt = Annotated[
    OutputFormat | None, _format("jsonl (default), json, csv, text, table")
]

WatchFormatOpt = Annotated[
    OutputFormat | None, _format("table (default on a terminal), jsonl (default otherwise)")
]

QueueOpt = Annotated[
    bool,
    typer.Option(
        "--queue",
        help="Also ask the MTA what its queue holds now (postqueue -j, exim -bp, mailq, "
        "smtpctl show queue): held mail is marked in_queue, queued mail the log never "
        "showed is listed apart.",
    ),
]
QueueFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--queue-file",
        metavar="FILE",
        help="Like --queue, from a saved listing (format detected by content; ages are "
        "measured to the file's modification time).",
    ),
]
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Everything: every destination (healthy ones too, with their delivery times), "
        "all mail still queued, every suggestion.",
    ),
]
TopOpt = Annotated[
    int,
    typer.Option(
        "--top",
        callback=at_least(1),
        metavar="N",
        help="Destinations in the table (the rest are counted in one line).",
    ),
]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by",
        metavar="KEY",
        help="Group by destination (recipient domain), sender (sender domain), relay "
        "(receiving MX host) or instance (MTA host and instance).",
    ),
]
DEFAULT_SENDMAIL = "/usr/sbin/sendmail -t -oi"
"""How `daily --mail-to` hands the message over (as logwatch does): recipients from To."""

MailToOpt = Annotated[
    str | None,
    typer.Option(
        "--mail-to",
        metavar="ADDRESS",
        help="Mail the report (text and HTML in one message) to ADDRESS instead of printing it.",
    ),
]
SendmailOpt = Annotated[
    str,
    typer.Option(
        "--sendmail",
        metavar="COMMAND",
        help="The command that takes the message on standard input, with --mail-to.",
    ),
]

ReasonsOpt = Annotated[
    int,
    typer.Option(
        "--reasons",
        callback=at_least(0),
        metavar="N",
        help="Reasons shown per destination (0 or more).",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Summary file to write (gzip-compressed when the name ends in .gz); for merge: "
        "write the merged summary instead of a report (to merge in a tree).",
    ),
]
ContinuedOpt = Annotated[
    bool,
    typer.Option(
        "--continued",
        help="These logs continue ones summarized before (e.g. today's after yesterday's): "
        "keep what cannot be settled without them, to merge after that summary.",
    ),
]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="FILE",
        help="Remember where each log was read to, the mail still queued and the totals in "
        "FILE: the next run reads only the new lines (following rotations) and reports on "
        "everything the state has seen, through the window if any. Written mode 0600, "
        "atomically, after a good run only.",
    ),
]
StateResetOpt = Annotated[
    bool,
    typer.Option(
        "--state-reset",
        help="With --state: ignore what FILE holds (damaged, other settings) and start over.",
    ),
]
SummariesArg = Annotated[
    list[Path],
    typer.Argument(help="Summary files (from summarize), in log order.", metavar="SUMMARY"),
]


@dataclass(frozen=True, slots=True)
class ReadArgs:
    """What to read and how, as given on the command line (None: not given)."""

    files: list[str] | None = None
    tz: str | None = None
    year: int | None = None
    rotated: bool | None = None
    journal: bool = False
    since: str | None = None
    until: str | None = None
    config: Path | None = None
    unparsed: Path | None = None
    jobs: int | None = None
    dask: str | None = None
    state: Path | None = None
    state_reset: bool = False
    rotated_default: bool = False
    since_default: str | None = None
    until_default: str | None = None


F = TypeVar("F", bound=Callable[..., Any])


def reads_logs(
    *,
    window: bool = True,
    unparsed: bool = True,
    jobs: bool = False,
    since_default: str | None = None,
    until_default: str | None = None,
    rotated_default: bool = False,
    state: bool = False,
) -> Callable[[F], F]:
    """Add the reading options to a command; it receives them as `read: ReadArgs`."""
    extra: dict[str, tuple[Any, Any]] = {
        "files": (FilesArg, None),
        "tz": (TzOpt, None),
        "year": (YearOpt, None),
        "rotated": (rotated_option(rotated_default), None),
        "journal": (JournalOpt, False),
        "config": (ConfigOpt, None),
    }
    if window:
        extra["since"] = (since_option(since_default), None)
        extra["until"] = (until_option(until_default), None)
    if unparsed:
        extra["unparsed"] = (UnparsedOpt, None)
    if jobs:
        extra["jobs"] = (JobsOpt, None)
        extra["dask"] = (DaskOpt, None)
    if state:
        extra["state"] = (StateOpt, None)
        extra["state_reset"] = (StateResetOpt, False)
    known = {f.name for f in fields(ReadArgs)}
    assert set(extra) <= known

    def decorate(func: F) -> F:
        own = inspect.signature(func, eval_str=True)
        params = [p for p in own.parameters.values() if p.name != "read"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=dflt)
            for name, (ann, dflt) in extra.items()
        ]
        # Arguments (positional) first: a command's own (e.g. trace's QUERY), then FILES.
        ordered = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in extra}
            read = ReadArgs(
                **given,
                rotated_default=rotated_default,
                since_default=since_default,
                until_default=until_default,
            )
            return func(read=read, **kwargs)

        command.__signature__ = own.replace(parameters=ordered + added)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in ordered + added}
        return command  # type: ignore[return-value]

    return decorate
