"""Messages and reports as plain data (dicts of JSON types): the documented JSON contract.

Field names here are a stable contract (see the README's "JSON output" section): fields
may be added, never renamed or removed. Times are ISO 8601 text with the report zone's
offset; durations are seconds.
"""

from __future__ import annotations

from collections import Counter
from datetime import tzinfo
from typing import Any

from maillog_diag.core.analysis import (
    CauseStat,
    DestinationStats,
    HeldRecipient,
    OnHold,
    ReportBuilder,
    held_seconds,
    median,
    on_hold_seconds,
    repeated_deferrals,
)
from maillog_diag.core.causes import CAUSE_INFO
from maillog_diag.core.classify import Classification
from maillog_diag.core.diagnosis import classify_attempts
from maillog_diag.core.model import Attempt, LineRef, Message, Recipient
from maillog_diag.core.queuecheck import QueueComparison
from maillog_diag.core.tuning import schedule_suggestion
from maillog_diag.core.window import MessageFilter, coverage_warnings
from maillog_diag.input.timestamps import format_time
from maillog_diag.output.rows import RowsWhenWritten
from maillog_diag.scan.lines import problem_kind
from maillog_diag.scan.live import AttemptSeen
from maillog_diag.scan.pipeline import ScanResult


def _ref(ref: LineRef | None) -> str | None:
    return f"{ref.source}:{ref.lineno}" if ref is not None else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def classification_dict(cls: Classification | None) -> dict[str, Any]:
    """`cause`, `provider`, `token`, `retry_hint_seconds`, `retry_hint` (all null/none when
    the attempt succeeded)."""
    if cls is None:
        return {
            "cause": None,
            "provider": None,
            "token": None,
            "retry_hint_seconds": None,
            "retry_hint": "none",
        }
    return {
        "cause": cls.cause.value,
        "provider": cls.provider,
        "token": cls.token,
        "retry_hint_seconds": cls.hint.seconds,
        "retry_hint": cls.hint.kind.value,
    }


def attempt_dict(attempt: Attempt, zone: tzinfo, cls: Classification | None) -> dict[str, Any]:
    """One attempt: `time`, `status`, `relay`, `dsn`, `reply`, its cause and retry hint."""
    return {
        "time": format_time(attempt.time, zone),
        "status": attempt.status.value,
        "relay": attempt.relay,
        "dsn": attempt.dsn,
        "reply": attempt.reply,
        "delays": attempt.delays,
        "suspended": attempt.suspended,
        "line": _ref(attempt.ref),
        **classification_dict(cls),
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
        "deferrals_tried": rcpt.deferrals - repeated_deferrals(rcpt),
        "deferrals_repeated": repeated_deferrals(rcpt),
        "first_deferred": format_time(rcpt.first_deferred, zone),
        "final": format_time(rcpt.final_time, zone),
        "held_seconds": _round(held_seconds(msg, rcpt)),
        "attempts": [
            attempt_dict(a, zone, cls)
            for a, cls in zip(rcpt.attempts, classify_attempts(rcpt.attempts), strict=True)
        ],
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
        "on_hold_since": format_time(msg.hold_started, zone),
        "hold_seconds": _round(on_hold_seconds(msg)),
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


def window_dict(window: MessageFilter | None, zone: tzinfo) -> dict[str, Any]:
    """The window the report counts: `since`, `until` (null: open), `excluded_domains`."""
    if window is None:
        return {"since": None, "until": None, "excluded_domains": []}
    return {
        "since": format_time(window.since, zone),
        "until": format_time(window.until, zone),
        "excluded_domains": sorted(window.exclude_domains),
    }


def coverage_dict(window: MessageFilter | None, result: ScanResult, zone: tzinfo) -> dict[str, Any]:
    """Whether the log read covers the window: `complete` and `warnings` (text)."""
    if window is None:
        return {"complete": True, "warnings": []}
    warnings = coverage_warnings(
        window, result.first_time, result.last_time, lambda t: format_time(t, zone)
    )
    return {"complete": not warnings, "warnings": warnings}


class HourStamps:
    """The text of each hour's start (`format_time`), computed once per hour for a whole
    report: every destination's `hourly` rows name the same few hundred hours, and the
    zone conversion is most of what a row costs (on the 1M-line bench log: 14,400 rows of
    1,200 destinations; `report_dict` took 0.112 CPU seconds instead of 0.166, least of 7
    rounds)."""

    __slots__ = ("_zone", "_texts")

    def __init__(self, zone: tzinfo) -> None:
        self._zone = zone
        self._texts: dict[int, str | None] = {}

    def text(self, hour: int) -> str | None:
        """The start of POSIX hour number `hour` (`int(seconds // 3600)`) as ISO 8601."""
        found = self._texts.get(hour)
        if found is None:
            found = self._texts[hour] = format_time(hour * 3600.0, self._zone)
        return found


def hourly_list(
    d: DestinationStats, zone: tzinfo, stamps: HourStamps | None = None
) -> list[dict[str, Any]]:
    """Per hour with any delay: `hour` (its start), `deferrals`, `held` (delayed recipients
    in the queue during that hour). `stamps`: hour texts shared by the rows of a report."""
    text = (stamps or HourStamps(zone)).text
    deferrals, held = d.hourly_deferrals, d.hourly_held
    hours = sorted(deferrals.keys() | held.keys())
    return [
        {"hour": text(h), "deferrals": deferrals.get(h, 0), "held": held.get(h, 0)} for h in hours
    ]


def cause_dict(c: CauseStat, *, domains: int = 0) -> dict[str, Any]:
    """One leading cause: counts, typical retry hint, one real example."""
    seconds, kind = c.typical_hint
    info = CAUSE_INFO.get(c.cause)
    data: dict[str, Any] = {
        "cause": c.cause.value,
        "provider": c.provider,
        "token": c.token,
        "count": c.count,
        "suspended": c.suspended,
        "recipients": c.recipients,
        "retry_hint_seconds": seconds,
        "retry_hint_median_seconds": _counter_median(c.hints),
        "retry_hint": kind,
        "detail": c.detail,
        "explanation": info.explanation if info else None,
        "sender_action": info.sender_action if info else None,
        "example": c.example,
        "example_line": _ref(c.example_ref),
    }
    if domains and c.domains is not None:  # (kept by the causes across destinations)
        ranked = sorted(c.domains.items(), key=lambda kv: (-kv[1], kv[0]))[:domains]
        data["domains"] = [{"domain": dom, "count": n} for dom, n in ranked]
        data["domain_count"] = len(c.domains)
    return data


def _counter_median(counts: Counter[int]) -> float | None:
    """The median of the values a Counter counts (each as often as counted)."""
    return median([value for value, n in counts.items() for _ in range(n)])


def schedule_dict(d: DestinationStats) -> dict[str, Any]:
    """The retry schedule against the receivers' stated intervals."""
    s = d.schedule
    return {
        "compared": s.compared,
        "early": s.early,
        "wasted": s.wasted,
        "late": s.late,
        "on_time": s.on_time,
        "pending": s.pending,
        "avoidable_seconds": _round(s.avoidable_seconds),
        "median_hint_seconds": median(s.hints),
        "median_gap_seconds": _round(median(s.gaps)),
        "suggestion": schedule_suggestion(d),
    }


def destination_dict(
    d: DestinationStats,
    reasons: int = 5,
    zone: tzinfo | None = None,
    stamps: HourStamps | None = None,
) -> dict[str, Any]:
    """One destination row of the report (`stamps`: see `hourly_list`)."""
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
        "deferrals_tried": d.deferrals_tried,
        "deferrals_repeated": d.deferrals_repeated,
        "on_hold": d.on_hold,
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
        "causes": [cause_dict(c) for c in d.top_causes(reasons)],
        "final_reasons": [
            {
                "reason": f.key,
                "cause": f.cause.value,
                "count": f.count,
                "example": f.example,
                "example_line": _ref(f.example_ref),
            }
            for f in d.top_final_reasons()
        ],
        "forced_split": {
            "deferrals": d.split_deferrals,
            "recipients": d.split_recipients,
            "delay_seconds": _round(d.split_delay_seconds),
        },
        "forced_split_only": d.forced_split_only,
        "retry_schedule": schedule_dict(d),
        "hourly": hourly_list(d, zone, stamps) if zone is not None else [],
        "delivery_seconds": {
            "mean": _round(d.delivery_seconds_total / d.delivery_timed)
            if d.delivery_timed
            else None,
            "max": _round(d.delivery_seconds_max) if d.delivery_timed else None,
        },
        "bytes_delivered": d.bytes_delivered,
        "senders": [
            {"domain": dom, "count": n}
            for dom, n in sorted(d.senders.items(), key=lambda kv: (-kv[1], kv[0]))[:SENDERS]
        ],
    }


SENDERS = 5
"""Sender domains named per destination (the ones whose mail it delayed most)."""


def held_dict(h: HeldRecipient, zone: tzinfo) -> dict[str, Any]:
    """A recipient still queued at the end of the log: since when, why, when to retry."""
    cls = h.last_cause
    return {
        "address": h.address,
        "domain": h.domain,
        "mta": h.mta,
        "host": h.host,
        "queue_id": h.queue_id,
        "since": format_time(h.since, zone),
        "held_seconds": _round(h.held_seconds),
        "deferrals": h.deferrals,
        "last_attempt": format_time(h.last_attempt, zone),
        "last_cause": cls.cause.value if cls else None,
        "provider": cls.provider if cls else None,
        "token": cls.token if cls else None,
        "last_reply": h.last_reply,
        "retry_after": format_time(h.retry_after, zone),
        "on_hold": h.on_hold,
    }


def on_hold_dict(h: OnHold, zone: tzinfo) -> dict[str, Any]:
    """A message on hold at the end of the log: since when, how long, why."""
    return {
        "mta": h.mta,
        "host": h.host,
        "queue_id": h.queue_id,
        "sender": h.sender,
        "since": format_time(h.since, zone),
        "hold_seconds": _round(h.hold_seconds),
        "reason": h.reason,
        "recipients": list(h.recipients),
    }


def causes_dict(builder: ReportBuilder, *, domains: int = 5) -> list[dict[str, Any]]:
    """Causes across all destinations, most deferrals first (the `why` view)."""
    ordered = sorted(builder.causes.values(), key=lambda c: (-c.count, -c.suspended, c.cause.value))
    return [cause_dict(c, domains=domains) for c in ordered]


def totals_dict(
    builder: ReportBuilder, result: ScanResult, zone: tzinfo, stamps: HourStamps | None = None
) -> dict[str, Any]:
    """All destinations added up, plus the traffic figures pflogsumm users look for first:
    `received` (messages), `rejected` (inbound rejects: refused before or after a queue id),
    `bytes_received` (null when no size was logged), `bytes_delivered`."""
    data = destination_dict(builder.totals(), reasons=0, zone=zone, stamps=stamps)
    inbound = sum(
        n for reason, n in result.counts.ignored_by_reason.items() if reason.endswith(" reject")
    )
    data["received"] = builder.messages
    data["rejected"] = builder.rejected + inbound
    data["bytes_received"] = builder.bytes_received if builder.sized else None
    return data


def traffic_list(
    builder: ReportBuilder, zone: tzinfo, stamps: HourStamps | None = None
) -> list[dict[str, Any]]:
    """All mail per hour (not only delayed mail): `hour`, `received` (messages),
    `delivered` (recipients), `deferrals` (deferred attempts)."""
    deferrals: Counter[int] = Counter()
    for d in builder.destinations.values():
        deferrals.update(d.hourly_deferrals)
    hours = sorted(set(builder.hourly_received) | set(builder.hourly_delivered) | set(deferrals))
    text = (stamps or HourStamps(zone)).text
    return [
        {
            "hour": text(h),
            "received": builder.hourly_received.get(h, 0),
            "delivered": builder.hourly_delivered.get(h, 0),
            "deferrals": deferrals.get(h, 0),
        }
        for h in hours
    ]


def problems_list(result: ScanResult) -> list[dict[str, Any]]:
    """The MTA's own warnings, errors, fatal errors and panics, by kind (most first), each
    with its first line as an example."""
    rows: list[dict[str, Any]] = []
    for reason, n in result.counts.ignored_by_reason.items():
        kind = problem_kind(reason)
        if kind is None:
            continue
        example = result.counts.problem_examples.get(reason)
        rows.append(
            {
                "kind": kind,
                "count": n,
                "example": example[2] if example else None,
                "example_line": f"{example[0]}:{example[1]}" if example else None,
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["kind"]))
    return rows


def report_dict(
    builder: ReportBuilder,
    result: ScanResult,
    zone: tzinfo,
    *,
    include_all: bool = False,
    reasons: int = 5,
    window: MessageFilter | None = None,
    queue: QueueComparison | None = None,
    rows_when_written: bool = False,
) -> dict[str, Any]:
    """The whole report: `lines`, `span`, `window`, `coverage`, `destinations`, `totals`;
    with a queue listing (`queue`), `in_queue` on each held recipient, `queue` and
    `queue_only` (see `queue_dicts`).

    `rows_when_written`: `destinations` (and `groups`) are `RowsWhenWritten`, each row made
    as `write_json` writes it (for a report written only as JSON: a lower peak)."""
    stamps = HourStamps(zone)

    def destination_row(d: DestinationStats) -> dict[str, Any]:
        return destination_dict(d, reasons, zone, stamps)

    ranked = builder.ranked(include_all=include_all)
    data: dict[str, Any] = {
        "lines": lines_dict(result),
        "span": span_dict(result, zone),
        "window": window_dict(window, zone),
        "coverage": coverage_dict(window, result, zone),
        "messages": builder.messages,
        "handed_off": builder.handed_off,
        "totals": totals_dict(builder, result, zone, stamps),
        "destinations": RowsWhenWritten(ranked, destination_row)
        if rows_when_written
        else [destination_row(d) for d in ranked],
        **_groups(builder, include_all, reasons, zone, stamps, rows_when_written),
        "traffic": traffic_list(builder, zone, stamps),
        "mta_problems": problems_list(result),
        "held_mail": [
            held_dict(h, zone)
            for h in sorted(
                builder.held_mail, key=lambda h: (h.since or 0.0, h.address, h.host, h.queue_id)
            )
        ],
        "causes": causes_dict(builder),
        "on_hold": [
            on_hold_dict(h, zone)
            for h in sorted(builder.on_hold, key=lambda h: (h.since, h.host, h.queue_id))
        ],
    }
    if queue is not None:
        order = sorted(
            builder.held_mail, key=lambda h: (h.since or 0.0, h.address, h.host, h.queue_id)
        )
        for held, row in zip(order, data["held_mail"], strict=True):
            row["in_queue"] = queue.held_in_queue(held)
        data.update(queue_dicts(queue, result.first_time, zone))
    return data


def queue_dicts(queue: QueueComparison, log_start: float | None, zone: tzinfo) -> dict[str, Any]:
    """`queue` {`source`, `format`, `taken_at`, `messages`, `recipients`, `skipped`,
    `truncated`} and `queue_only` [{`queue_id`, `sender`, `arrived`, `age_seconds` (at
    `taken_at`), `state`, `size`, `before_log` (arrived before the log's first line; null
    when unknown), `recipients` [{`address`, `domain`, `reason`}]}], oldest first."""
    listing = queue.listing
    taken = listing.taken_at
    only = sorted(queue.queue_only, key=lambda e: (e.arrived is None, e.arrived or 0.0, e.queue_id))
    return {
        "queue": {
            "source": queue.source,
            "format": listing.format,
            "taken_at": format_time(taken, zone),
            "messages": len(listing.entries),
            "recipients": sum(len(e.recipients) for e in listing.entries),
            "skipped": listing.skipped,
            "truncated": listing.truncated,
        },
        "queue_only": [
            {
                "queue_id": e.queue_id,
                "sender": e.sender,
                "arrived": format_time(e.arrived, zone),
                "age_seconds": None if e.arrived is None else _round(max(0.0, taken - e.arrived)),
                "state": e.state,
                "size": e.size,
                "before_log": None
                if e.arrived is None or log_start is None
                else e.arrived < log_start,
                "recipients": [
                    {
                        "address": r.address,
                        "domain": r.address.rpartition("@")[2].lower(),
                        "reason": r.reason,
                    }
                    for r in e.recipients
                ],
            }
            for e in only
        ],
    }


def attempt_event_dict(seen: AttemptSeen, zone: tzinfo) -> dict[str, Any]:
    """One delivery attempt as `watch --format jsonl` streams it (`type`: `delivery`):
    where and for whom, the attempt's fields as in `attempts`, its cause and retry hint."""
    ev = seen.event
    return {
        "type": "delivery",
        "mta": ev.mta,
        "host": ev.host,
        "queue_id": ev.queue_id,
        "recipient": seen.recipient,
        "time": format_time(ev.time, zone),
        "status": ev.status.value,
        "relay": ev.relay,
        "dsn": ev.dsn,
        "reply": ev.reply,
        "delays": ev.delays,
        "suspended": ev.suspended,
        "line": _ref(ev.ref),
        **classification_dict(seen.classification),
    }


def _groups(
    builder: ReportBuilder,
    include_all: bool,
    reasons: int,
    zone: tzinfo,
    stamps: HourStamps | None = None,
    rows_when_written: bool = False,
) -> dict[str, Any]:
    """`by` and `groups` for `report --by sender|relay|instance` (nothing by default)."""
    if builder.by == "destination":
        return {}

    def group_row(d: DestinationStats) -> dict[str, Any]:
        return {"key": d.domain, **destination_dict(d, reasons, zone, stamps)}

    ranked = builder.ranked(include_all=include_all, groups=True)
    return {
        "by": builder.by,
        "groups": RowsWhenWritten(ranked, group_row)
        if rows_when_written
        else [group_row(d) for d in ranked],
    }
