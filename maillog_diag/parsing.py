"""From a log line to an event: grammar loading, the cheap pre-filter, and line accounting.

Every line ends in exactly one of three bins: *used* (a grammar read it and it matters),
*ignored* (recognised as something the diagnosis does not need: another program, an
inbound connection, a statistics line) or *unparsed* (nothing could read it). Ignored
lines are recognised by their program name, or for Postfix daemons that also log what we
need, by the shape of the text after the program name. That check is a dictionary lookup
and a few string comparisons, so the grammar's cost is paid only by lines that matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Transformer, UnexpectedInput

from .errors import GrammarLoadError, UnparsableLine
from .lalr import FastLALR
from .model import Event
from .postfix import PostfixTransformer
from .timestamps import BadTimestamp, TimeParser

GRAMMAR_PACKAGE_DIR = "grammars"
"""Inside an installed wheel the grammars live in `maillog_diag/grammars/`; in a source
checkout they are the top-level `grammars/` folder beside the package."""


def grammar_path(name: str) -> Path:
    """Where `name` (e.g. `postfix.lark`) is, installed or in a source checkout."""
    packaged = resources.files("maillog_diag") / GRAMMAR_PACKAGE_DIR / name
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / GRAMMAR_PACKAGE_DIR / name
    if checkout.is_file():
        return checkout
    raise GrammarLoadError(
        f"grammar {name} is not installed (looked in the package and {checkout})"
    )


def load_grammar(name: str, transformer: Transformer[Any, Any] | None = None) -> Lark:
    """An LALR parser for a grammar file, with the transformer run inside the parse."""
    path = grammar_path(name)
    try:
        return Lark(
            path.read_text(encoding="utf-8"),
            parser="lalr",
            transformer=transformer,
            cache=True,
            propagate_positions=False,
            maybe_placeholders=True,
        )
    except Exception as exc:  # Lark raises several unrelated types for bad grammars
        raise GrammarLoadError(f"grammar {name} does not load: {exc}") from exc


# Syslog prefix: stamp, host, program, optional [pid], colon. Only used to find the program
# name for the pre-filter; the grammar reads the whole line for lines that are used.
_SYSLOG_HEAD = re.compile(
    r"(?:[A-Z][a-z]{2} [ 0-9]?[0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)"
    r" +[^ ]+ ([^ \[:]+)(?:\[[0-9]+\])?: "
)
_HAS_QUEUE_ID = re.compile(r"[0-9A-Za-z]{5,25}: ")

POSTFIX_IGNORED_DAEMONS = frozenset(
    {
        "anvil",
        "dnsblog",
        "flush",
        "master",
        "postfix-script",
        "postlogd",
        "postdrop",
        "postmap",
        "postscreen",
        "proxymap",
        "scache",
        "sendmail",
        "showq",
        "spawn",
        "tlsmgr",
        "tlsproxy",
        "trivial-rewrite",
        "verify",
        "policyscreen",
        "postqueue",
        "postlog",
    }
)
"""Postfix daemons whose lines never concern a queued message's delivery."""

POSTFIX_RECEIVING_DAEMONS = frozenset({"smtpd", "qmqpd"})
"""These log one line we need (`QUEUEID: client=`, rejects of a queued message); the rest
(connect, disconnect, NOQUEUE rejects, timeouts) is inbound traffic."""

POSTFIX_IGNORED_PREFIXES = (
    "warning: ",
    "Untrusted TLS connection established",
    "Trusted TLS connection established",
    "Verified TLS connection established",
    "Anonymous TLS connection established",
    "Deleted: ",
    "Requeued: ",
    "Placed on hold: ",
    "Released from hold: ",
    "statistics: ",
    "fatal: ",
    "panic: ",
    "error: ",
    "daemon started",
    "reload ",
    "terminating on signal",
    "starting the Postfix",
    "stopping the Postfix",
    "refreshing the Postfix",
    "Postfix is ",
)
"""Texts any Postfix daemon logs that say nothing about one message's delivery."""


class Bin:
    """Names of the three line bins (used in the accounting and in JSON)."""

    USED = "used"
    IGNORED = "ignored"
    UNPARSED = "unparsed"


@dataclass(slots=True)
class LineCounts:
    """How many lines went where; `total == used + ignored + unparsed` always."""

    total: int = 0
    used: int = 0
    ignored: int = 0
    unparsed: int = 0
    ignored_by_reason: dict[str, int] = field(default_factory=dict)


class LineParser:
    """Parses the lines of one input stream (one `TimeParser`, so one year inference).

    `parse` returns an event for a used line, None for an ignored line, and raises
    `UnparsableLine` otherwise. `counts` is kept up to date.
    """

    def __init__(self, time_parser: TimeParser) -> None:
        self.time_parser = time_parser
        self.counts = LineCounts()
        self._postfix = load_grammar("postfix.lark", PostfixTransformer(time_parser))
        self._postfix_parse: Callable[[str], Any] = FastLALR(self._postfix).parse

    def _ignore(self, reason: str) -> None:
        counts = self.counts
        counts.ignored += 1
        by = counts.ignored_by_reason
        by[reason] = by.get(reason, 0) + 1

    def parse(self, line: str, source: str = "-", lineno: int = 0) -> Event | None:
        """Classify and parse one line (without its newline)."""
        counts = self.counts
        counts.total += 1
        if not line or line.isspace():
            self._ignore("blank line")
            return None
        head = _SYSLOG_HEAD.match(line)
        if head is None:
            if "last message repeated" in line:
                self._ignore("syslog repeat notice")
                return None
            raise self._unparsed(line, source, lineno, "no syslog time stamp and program name")
        program = head[1]
        if program.startswith("postfix"):
            daemon = program[program.rfind("/") + 1 :]
            if daemon in POSTFIX_IGNORED_DAEMONS:
                self._ignore(f"postfix/{daemon}")
                return None
            body = line[head.end() :]
            if body.startswith(POSTFIX_IGNORED_PREFIXES):
                self._ignore(f"postfix/{daemon} {body[: body.find(' ')]}")
                return None
            if daemon in POSTFIX_RECEIVING_DAEMONS and (
                _HAS_QUEUE_ID.match(body) is None or body.startswith("NOQUEUE: ")
            ):
                self._ignore(f"postfix/{daemon} inbound session")
                return None
            try:
                event: Event | None = self._postfix_parse(line)
            except UnexpectedInput as exc:
                raise self._unparsed(line, source, lineno, _context(exc, line)) from None
            except BadTimestamp as exc:
                raise self._unparsed(line, source, lineno, f"impossible time stamp {exc}") from None
            if event is None:
                self._ignore(f"postfix/{daemon} informational")
                return None
            counts.used += 1
            return event
        self._ignore(f"program {program}")
        return None

    def _unparsed(self, line: str, source: str, lineno: int, why: str) -> UnparsableLine:
        self.counts.unparsed += 1
        return UnparsableLine(source, lineno, line, why)


def _context(exc: UnexpectedInput, line: str) -> str:
    """A one-line description of where the grammar gave up."""
    pos = getattr(exc, "pos_in_stream", None)
    if pos is None:
        token = getattr(exc, "token", None)
        pos = getattr(token, "start_pos", None)
    if pos is None:
        return "not a known line shape"
    snippet = line[pos : pos + 40]
    return f"not a known line shape at column {pos + 1}: {snippet!r}"
