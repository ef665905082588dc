"""The MTA readers, registered in one place.

Adding an MTA means adding `grammars/<mta>.lark`, one module here that implements
`maillog_diag.mta.base.Reader`, and one entry in `READERS`. Nothing else in the package
names a specific MTA, except the provider knowledge base and the MTA-specific retry
schedule advice (`maillog_diag.core.diagnosis`).
"""

from __future__ import annotations

from maillog_diag.input.timestamps import TimeParser
from maillog_diag.mta.base import LineShapeError, Reader
from maillog_diag.mta.exim import EximReader
from maillog_diag.mta.opensmtpd import OpenSMTPDReader
from maillog_diag.mta.postfix import PostfixReader
from maillog_diag.mta.sendmail import SendmailReader

READERS: tuple[type[Reader], ...] = (PostfixReader, EximReader, SendmailReader, OpenSMTPDReader)
"""Every reader, in the order they are asked about a line without a syslog header."""

__all__ = [
    "READERS",
    "LineShapeError",
    "Reader",
    "journal_units",
    "no_removal_line",
    "readers",
]


def readers(time_parser: TimeParser) -> list[Reader]:
    """A fresh instance of every registered reader, sharing one time parser."""
    return [factory(time_parser) for factory in READERS]


def no_removal_line() -> frozenset[str]:
    """The `mta` values of MTAs that log no line when a message leaves the queue."""
    return frozenset(r.mta for r in READERS if not r.logs_removal)


def journal_units() -> tuple[str, ...]:
    """The systemd units of every MTA (for `--journal`)."""
    return tuple(unit for r in READERS for unit in r.journal_units)
