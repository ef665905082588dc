"""maillog-diag: why outbound mail is delayed, and for how long, from MTA logs.

Library use::

    from maillog_diag import ScanOptions, collect_messages, resolve_zone
    options = ScanOptions(zone=resolve_zone("UTC"))
    messages, result = collect_messages(["/var/log/mail.log"], options)
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

from maillog_diag.core.analysis import DestinationStats, ReportBuilder, held_seconds
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.model import Attempt, Event, Message, Outcome, Recipient, Status
from maillog_diag.errors import GrammarLoadError, InputError, MaillogError, UnparsableLine
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan.lines import LineParser
from maillog_diag.scan.pipeline import ScanOptions, ScanResult, collect_messages, scan

__version__ = "0.1.0"


def compiled() -> bool:
    """Whether this copy is the accelerated build: the modules a log line passes through
    compiled by mypyc (`pyproject.toml`), rather than run from their source."""
    spec = importlib.util.find_spec("maillog_diag.scan.lines")
    origin = "" if spec is None or spec.origin is None else spec.origin
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


__all__ = [
    "Attempt",
    "Correlator",
    "DestinationStats",
    "Event",
    "GrammarLoadError",
    "InputError",
    "LineParser",
    "MaillogError",
    "Message",
    "Outcome",
    "Recipient",
    "ReportBuilder",
    "ScanOptions",
    "ScanResult",
    "Status",
    "UnparsableLine",
    "__version__",
    "collect_messages",
    "compiled",
    "held_seconds",
    "resolve_zone",
    "scan",
]
