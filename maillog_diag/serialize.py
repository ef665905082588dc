"""Messages and reports as plain data (dicts of JSON types): the documented JSON contract.

Field names here are a stable contract (see the README's "JSON output" section): fields
may be added, never renamed or removed. Times are ISO 8601 text with the report zone's
offset; durations are seconds.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from .analysis import DestinationStats, ReportBuilder, held_seconds
from .model import Attempt, LineRef, Message, Recipient
from .pipeline import ScanResult
from .timestamps import format_time


def _ref(ref: LineRef | None) -> str | None:
    return f"{ref.source}:{ref.lineno}" if ref is not None else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def attempt_dict(attempt: Attempt, zone: tzinfo) -> dict[str, Any]:
    """One attempt: `time`, `status`, `relay`, `dsn`, `reply` and more."""
    return {
        "time": format_time(attempt.time, zone),
        "status": attempt.status.value,
        "relay": attempt.relay,
        "dsn": attempt.dsn,
        "reply": attempt.reply,
        "delays": attempt.delays,
        "suspended": attempt.suspended,
        "line": _ref(attempt.ref),
    }


def recipient_dict(msg: Message, rcpt: Recipient, zone: tzinfo) -> dict[str, Any]:
    """One recipient: `address`, `domain`, `outcome`, `deferrals`, `first_deferred`, `final`,
    `held_seconds`, `attempts`."""
    return {
        "address": rcpt.address,
        "orig_address": rcpt.orig_address,
        "domain": rcpt.domain,
        "outcome": rcpt.outcome.value if rcpt.outcome is not None else None,
        "deferrals": rcpt.deferrals,
        "first_deferred": format_time(rcpt.first_deferred, zone),
        "final": format_time(rcpt.final_time, zone),
        "held_seconds": _round(held_seconds(msg, rcpt)),
        "attempts": [attempt_dict(a, zone) for a in rcpt.attempts],
    }


def message_dict(msg: Message, zone: tzinfo) -> dict[str, Any]:
    """One message: `mta`, `host`, `queue_id`, `message_id`, `sender`, `arrived`,
    `recipients` and more."""
    return {
        "mta": msg.mta,
        "host": msg.host,
        "queue_id": msg.queue_id,
        "message_id": msg.message_id,
        "sender": msg.sender,
        "size": msg.size,
        "client": msg.client,
        "arrived": format_time(msg.arrived, zone),
        "arrival_seen": msg.arrival_seen,
        "expired": format_time(msg.expired_at, zone),
        "removed": format_time(msg.removed_at, zone),
        "rejected": msg.rejected,
        "notifications": [
            {"time": format_time(t, zone), "kind": kind, "queue_id": new_qid}
            for t, kind, new_qid in msg.notifications
        ],
        "recipients": [recipient_dict(msg, r, zone) for r in msg.recipients.values()],
    }


def lines_dict(result: ScanResult) -> dict[str, int]:
    """The line accounting: `total`, `used`, `ignored`, `unparsed`."""
    c = result.counts
    return {"total": c.total, "used": c.used, "ignored": c.ignored, "unparsed": c.unparsed}


def span_dict(result: ScanResult, zone: tzinfo) -> dict[str, str | None]:
    """The time span of the lines used: `start`, `end`."""
    return {
        "start": format_time(result.first_time, zone),
        "end": format_time(result.last_time, zone),
    }


def destination_dict(d: DestinationStats, reasons: int = 5) -> dict[str, Any]:
    """One destination row of the report."""
    held = d.held_summary()
    return {
        "domain": d.domain,
        "recipients": d.recipients,
        "delivered": d.delivered,
        "recipients_deferred": d.recipients_deferred,
        "delivered_after_delay": d.delivered_after_delay,
        "bounced": d.bounced,
        "expired": d.expired,
        "held": d.held,
        "unknown": d.unknown,
        "deferrals": d.deferrals,
        "held_seconds": {k: _round(v) for k, v in held.items()},
        "reasons": [
            {
                "reason": r.key,
                "count": r.count,
                "recipients": r.recipients,
                "example": r.example,
                "example_line": _ref(r.example_ref),
            }
            for r in d.top_reasons(reasons)
        ],
    }


def report_dict(
    builder: ReportBuilder,
    result: ScanResult,
    zone: tzinfo,
    *,
    include_all: bool = False,
    reasons: int = 5,
) -> dict[str, Any]:
    """The whole report: `lines`, `span`, `destinations`, and `totals`."""
    return {
        "lines": lines_dict(result),
        "span": span_dict(result, zone),
        "messages": builder.messages,
        "handed_off": builder.handed_off,
        "totals": destination_dict(builder.totals(), reasons=0),
        "destinations": [
            destination_dict(d, reasons) for d in builder.ranked(include_all=include_all)
        ],
    }
