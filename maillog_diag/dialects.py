"""How an MTA other than Postfix plugs into line parsing.

Postfix keeps its own fast path in `maillog_diag.parsing` (most lines of most logs are
Postfix's). Every other MTA contributes a grammar in `grammars/`, a transformer that builds
`maillog_diag.model` events, and a `Dialect` object registered in `other_dialects`. The
correlator, the statistics and the reports are shared: nothing downstream is per-MTA.
"""

from __future__ import annotations

from typing import Protocol

from .model import Event
from .timestamps import TimeParser


class Dialect(Protocol):
    """One MTA's line reader.

    Both parse methods return an `Event` for a used line, a `str` (the reason, for the
    `ignored` accounting) for a recognised line that is not needed, and raise Lark's
    `UnexpectedInput` or `BadTimestamp` for a line of theirs they cannot read.
    `parse_bare` returns None for a line that is not of its shape at all.
    """

    mta: str
    syslog_programs: frozenset[str]
    """Program names (before `[pid]`) whose syslog lines this dialect reads."""

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input begins (forget per-input memory such as a cached header)."""

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """A syslog line: `header` and `program` (e.g. `exim[123]: `) are already matched;
        the message starts at `end`."""

    def parse_bare(self, line: str) -> Event | str | None:
        """A line without a syslog header (e.g. Exim's own mainlog)."""

    def line_time(self, line: str) -> float | None:
        """The time stamp of a line without a syslog header that is of this dialect's
        shape (POSIX seconds), else None: where the log ends when its last lines are not
        events (Exim's mainlog has no syslog header to read it from)."""


def other_dialects(time_parser: TimeParser) -> list[Dialect]:
    """The dialects of the MTAs besides Postfix, each with its own parser instance."""
    from .exim import EximDialect  # these import parsing, which imports this module
    from .sendmail import SendmailDialect

    return [EximDialect(time_parser), SendmailDialect(time_parser)]
