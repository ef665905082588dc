"""maillog-diag: why outbound mail is delayed, and for how long, from MTA logs.

Library use::

    from maillog_diag import ScanOptions, collect_messages, resolve_zone
    options = ScanOptions(zone=resolve_zone("UTC"))
    messages, result = collect_messages(["/var/log/mail.log"], options)
"""

from __future__ import annotations

from .analysis import DestinationStats, ReportBuilder, held_seconds
from .correlate import Correlator
from .errors import GrammarLoadError, InputError, MaillogError, UnparsableLine
from .model import Attempt, Event, Message, Outcome, Recipient, Status
from .parsing import LineParser
from .pipeline import ScanOptions, ScanResult, collect_messages, scan
from .timestamps import resolve_zone

__version__ = "0.1.0"

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
    "held_seconds",
    "resolve_zone",
    "scan",
]
