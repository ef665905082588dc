"""The one small interface every MTA reader implements.

A reader is all that is specific to one MTA on the reading side: which lines it claims, how
it parses them into the shared events of `maillog_diag.core.model`, and the time stamp of
its lines without a syslog header. Each reader brings a grammar in `grammars/` and is
registered once, in `maillog_diag.mta.READERS`. The line classifier
(`maillog_diag.scan.lines`), the correlator, the statistics and the reports are shared:
nothing downstream is per-MTA.
"""

from __future__ import annotations

import re
from typing import ClassVar, Protocol

from maillog_diag.core.model import Event
from maillog_diag.input.timestamps import TimeParser


class LineShapeError(ValueError):
    """A line of this reader's MTA that it cannot read, with a one-line reason.

    Readers may also let Lark's `UnexpectedInput` or `timestamps.BadTimestamp` escape;
    the line classifier turns all three into a counted, sampled unparsed line.
    """

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class SyslogHeader:
    """`(seconds, host)` of a syslog HEADER terminal (stamp, spaces, host, space), for the
    readers whose grammars start with it.

    Consecutive lines often share their header (same second, same host): the last one is
    remembered. `time_parser` belongs to the input stream; a new input forgets the header.
    """

    __slots__ = ("_time_parser", "_last_header", "_last_head")

    def __init__(self, time_parser: TimeParser) -> None:
        self._time_parser = time_parser
        self._last_header = ""
        self._last_head: tuple[float, str] = (0.0, "")

    @property
    def time_parser(self) -> TimeParser:
        """The input stream's time parser."""
        return self._time_parser

    @time_parser.setter
    def time_parser(self, value: TimeParser) -> None:
        self._time_parser = value
        self._last_header = ""

    def read(self, header: str) -> tuple[float, str]:
        """POSIX seconds and host name of `header`; raises `BadTimestamp` for a stamp
        that is no moment."""
        if header == self._last_header:
            return self._last_head
        stamp, _, host = header[:-1].rpartition(" ")
        stamp = stamp.rstrip()
        if stamp[0].isdigit():
            head = self._time_parser.iso(stamp), host
        else:
            head = self._time_parser.bsd(stamp), host
        self._last_header = header
        self._last_head = head
        return head


MAX_DELAY = 20 * 365 * 86400.0
"""The longest time in the queue (seconds) a delay field may state: twenty years, far
beyond any queue lifetime. A longer, negative or non-finite value (`delay=1e400`,
`delay=nan`, `QT=99999999999w`) is not a delay: the line is unparsed."""


def listed_fields(text: str, rest: str | None = None) -> dict[str, str]:
    """`key=value, key=value, ...` (Sendmail's and OpenSMTPD 5.x's lines) by key, the first
    of a repeated one; `rest`: the key whose value runs to the end of the text.

    A value runs to the next `, key=`; one that starts with `<` (an address: a sender's is
    a stranger's to choose) first to its matching `>` (`ctladdr=<root> (0/0)` goes on after
    it). So the words inside an address are never taken for fields: `from=<a, size=1, b@z>`
    and `from=<stat=Ok@z>` are addresses. Only an address with unbalanced brackets (a
    quoted `>`) ends early, at the next `, key=`. One pass from left to right: linear in the
    length of `text`."""
    fields: dict[str, str] = {}
    pos = 0
    size = len(text)
    while pos < size:
        name = _FIELD_NAME.match(text, pos)
        if name is None:  # not a field (`to=<a>, <b>` lists on): skip to the next one
            after = _FIELD_SEPARATOR.search(text, pos)
            if after is None:
                break
            pos = after.start() + 2
            continue
        key, start = name[1], name.end()
        if key == rest:
            fields.setdefault(key, text[start:])
            break
        end = _closing(text, start) if text.startswith("<", start) else start
        after = _FIELD_SEPARATOR.search(text, end)
        stop = size if after is None else after.start()
        fields.setdefault(key, text[start:stop])
        pos = stop + 2
    return fields


def _closing(text: str, start: int) -> int:
    """Past the `>` that closes the `<` at `start`, or `start` if none does."""
    depth, pos = 1, start + 1
    while depth:
        close = text.find(">", pos)
        if close < 0:
            return start
        depth += text.count("<", pos, close) - 1
        pos = close + 1
    return pos


_FIELD_NAME = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)=")
_FIELD_SEPARATOR = re.compile(r", [A-Za-z][A-Za-z0-9_-]*=")


def checked_delay(seconds: float | None, field: str) -> float | None:
    """`seconds` if a possible delay (see `MAX_DELAY`); raises `LineShapeError` naming the
    field otherwise."""
    if seconds is None or 0.0 <= seconds <= MAX_DELAY:
        return seconds
    raise LineShapeError(f"impossible {field}")


class Reader(Protocol):
    """One MTA's line reader.

    Both parse methods return an `Event` for a used line, a `str` (a bounded reason, for
    the `ignored` accounting: never text copied from the line) for a recognised line that
    is not needed, and raise for a line of theirs they cannot read (see `LineShapeError`).
    """

    mta: ClassVar[str]
    """The `mta` value of the events (and of the JSON contract)."""

    logs_removal: ClassVar[bool]
    """Whether the MTA logs a line when a message leaves the queue. When it does not, a
    message is closed once as many recipients as the arrival announced (`nrcpt`) have a
    final outcome: at that delivery when all were delivered, else at the notice (bounce,
    expiry) that follows; lines about it that come a little later are dropped."""

    carries_state: ClassVar[bool]
    """Whether reading a line depends on earlier lines beyond the message it names (e.g.
    OpenSMTPD's sessions and routes): a slice that starts inside an input cannot be read
    alone then, and the scan reads such an input in one pass."""

    journal_units: ClassVar[tuple[str, ...]]
    """systemd units whose journal lines are this MTA's even without the mail facility."""

    reads_bare: ClassVar[bool]
    """Whether some of its lines come without a syslog header (Exim's mainlog): only such
    readers are offered those lines (`parse_bare`, `line_time`)."""

    def __init__(self, time_parser: TimeParser) -> None:
        """One reader per scan; `time_parser` places the stamps of its lines."""

    def claims(self, program: str) -> bool:
        """Whether syslog lines of this program (the name before `[pid]`) are this MTA's.
        Asked once per distinct program name."""

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input begins (forget per-input memory such as a cached header)."""

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """A syslog line of a claimed program: `header` (stamp and host, with the space
        after it) and `program` (e.g. `exim[123]: `) are matched; the message starts at
        `end`."""

    def parse_bare(self, line: str) -> Event | str | None:
        """A line without a syslog header (e.g. Exim's own mainlog); None when it is not of
        this MTA's shape at all (then the next reader is asked)."""

    def line_time(self, line: str) -> float | None:
        """The time stamp (POSIX seconds) of a line without a syslog header that is of this
        MTA's shape, else None: where the log ends when its last lines are not events."""
