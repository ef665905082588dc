"""From a log line to an event: the line classifier and line accounting.

Every line ends in exactly one of three bins: *used* (a reader parsed it and it matters),
*ignored* (recognised as something the diagnosis does not need: another program, an
inbound connection, a statistics line) or *unparsed* (nothing could read it). The classifier
matches the syslog header and program name once, asks the registered MTA readers
(`maillog_diag.mta`) which of them claims the program, and hands the line over; lines
without a syslog header are offered to each reader in turn. Nothing here knows an MTA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lark import UnexpectedInput

from maillog_diag.core.model import Event
from maillog_diag.errors import UnparsableLine
from maillog_diag.input.sources import LongLine
from maillog_diag.input.timestamps import BadTimestamp, TimeParser, YearInference
from maillog_diag.mta import LineShapeError, Reader, readers
from maillog_diag.syntax.grammars import load_grammar, terminal_regex

# After the syslog header: the program name, an optional [pid], a colon and a space. The
# name is repeated possessively (`++`): what may follow it starts with "[" or ":", which the
# name cannot contain, so a shorter name could never be followed by it (see `syslog_head`).
_PROGRAM = r"(?P<program_full>(?P<program>[^ \[:]++)(?:\[[0-9]+\])?: )"

_SOLARIS_TAG = re.compile(r"\[ID [0-9]{1,10} [a-z0-9]{1,12}\.[a-z]{1,8}\] ")
"""Solaris and illumos syslogd insert a message-id tag after the program name
(`postfix/qmgr[9657]: [ID 197553 mail.info] 292633780: ...`): not part of the message."""

_MAX_PROGRAMS = 4096
"""Program names remembered with the reader that claims them (log text chooses them:
bounded)."""


def syslog_head() -> re.Pattern[str]:
    """The syslog header (stamp and host, `grammars/syslog.lark`) and the program name.

    The HEADER terminal is matched in an atomic group (`(?>...)`), and the program name
    possessively: neither is tried again shorter when what follows fails. That is the same
    set of matches, because a HEADER can match a text in one way only. Its two stamps start
    with a digit or with an upper-case letter, so one alternative at most applies. An ISO
    stamp holds no space after its 11th character and a BSD stamp none after its time, so
    the stamp ends at the first space after those; the day of a BSD stamp is fixed by
    whether its 5th or its 6th character is the space. The spaces then run up to the host
    name (which cannot start with one), and the host name to its first space. Without the
    retries a mainlog line (`2026-11-26 09:48:21 1xWW5V-000c4F-3y => ...`, which looks like
    an ISO header up to the program name) fails after one pass: about 2,200 instructions a
    line less (callgrind, 40,000 mainlog lines: 6,600 -> 4,400 a line).
    """
    lark = load_grammar("syslog_head.lark")
    head = re.compile(f"(?P<header>(?>{terminal_regex(lark, 'HEADER')})){_PROGRAM}")
    if head.groups != 3 or head.groupindex != _HEAD_GROUPS:
        # `LineParser.parse` reads the groups by position (`Match.groups()`): a HEADER
        # terminal with capturing groups of its own would shift them.
        raise ValueError("the syslog HEADER terminal must not capture groups")
    return head


_HEAD_GROUPS = {"header": 1, "program_full": 2, "program": 3}


@dataclass(slots=True)
class LineCounts:
    """How many lines went where; `total == used + ignored + unparsed` always."""

    total: int = 0
    used: int = 0
    ignored: int = 0
    unparsed: int = 0
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    problem_examples: dict[str, tuple[str, int, str]] = field(default_factory=dict, compare=False)
    """For each ignored reason that is the MTA's own warning, error, fatal error or panic
    (`problem_kind`): the first line of it, as (source, line number, text)."""


_PROBLEM_WORDS = ("warning", "error", "fatal", "panic", "syserr")


def problem_kind(reason: str) -> str | None:
    """The kind of MTA problem an ignored reason names (`postfix/smtp warning`,
    `exim warning`, ...), or None when it is not a warning, error or panic of the MTA."""
    words = reason.lower().rstrip(":").split()
    if len(words) >= 2 and words[-1].rstrip(":") in _PROBLEM_WORDS:
        return " ".join(words)
    return None


PROBLEM_EXAMPLE_CHARS = 300
"""An example problem line is kept up to this many characters (it is shown, not parsed)."""


class LineParser:
    """Parses the lines of one input stream (one `TimeParser`, so one year inference).

    `parse` returns an event for a used line, None for an ignored line, and raises
    `UnparsableLine` otherwise. `counts` is kept up to date.
    """

    def __init__(self, time_parser: TimeParser) -> None:
        self._time_parser = time_parser
        self.counts = LineCounts()
        self._head = syslog_head().match
        self._readers: list[Reader] = readers(time_parser)
        self._bare_readers = [r for r in self._readers if r.reads_bare]
        self._bare_only = self._bare_readers[0].parse_bare if len(self._bare_readers) == 1 else None
        """The one reader of lines without a syslog header, when there is one only: `parse`
        calls it directly (as `_bare` would), one Python call less for each mainlog line."""
        self._claimed: dict[str, Reader | None] = {}
        self._problems: set[str] = set()
        """Ignored reasons that are the MTA's own problems (see `problem_kind`): one per
        reason in `counts.ignored_by_reason` at most, so bounded alike."""
        self._headless = False
        """Whether the last line had no syslog header (then `parse` looks for ": " before
        matching the header; either way the same lines match)."""
        self.stateful: str | None = None
        """The `mta` of a reader that carries state across lines, once one claimed a line."""

    def _reader_of(self, program: str) -> Reader | None:
        """The reader that claims a program name (asked once per name)."""
        found = next((r for r in self._readers if r.claims(program)), None)
        if found is not None and found.carries_state:
            self.stateful = found.mta
        if len(self._claimed) < _MAX_PROGRAMS:
            self._claimed[program] = found
        return found

    @property
    def time_parser(self) -> TimeParser:
        """The time parser shared by all inputs (each input brings its own year inference)."""
        return self._time_parser

    def export_state(self) -> dict[str, Any]:
        """What the readers that carry state across lines remember now (sessions, host
        status), by MTA: for a scan that continues this one later (`--state`)."""
        out: dict[str, Any] = {}
        for reader in self._readers:
            export = getattr(reader, "export_state", None)
            if reader.carries_state and export is not None:
                out[reader.mta] = export()
        return out

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take up what `export_state` gave (after `start_input`, which forgets it)."""
        for reader in self._readers:
            restore = getattr(reader, "restore_state", None)
            if reader.mta in state and restore is not None:
                restore(state[reader.mta])

    def start_input(self, years: YearInference) -> None:
        """A new input begins: yearless stamps are placed by its own year inference."""
        self._time_parser.years = years
        for reader in self._readers:
            reader.start_input(self._time_parser)

    def _ignore(self, reason: str) -> None:
        counts = self.counts
        counts.ignored += 1
        by = counts.ignored_by_reason
        by[reason] = by.get(reason, 0) + 1

    def ignore_line(self, reason: str) -> None:
        """Count a line the scan itself set aside (an overlap duplicate, say)."""
        self.counts.total += 1
        self._ignore(reason)

    def parse(self, line: str, source: str = "-", lineno: int = 0) -> Event | None:
        """Classify and parse one line (without its newline)."""
        counts = self.counts
        counts.total += 1
        if type(line) is LongLine:
            raise self._unparsed(
                line, source, lineno, f"line of {line.length} bytes, longer than the limit"
            )
        if self._headless:
            # The header pattern ends with the literal ": " after the program name: a line
            # without one cannot match it, and most mainlog lines have none (`in` costs
            # about a tenth of the match that fails). Only while the lines come without a
            # header: where they have one, the test would only add its cost.
            head = self._head(line) if ": " in line else None
            if head is not None:
                self._headless = False
        else:
            head = self._head(line)
            if head is None:
                self._headless = True
        if head is None:
            if not line or line.isspace():
                self._ignore("blank line")
                return None
            bare_only = self._bare_only
            try:
                bare = self._bare(line) if bare_only is None else bare_only(line)
            except (UnexpectedInput, BadTimestamp, LineShapeError) as exc:
                raise self._unparsed(line, source, lineno, _why(exc, line)) from None
            if bare is None:
                # syslogd's "last message repeated 3 times" has a stamp and a host but no
                # program. Only a line that no reader takes for its own is taken for one:
                # the words inside a line an MTA wrote (a subject, a reply text) do not
                # hide that line, nor a line a reader fails on (it is counted unparsed).
                if _REPEAT_NOTICE in line:
                    self._ignore("syslog repeat notice")
                    return None
                raise self._unparsed(line, source, lineno, "no syslog time stamp and program name")
            if isinstance(bare, str):
                return self._count(bare, line, source, lineno)
            counts.used += 1  # (most of a mainlog: counted here, not through `_count`)
            return bare
        header, program_full, program = head.groups()  # (see `syslog_head`)
        try:
            reader = self._claimed[program]
        except KeyError:
            reader = self._reader_of(program)
        if reader is None:
            if line[10:11] == " ":
                # "2026-11-29 12:00:01 <id> SA: ..." is an MTA's own log line (a date, a
                # time, then a word ending in ":") that merely looks like syslog.
                try:
                    bare = self._bare(line)
                except (UnexpectedInput, BadTimestamp, LineShapeError) as exc:
                    raise self._unparsed(line, source, lineno, _why(exc, line)) from None
                if bare is not None:
                    return self._count(bare, line, source, lineno)
            self._ignore(f"program {program}")
            return None
        end = head.end()
        if line.startswith("[ID ", end):
            end = _body_start(line, head)
        try:
            result = reader.parse_syslog(line, end, header, program_full)
        except (UnexpectedInput, BadTimestamp, LineShapeError) as exc:
            raise self._unparsed(line, source, lineno, _why(exc, line)) from None
        if isinstance(result, str):
            return self._count(result, line, source, lineno)
        counts.used += 1
        return result

    def _bare(self, line: str) -> Event | str | None:
        """The first reader's reading of a line without a syslog header, or None (a
        reader's error is raised)."""
        for reader in self._bare_readers:
            result = reader.parse_bare(line)
            if result is not None:
                return result
        return None

    def line_time(self, line: str) -> float | None:
        """The time stamp of a line (POSIX seconds), or None: a syslog header, else a
        reader's own (Exim's mainlog)."""
        head = self._head(line)
        if head is None:
            for reader in self._bare_readers:
                when = reader.line_time(line)
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

    def _count(self, result: Event | str, line: str, source: str, lineno: int) -> Event | None:
        if isinstance(result, str):
            counts = self.counts
            counts.ignored += 1
            by = counts.ignored_by_reason
            seen = by.get(result)
            by[result] = 1 if seen is None else seen + 1
            if seen is None or result in self._problems:
                examples = counts.problem_examples
                if result not in examples and problem_kind(result) is not None:
                    self._problems.add(result)
                    examples[result] = (source, lineno, line[:PROBLEM_EXAMPLE_CHARS])
            return None
        self.counts.used += 1
        return result

    def _unparsed(self, line: str, source: str, lineno: int, why: str) -> UnparsableLine:
        self.counts.unparsed += 1
        return UnparsableLine(source, lineno, line, why)


def _body_start(line: str, head: re.Match[str]) -> int:
    """Where the message starts after the program name, past a Solaris message-id tag."""
    end = head.end()
    if line.startswith("[ID ", end):
        tag = _SOLARIS_TAG.match(line, end)
        if tag is not None:
            return tag.end()
    return end


_REPEAT_NOTICE = "last message repeated"
"""The words of syslogd's note that it dropped copies of the line before it."""


def _why(exc: UnexpectedInput | BadTimestamp | LineShapeError, line: str) -> str:
    """Why a line of a known program could not be read, in one line."""
    if isinstance(exc, LineShapeError):
        return exc.why
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
