"""Per-destination delay statistics, built one finished message at a time.

Definitions (the README's JSON contract repeats them):

* A recipient is *delayed* when at least one attempt for it was deferred.
* Its *held time* runs from the message's arrival in the queue to its final outcome
  (delivered, bounced, expired), or to the last log time when it is still held. It is None
  when the arrival is unknown or the outcome is unknown.
* `held_seconds` percentiles cover the delayed recipients of a destination (nearest-rank
  method: p50 is the smallest value with at least half of the values at or below it).
* Destinations are sorted by impact: the sum of held seconds of their delayed recipients,
  then the number still held, then the number delayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .model import LineRef, Message, Outcome, Recipient, Status
from .reasons import reason_key


def held_seconds(msg: Message, rcpt: Recipient) -> float | None:
    """Seconds from arrival to final outcome (or to the end of the log if still held)."""
    if msg.arrived is None:
        return None
    if rcpt.outcome is Outcome.HELD:
        end = msg.log_end
    elif rcpt.outcome is Outcome.UNKNOWN:
        return None
    else:
        end = rcpt.final_time
    if end is None:
        return None
    return max(0.0, end - msg.arrived)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class ReasonStat:
    """One condensed reason at one destination: how often, and the first real example."""

    key: str
    count: int = 0
    recipients: int = 0
    example: str | None = None
    example_ref: LineRef | None = None


@dataclass(slots=True)
class DestinationStats:
    """Counts for one destination domain (recipients unless named otherwise)."""

    domain: str
    recipients: int = 0
    delivered: int = 0
    recipients_deferred: int = 0
    delivered_after_delay: int = 0
    bounced: int = 0
    expired: int = 0
    held: int = 0
    unknown: int = 0
    deferrals: int = 0
    """Deferred attempts (not recipients)."""
    held_times: list[float] = field(default_factory=list)
    reasons: dict[str, ReasonStat] = field(default_factory=dict)

    @property
    def impact(self) -> float:
        """Recipient-seconds of delay: the sort key of the report."""
        return sum(self.held_times)

    @property
    def troubled(self) -> bool:
        """Whether anything went wrong here (delay, bounce, expiry, still held, unknown)."""
        return bool(
            self.recipients_deferred or self.bounced or self.expired or self.held or self.unknown
        )

    def held_summary(self) -> dict[str, float | None]:
        """`{"p50", "p95", "max"}` of the held times of delayed recipients, in seconds."""
        values = sorted(self.held_times)
        return {
            "p50": percentile(values, 0.50),
            "p95": percentile(values, 0.95),
            "max": values[-1] if values else None,
        }

    def top_reasons(self, limit: int = 3) -> list[ReasonStat]:
        """The most frequent reasons, most frequent first (ties: alphabetical)."""
        return sorted(self.reasons.values(), key=lambda r: (-r.count, r.key))[:limit]


class ReportBuilder:
    """Accumulates finished messages into per-destination statistics (streaming)."""

    def __init__(self) -> None:
        self.destinations: dict[str, DestinationStats] = {}
        self.messages = 0
        self.handed_off = 0
        """Recipients passed to a local next hop (see `Delivery.handoff`): counted there."""

    def add(self, msg: Message) -> None:
        """Account for one finished message."""
        self.messages += 1
        for rcpt in msg.recipients.values():
            if rcpt.outcome is Outcome.DELIVERED and rcpt.attempts[-1].handoff:
                self.handed_off += 1
                continue
            domain = rcpt.domain
            stats = self.destinations.get(domain)
            if stats is None:
                stats = self.destinations[domain] = DestinationStats(domain)
            stats.recipients += 1
            outcome = rcpt.outcome
            if outcome is Outcome.DELIVERED:
                stats.delivered += 1
            elif outcome is Outcome.BOUNCED:
                stats.bounced += 1
            elif outcome is Outcome.EXPIRED:
                stats.expired += 1
            elif outcome is Outcome.HELD:
                stats.held += 1
            else:
                stats.unknown += 1
            if not rcpt.deferrals:
                continue
            stats.recipients_deferred += 1
            stats.deferrals += rcpt.deferrals
            if outcome is Outcome.DELIVERED:
                stats.delivered_after_delay += 1
            held = held_seconds(msg, rcpt)
            if held is not None:
                stats.held_times.append(held)
            seen: set[str] = set()
            for attempt in rcpt.attempts:
                if attempt.status is not Status.DEFERRED:
                    continue
                key = reason_key(attempt.reply or "(no reason logged)")
                reason = stats.reasons.get(key)
                if reason is None:
                    reason = stats.reasons[key] = ReasonStat(key)
                    reason.example = attempt.reply
                    reason.example_ref = attempt.ref
                reason.count += 1
                if key not in seen:
                    seen.add(key)
                    reason.recipients += 1

    def ranked(self, include_all: bool = False) -> list[DestinationStats]:
        """Destinations by impact; only troubled ones unless `include_all`."""
        rows = [d for d in self.destinations.values() if include_all or d.troubled]
        rows.sort(key=lambda d: (-d.impact, -d.held, -d.recipients_deferred, d.domain))
        return rows

    def totals(self) -> DestinationStats:
        """All destinations added up (held times pooled)."""
        total = DestinationStats("(all)")
        for d in self.destinations.values():
            total.recipients += d.recipients
            total.delivered += d.delivered
            total.recipients_deferred += d.recipients_deferred
            total.delivered_after_delay += d.delivered_after_delay
            total.bounced += d.bounced
            total.expired += d.expired
            total.held += d.held
            total.unknown += d.unknown
            total.deferrals += d.deferrals
            total.held_times.extend(d.held_times)
        return total
