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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Transformer, UnexpectedInput

from .dialects import Dialect, other_dialects
from .errors import GrammarLoadError, UnparsableLine
from .lalr import FastLALR
from .model import Event
from .postfix import PostfixTransformer
from .timestamps import BadTimestamp, TimeParser, YearInference

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
        return Lark.open(
            str(path),
            parser="lalr",
            transformer=transformer,
            cache=True,
            propagate_positions=False,
            maybe_placeholders=True,
        )
    except Exception as exc:  # Lark raises several unrelated types for bad grammars
        raise GrammarLoadError(f"grammar {name} does not load: {exc}") from exc


# After the grammar's HEADER terminal, any other program: name, optional [pid], colon.
_OTHER_PROGRAM = r"(?P<other_full>(?P<other>[^ \[:]+)(?:\[[0-9]+\])?: )"

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

    def __init__(self, time_parser: TimeParser, partition: tuple[int, int] | None = None) -> None:
        self._time_parser = time_parser
        self.counts = LineCounts()
        self._partition = partition
        transformer = self._transformer = PostfixTransformer(time_parser)
        self._postfix = load_grammar("postfix.lark", transformer)
        self._postfix_parse = FastLALR(self._postfix, transformer).parse
        # The pre-filter is built from the grammar's own HEADER, POSTFIX_PROGRAM and QUEUE_ID
        # terminals, so the tokens it matches are handed to the parser, not lexed again.
        terminal = self._postfix.get_terminal
        header = terminal("HEADER").pattern.to_regexp()
        program = terminal("POSTFIX_PROGRAM").pattern.to_regexp()
        queue_id = terminal("QUEUE_ID").pattern.to_regexp()
        self._head = re.compile(
            f"(?P<header>{header})(?:(?P<postfix>{program})(?P<qid>{queue_id})?|{_OTHER_PROGRAM})"
        ).match
        self._dialects: list[Dialect] = other_dialects(time_parser)
        self._by_program = {p: d for d in self._dialects for p in d.syslog_programs}

    @property
    def time_parser(self) -> TimeParser:
        """The time parser shared by all inputs (each input brings its own year inference)."""
        return self._time_parser

    def start_input(self, years: YearInference) -> None:
        """A new input begins: yearless stamps are placed by its own year inference."""
        self._time_parser.years = years
        self._transformer.time_parser = self._time_parser
        for dialect in self._dialects:
            dialect.start_input(self._time_parser)

    def _ignore(self, reason: str) -> None:
        counts = self.counts
        counts.ignored += 1
        by = counts.ignored_by_reason
        by[reason] = by.get(reason, 0) + 1

    def parse(self, line: str, source: str = "-", lineno: int = 0) -> Event | None:
        """Classify and parse one line (without its newline)."""
        counts = self.counts
        counts.total += 1
        head = self._head(line)
        if self._partition is not None:
            mine = self._mine(line, head)
            if mine is not True:
                counts.total -= 1
                if mine is None:  # a session line without queue id: needed, counted elsewhere
                    return self._shadow(line, source, lineno)
                return None
        if head is None:
            if not line or line.isspace():
                self._ignore("blank line")
                return None
            if "last message repeated" in line:
                self._ignore("syslog repeat notice")
                return None
            for dialect in self._dialects:
                try:
                    result = dialect.parse_bare(line)
                except (UnexpectedInput, BadTimestamp) as exc:
                    raise self._unparsed(line, source, lineno, _why(exc, line)) from None
                if result is not None:
                    return self._count(result)
            raise self._unparsed(line, source, lineno, "no syslog time stamp and program name")
        postfix = head["postfix"]
        if postfix is None:
            other = head["other"]
            claimed = self._by_program.get(other)
            if claimed is not None:
                try:
                    result = claimed.parse_syslog(
                        line, head.end(), head["header"], head["other_full"]
                    )
                except (UnexpectedInput, BadTimestamp) as exc:
                    raise self._unparsed(line, source, lineno, _why(exc, line)) from None
                return self._count(result)
            if other.startswith("postfix"):
                raise self._unparsed(line, source, lineno, "Postfix program name without [pid]")
            if line[10:11] == " ":
                # "2026-11-29 12:00:01 <id> SA: ..." is an Exim mainlog line that merely looks
                # like syslog (the message id in the host's place): let the dialects see it.
                for dialect in self._dialects:
                    try:
                        bare = dialect.parse_bare(line)
                    except (UnexpectedInput, BadTimestamp) as exc:
                        raise self._unparsed(line, source, lineno, _why(exc, line)) from None
                    if bare is not None:
                        return self._count(bare)
            self._ignore(f"program {other}")
            return None
        bracket = postfix.index("[")
        daemon = postfix[postfix.rfind("/", 0, bracket) + 1 : bracket]
        if daemon in POSTFIX_IGNORED_DAEMONS:
            self._ignore(f"postfix/{daemon}")
            return None
        end = head.end()
        if line.startswith(POSTFIX_IGNORED_PREFIXES, end):
            self._ignore(f"postfix/{daemon} {line[end : line.find(' ', end)]}")
            return None
        qid = head["qid"]
        if daemon in POSTFIX_RECEIVING_DAEMONS and qid is None:
            self._ignore(f"postfix/{daemon} inbound session")
            return None
        if qid is None:
            pre: tuple[tuple[str, str], ...] = (
                ("HEADER", head["header"]),
                ("POSTFIX_PROGRAM", postfix),
            )
        else:
            pre = (("HEADER", head["header"]), ("POSTFIX_PROGRAM", postfix), ("QUEUE_ID", qid))
        try:
            event: Event | None = self._postfix_parse(line, end, pre)
        except (UnexpectedInput, BadTimestamp) as exc:
            raise self._unparsed(line, source, lineno, _why(exc, line)) from None
        if event is None:
            self._ignore(f"postfix/{daemon} informational")
            return None
        counts.used += 1
        return event

    def _mine(self, line: str, head: re.Match[str] | None) -> bool | None:
        """In a partition: True for a line this partition owns; False for another's;
        None for a Postfix line without a queue id that every partition must see.

        Other MTAs' lines are shared out by their message id too (Exim's own mainlog, or the
        first word after the program name of a syslog line); lines without one, and lines
        of unknown programs, belong to the first partition."""
        assert self._partition is not None
        k, n = self._partition
        if head is None:
            bare = _BARE_EXIM_ID.match(line)
            return k == 0 if bare is None else partition_of(bare[1], n) == k
        if head["postfix"] is None:
            if head["other"] not in self._by_program:
                return k == 0
            word = _OTHER_ID.match(line, head.end())
            return k == 0 if word is None else partition_of(word[1], n) == k
        qid = head["qid"]
        if qid is None:
            if k == 0:
                return True
            # smtp/lmtp session failures without a queue id attach to that process's next
            # delivery, which may be this partition's: parse them here too, uncounted.
            program = head["postfix"]
            return None if ("/smtp[" in program or "/lmtp[" in program) else False
        return partition_of(qid[:-2], n) == k

    def _shadow(self, line: str, source: str, lineno: int) -> Event | None:
        """Parse without counting (the first partition counts this line)."""
        saved = self.counts
        self.counts = LineCounts()
        try:
            return self.parse_counted(line, source, lineno)
        except UnparsableLine:
            return None
        finally:
            self.counts = saved

    def parse_counted(self, line: str, source: str, lineno: int) -> Event | None:
        """`parse` without partitioning (used for shadow parses)."""
        partition, self._partition = self._partition, None
        try:
            return self.parse(line, source, lineno)
        finally:
            self._partition = partition

    def line_time(self, line: str) -> float | None:
        """The time stamp of a line (POSIX seconds), or None: a syslog header, else a
        dialect's own (Exim's mainlog)."""
        head = self._head(line)
        if head is None:
            for dialect in self._dialects:
                when = dialect.line_time(line)
                if when is not None:
                    return when
            return None
        try:
            stamp = head["header"][:-1].rpartition(" ")[0].rstrip()
            if stamp[0].isdigit():
                return self._time_parser.iso(stamp)
            return self._time_parser.bsd(stamp)
        except (BadTimestamp, ValueError):
            return None

    def _count(self, result: Event | str) -> Event | None:
        if isinstance(result, str):
            self._ignore(result)
            return None
        self.counts.used += 1
        return result

    def _unparsed(self, line: str, source: str, lineno: int, why: str) -> UnparsableLine:
        self.counts.unparsed += 1
        return UnparsableLine(source, lineno, line, why)


# Exim's mainlog: stamp, optional milliseconds, zone and [pid], then the message id.
_BARE_EXIM_ID = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?(?: [+-][0-9]{4})?"
    r"(?: \[[0-9]+\])? ([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) "
)
# After another MTA's program name: a Sendmail queue id ("5ATA05cc001005:") or an Exim id.
_OTHER_ID = re.compile(r"([0-9A-Za-z][0-9A-Za-z-]{7,24})[: ]")


def partition_of(queue_id: str, n: int) -> int:
    """Which of `n` partitions owns a queue id (stable across processes and runs)."""
    return (ord(queue_id[-1]) * 31 + ord(queue_id[-2])) % n


def _why(exc: UnexpectedInput | BadTimestamp, line: str) -> str:
    """Why a line of a known program could not be read, in one line."""
    if isinstance(exc, BadTimestamp):
        return f"impossible time stamp {exc}"
    return _context(exc, line)


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
