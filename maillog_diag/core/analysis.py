"""Per-destination delay statistics, built one finished message at a time.

Definitions (the README's JSON contract repeats them):

* A recipient is *delayed* when at least one attempt for it was deferred.
* Its *held time* runs from the message's arrival in the queue to its final outcome
  (delivered, bounced, expired), or to the last log time when it is still held. It is None
  when the arrival is unknown or the outcome is unknown.
* `held_seconds` percentiles cover the delayed recipients of a destination (nearest-rank
  method: p50 is the smallest value with at least half of the values at or below it).
* Destinations are sorted by impact: the sum of held seconds of their delayed recipients,
  then the number still held, then the number delayed; destinations whose only delays were
  forced splits (the receiver asking for smaller transactions) come after the failing ones.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maillog_diag.core.causes import Cause
from maillog_diag.core.classify import Classification
from maillog_diag.core.counts import SortedCounts
from maillog_diag.core.diagnosis import RecipientDiagnosis, ScheduleCheck, diagnose_message
from maillog_diag.core.hints import HintKind
from maillog_diag.core.hours import HourCounts
from maillog_diag.core.model import (
    Attempt,
    LineRef,
    Message,
    Outcome,
    Recipient,
    Status,
    record_reduce,
)
from maillog_diag.core.quantiles import HeldTimes
from maillog_diag.core.reasons import reason_key

_FINAL_OUTCOMES = frozenset({Outcome.DELIVERED, Outcome.BOUNCED, Outcome.EXPIRED})


def _new_counter() -> Counter[Any]:
    """An empty `Counter`, made without `Counter.__init__`: that pure-Python method (and the
    `update(None)` it calls) does nothing for an empty one but cost about 5,400 instructions,
    and every new destination's row makes nine of them (a tenth of a 40,000-line Exim
    report's closing of messages). A `Counter` holds no state beyond its dict, which
    `dict.__new__` makes complete."""
    return Counter.__new__(Counter)


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
    suspended: int = 0
    """Of `count`, deferrals the MTA logged without trying (they rank after real replies)."""
    example_repeat: bool = False
    """Whether the example is a repeat by the MTA (a real reply replaces it when seen)."""

    def offer(
        self, reply: str | None, ref: LineRef | None, repeat: bool, order: dict[str, int]
    ) -> None:
        """Keep the better example: a real reply over a repeat, then the earliest line."""
        if (
            self.example is None
            or (self.example_repeat and not repeat)
            or (self.example_repeat == repeat and _earlier(ref, self.example_ref, order))
        ):
            self.example, self.example_ref, self.example_repeat = reply, ref, repeat


@dataclass(slots=True)
class FinalReason:
    """Why recipients at one destination ended bounced or expired: the condensed reply of
    the failure that ended them (for an expiry, the last deferral before it), its cause,
    how many recipients, and the first real example."""

    key: str
    cause: Cause
    count: int = 0
    example: str | None = None
    example_ref: LineRef | None = None


CauseKey = tuple[Cause, str | None, str | None]
"""(cause, provider, token)."""


@dataclass(slots=True)
class CauseStat:
    """One cause (with provider and token) at one destination, or across all of them."""

    cause: Cause
    provider: str | None
    token: str | None
    count: int = 0
    """Deferred attempts the receiver (or the network) answered with this cause."""
    recipients: int = 0
    suspended: int = 0
    """Deferrals the MTA logged without trying, repeating this cause (not counted in `count`)."""
    hints: Counter[int] = field(default_factory=_new_counter)
    """Retry intervals (seconds) of the receiver's own replies (repeats by the MTA left out):
    their median is the interval the reports show. (Files of an older format also hold a
    `stated` table, which then held these counts while `hints` counted the repeats too:
    they are read into this one, see `summary._RENAMED`.)"""
    explicit_hints: int = 0
    """Of `count`, replies that stated their retry interval (`HintKind.EXPLICIT`)."""
    documented_hints: int = 0
    """Of `count`, replies whose interval is the receiver's documented one."""
    vague_hints: int = 0
    """Of `count`, replies that asked for a retry later without saying when."""
    no_hints: int = 0
    """Of `count`, replies without a retry hint. (Four fields, not a table of kinds: a
    cause nearly always meets one kind, and a table of one entry cost about 220 bytes a
    cause. Files of an older format hold `hint_kinds`, read into these:
    `summary._UPGRADED`.)"""
    domains: Counter[str] | None = None
    """Deferrals (`count` + `suspended`) by recipient domain: kept only by the causes across
    all destinations, whose `why` listing ranks their domains. A destination's own cause
    has None: its table would hold one entry, the destination's own (about 220 bytes a
    cause, of which the 5M-line benchmark log holds some 3,000)."""
    detail: str | None = None
    example: str | None = None
    example_ref: LineRef | None = None

    def add(
        self, attempt: Attempt, cls: Classification, domain: str, order: dict[str, int]
    ) -> None:
        """Count one deferred attempt (the example is the earliest line seen). Only attempts
        that reached the receiver vote for the typical retry hint: a repeat received none."""
        if self.domains is not None:
            self.domains[domain] += 1
        if attempt.suspended:
            self.suspended += 1
        else:
            self.count += 1
            kind = cls.hint.kind
            if kind is HintKind.EXPLICIT:
                self.explicit_hints += 1
            elif kind is HintKind.DOCUMENTED:
                self.documented_hints += 1
            elif kind is HintKind.VAGUE:
                self.vague_hints += 1
            else:
                self.no_hints += 1
            if cls.hint.seconds is not None:
                self.hints[cls.hint.seconds] += 1  # what the receiver stated
        if self.example is None or _earlier(attempt.ref, self.example_ref, order):
            self.example = attempt.reply
            self.example_ref = attempt.ref
            self.detail = cls.detail

    def merge(self, other: CauseStat, order: dict[str, int]) -> None:
        """Add another process's counts for the same cause (see `ReportBuilder.merge`)."""
        self.count += other.count
        self.recipients += other.recipients
        self.suspended += other.suspended
        _add_counts(self.hints, other.hints)
        self.explicit_hints += other.explicit_hints
        self.documented_hints += other.documented_hints
        self.vague_hints += other.vague_hints
        self.no_hints += other.no_hints
        if self.domains is not None and other.domains:
            self.domains.update(other.domains)
        if _earlier(other.example_ref, self.example_ref, order):
            self.example, self.example_ref, self.detail = (
                other.example,
                other.example_ref,
                other.detail,
            )

    @property
    def hint_kinds(self) -> Counter[str]:
        """Deferrals of `count` by how their retry hint was obtained (`HintKind` values;
        kinds not met are left out)."""
        kinds: Counter[str] = Counter()
        for kind, n in (
            (HintKind.EXPLICIT, self.explicit_hints),
            (HintKind.DOCUMENTED, self.documented_hints),
            (HintKind.VAGUE, self.vague_hints),
            (HintKind.NONE, self.no_hints),
        ):
            if n:
                kinds[kind.value] = n
        return kinds

    @property
    def typical_hint(self) -> tuple[int | None, str]:
        """The most common stated interval (seconds) and the most common hint kind."""
        seconds = min(self.hints.items(), key=lambda kv: (-kv[1], kv[0]))[0] if self.hints else None
        kinds = self.hint_kinds
        kind = min(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[0] if kinds else "none"
        return seconds, kind


@dataclass(slots=True)
class ScheduleStats:
    """The MTA's retries against the receivers' stated intervals, at one destination.

    The intervals are kept as counts per value (seconds -> how many), not one list item per
    deferral: the reports show only their medians, which the counts give exactly
    (`median`), and a destination retried for weeks keeps as many entries as distinct
    intervals, not as many as deferrals."""

    early: int = 0
    wasted: int = 0
    late: int = 0
    on_time: int = 0
    pending: int = 0
    avoidable_seconds: float = 0.0
    hints: Counter[int] = field(default_factory=_new_counter)
    """The receivers' stated intervals, seconds (every hinted deferral)."""
    gaps: SortedCounts = field(default_factory=SortedCounts)
    """Seconds from each compared deferral to the next attempt (counts per value in sorted
    arrays: the gaps take a new value at almost every retry of a long log, 17,000 more
    values on the 5M-line bench log than on the 1M-line one, 75 bytes each in a `Counter`)."""
    early_gaps: SortedCounts = field(default_factory=SortedCounts)
    late_gaps: SortedCounts = field(default_factory=SortedCounts)

    def __init__(
        self,
        early: int = 0,
        wasted: int = 0,
        late: int = 0,
        on_time: int = 0,
        pending: int = 0,
        avoidable_seconds: float = 0.0,
        hints: Counter[int] | None = None,
        gaps: SortedCounts | None = None,
        early_gaps: SortedCounts | None = None,
        late_gaps: SortedCounts | None = None,
    ) -> None:
        # (written out for the compiled build: see `model.record_reduce`)
        self.early = early
        self.wasted = wasted
        self.late = late
        self.on_time = on_time
        self.pending = pending
        self.avoidable_seconds = avoidable_seconds
        self.hints = _new_counter() if hints is None else hints
        self.gaps = SortedCounts() if gaps is None else gaps
        self.early_gaps = SortedCounts() if early_gaps is None else early_gaps
        self.late_gaps = SortedCounts() if late_gaps is None else late_gaps

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)

    def add(self, check: ScheduleCheck) -> None:
        """Count one hinted deferral."""
        self.hints[check.hint_seconds] += 1  # what the receiver asked, all the same
        if check.verdict == "pending" or check.next_attempt_at is None:
            self.pending += 1
            return
        gap = check.next_attempt_at - check.deferred_at
        self.gaps.add(gap)
        if check.verdict == "early":
            self.early += 1
            self.wasted += check.wasted
            self.early_gaps.add(gap)
        elif check.verdict == "late":
            self.late += 1
            self.avoidable_seconds += check.avoidable_seconds
            self.late_gaps.add(gap)
        else:
            self.on_time += 1

    def merge(self, other: ScheduleStats) -> None:
        """Add another process's checks."""
        self.early += other.early
        self.wasted += other.wasted
        self.late += other.late
        self.on_time += other.on_time
        self.pending += other.pending
        self.avoidable_seconds += other.avoidable_seconds
        _add_counts(self.hints, other.hints)
        self.gaps.update(other.gaps)
        self.early_gaps.update(other.early_gaps)
        self.late_gaps.update(other.late_gaps)

    @property
    def compared(self) -> int:
        """Hinted deferrals followed by another attempt in the log."""
        return self.early + self.late + self.on_time


def _add_counts(mine: Counter[Any], other: Counter[Any]) -> None:
    """`mine.update(other)` (counts added), without the call for an empty `other`."""
    if other:
        mine.update(other)


@dataclass(slots=True)
class HeldRecipient:
    """A recipient still queued when the log ends (times are POSIX seconds)."""

    address: str
    domain: str
    mta: str
    host: str
    queue_id: str
    since: float | None
    held_seconds: float | None
    deferrals: int
    last_attempt: float | None
    last_cause: Classification | None
    last_reply: str | None
    retry_after: float | None
    on_hold: bool = False
    """Put on hold by the admin or a content check, not waiting for a retry."""


@dataclass(frozen=True, slots=True)
class OnHold:
    """A message still on hold when the log (or the window) ends: since when (POSIX
    seconds), for how long in all (seconds, earlier holds of it included), why, and the
    recipients the log names for it (none when it was held before any delivery)."""

    mta: str
    host: str
    queue_id: str
    sender: str | None
    since: float
    hold_seconds: float
    reason: str | None
    recipients: tuple[str, ...]


def on_hold_seconds(msg: Message) -> float:
    """Seconds a message spent on hold: ended holds, plus the open one up to the end of the
    log (`log_end`) when it is still on hold."""
    total = msg.hold_seconds
    if msg.hold_started is not None and msg.log_end is not None:
        total += max(0.0, msg.log_end - msg.hold_started)
    return total


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
    """Deferred attempts (not recipients): `deferrals_tried` plus `deferrals_repeated`."""
    deferrals_repeated: int = 0
    """Deferrals the MTA logged without trying (Postfix `delivery temporarily suspended`,
    Exim `retry time not reached`, Sendmail's host-status cache): a repeat of an earlier
    failure, not an attempt. Kept apart so that the figure means the same for all MTAs."""
    held_times: HeldTimes = field(default_factory=HeldTimes)
    """Held times (seconds) of the delayed recipients: exact while few, else sketched."""
    reasons: dict[str, ReasonStat] = field(default_factory=dict)
    causes: dict[CauseKey, CauseStat] = field(default_factory=dict)
    split_deferrals: int = 0
    """Deferrals that were forced splits (others accepted in the same transaction)."""
    split_recipients: int = 0
    split_delay_seconds: float = 0.0
    """Delay the forced splits added: from each split deferral to the final outcome."""
    other_deferrals: int = 0
    """Deferrals for any cause other than a forced split (real attempts only)."""
    schedule: ScheduleStats = field(default_factory=ScheduleStats)
    on_hold: int = 0
    """Recipients still queued at the end whose message is on hold (admin or content check)."""
    final_reasons: dict[tuple[str, Cause], FinalReason] = field(default_factory=dict)
    """Why recipients ended bounced or expired, by (reason, cause)."""
    mtas: Counter[str] = field(default_factory=_new_counter)
    hourly_deferrals: HourCounts = field(default_factory=HourCounts)
    """Deferred attempts per hour (key: POSIX hour number, `int(time // 3600)`)."""
    hourly_held: HourCounts = field(default_factory=HourCounts)
    """Delayed recipients in the queue during each hour (from their first deferral to
    their final outcome or the end of the log), same keys."""
    deferrals_by_mta: Counter[tuple[str, Cause, bool]] = field(default_factory=_new_counter)
    """Deferred attempts by (mta, cause, suspended): the causes' counts split by the MTA
    that logged them (`suspended`: the MTA repeated an earlier failure without trying)."""
    delivery_seconds_total: float = 0.0
    """Time in queue summed over the delivered recipients whose arrival is known (delayed
    or not): with `delivery_timed`, the average delivery time of `report --all`."""
    delivery_timed: int = 0
    delivery_seconds_max: float = 0.0
    bytes_delivered: int = 0
    """Message size times delivered recipients (as pflogsumm counts bytes delivered)."""
    senders: Counter[str] = field(default_factory=_new_counter)
    """Sender domains of the delayed recipients (whose mail this destination delays)."""

    def __init__(
        self,
        domain: str,
        recipients: int = 0,
        delivered: int = 0,
        recipients_deferred: int = 0,
        delivered_after_delay: int = 0,
        bounced: int = 0,
        expired: int = 0,
        held: int = 0,
        unknown: int = 0,
        deferrals: int = 0,
        deferrals_repeated: int = 0,
        held_times: HeldTimes | None = None,
        reasons: dict[str, ReasonStat] | None = None,
        causes: dict[CauseKey, CauseStat] | None = None,
        split_deferrals: int = 0,
        split_recipients: int = 0,
        split_delay_seconds: float = 0.0,
        other_deferrals: int = 0,
        schedule: ScheduleStats | None = None,
        on_hold: int = 0,
        final_reasons: dict[tuple[str, Cause], FinalReason] | None = None,
        mtas: Counter[str] | None = None,
        hourly_deferrals: HourCounts | None = None,
        hourly_held: HourCounts | None = None,
        deferrals_by_mta: Counter[tuple[str, Cause, bool]] | None = None,
        delivery_seconds_total: float = 0.0,
        delivery_timed: int = 0,
        delivery_seconds_max: float = 0.0,
        bytes_delivered: int = 0,
        senders: Counter[str] | None = None,
    ) -> None:
        # (written out for the compiled build: see `model.record_reduce`)
        self.domain = domain
        self.recipients = recipients
        self.delivered = delivered
        self.recipients_deferred = recipients_deferred
        self.delivered_after_delay = delivered_after_delay
        self.bounced = bounced
        self.expired = expired
        self.held = held
        self.unknown = unknown
        self.deferrals = deferrals
        self.deferrals_repeated = deferrals_repeated
        self.held_times = HeldTimes() if held_times is None else held_times
        self.reasons = {} if reasons is None else reasons
        self.causes = {} if causes is None else causes
        self.split_deferrals = split_deferrals
        self.split_recipients = split_recipients
        self.split_delay_seconds = split_delay_seconds
        self.other_deferrals = other_deferrals
        self.schedule = ScheduleStats() if schedule is None else schedule
        self.on_hold = on_hold
        self.final_reasons = {} if final_reasons is None else final_reasons
        self.mtas = _new_counter() if mtas is None else mtas
        self.hourly_deferrals = HourCounts() if hourly_deferrals is None else hourly_deferrals
        self.hourly_held = HourCounts() if hourly_held is None else hourly_held
        self.deferrals_by_mta = _new_counter() if deferrals_by_mta is None else deferrals_by_mta
        self.delivery_seconds_total = delivery_seconds_total
        self.delivery_timed = delivery_timed
        self.delivery_seconds_max = delivery_seconds_max
        self.bytes_delivered = bytes_delivered
        self.senders = _new_counter() if senders is None else senders

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)

    def merge(self, other: DestinationStats, order: dict[str, int]) -> None:
        """Add another process's figures for the same destination.

        Written out field by field, and an empty `Counter` of `other` (most of them, for a
        destination without delays) is not walked: the loop over field names and the
        calls to `Counter.update` were most of what merging a slice's 2,300 destinations
        cost (the builders of the 1M-line bench log's six slices: 0.274 CPU s, now 0.169,
        least of 3 runs)."""
        self.recipients += other.recipients
        self.delivered += other.delivered
        self.recipients_deferred += other.recipients_deferred
        self.delivered_after_delay += other.delivered_after_delay
        self.bounced += other.bounced
        self.expired += other.expired
        self.held += other.held
        self.unknown += other.unknown
        self.deferrals += other.deferrals
        self.deferrals_repeated += other.deferrals_repeated
        self.on_hold += other.on_hold
        self.split_deferrals += other.split_deferrals
        self.split_recipients += other.split_recipients
        self.split_delay_seconds += other.split_delay_seconds
        self.other_deferrals += other.other_deferrals
        self.delivery_seconds_total += other.delivery_seconds_total
        self.delivery_timed += other.delivery_timed
        self.bytes_delivered += other.bytes_delivered
        self.delivery_seconds_max = max(self.delivery_seconds_max, other.delivery_seconds_max)
        _add_counts(self.senders, other.senders)
        self.held_times.merge(other.held_times)
        _add_counts(self.mtas, other.mtas)
        if other.hourly_deferrals:
            self.hourly_deferrals.update(other.hourly_deferrals)
        if other.hourly_held:
            self.hourly_held.update(other.hourly_held)
        _add_counts(self.deferrals_by_mta, other.deferrals_by_mta)
        self.schedule.merge(other.schedule)
        for key, reason in other.reasons.items():
            mine = self.reasons.get(key)
            if mine is None:
                self.reasons[key] = reason
                continue
            mine.count += reason.count
            mine.recipients += reason.recipients
            mine.suspended += reason.suspended
            mine.offer(reason.example, reason.example_ref, reason.example_repeat, order)
        for ckey, cause in other.causes.items():
            existing = self.causes.get(ckey)
            if existing is None:
                self.causes[ckey] = cause
            else:
                existing.merge(cause, order)
        for fkey, final in other.final_reasons.items():
            known = self.final_reasons.get(fkey)
            if known is None:
                self.final_reasons[fkey] = final
                continue
            known.count += final.count
            if _earlier(final.example_ref, known.example_ref, order):
                known.example, known.example_ref = final.example, final.example_ref

    def top_final_reasons(self) -> list[FinalReason]:
        """Why recipients ended bounced or expired, most recipients first."""
        return sorted(self.final_reasons.values(), key=lambda f: (-f.count, f.key, f.cause))

    @property
    def deferrals_tried(self) -> int:
        """Deferrals that were attempts: the receiver answered, or connecting or resolving
        failed (the Deferrals column and `check` count these)."""
        return self.deferrals - self.deferrals_repeated

    @property
    def impact(self) -> float:
        """Recipient-seconds of delay: the sort key of the report."""
        return self.held_times.total

    @property
    def troubled(self) -> bool:
        """Whether anything went wrong here (delay, bounce, expiry, still held, unknown)."""
        return bool(
            self.recipients_deferred or self.bounced or self.expired or self.held or self.unknown
        )

    def held_summary(self) -> dict[str, float | None]:
        """`{"p50", "p95", "max"}` of the held times of delayed recipients, in seconds."""
        held = self.held_times
        return {"p50": held.quantile(0.50), "p95": held.quantile(0.95), "max": held.largest}

    def top_reasons(self, limit: int = 3) -> list[ReasonStat]:
        """The most frequent reasons: the receivers' real replies first (most deferrals
        with an attempt of their own), then repeats by the MTA (ties: alphabetical)."""
        return sorted(
            self.reasons.values(), key=lambda r: (-(r.count - r.suspended), -r.count, r.key)
        )[:limit]

    def top_causes(self, limit: int = 3) -> list[CauseStat]:
        """The leading causes (with provider and token): most deferrals by the receiver first,
        then most repeats by the MTA."""
        return sorted(
            self.causes.values(),
            key=lambda c: (
                -c.count,
                -c.suspended,
                c.cause.value,
                c.provider or "",
                c.token or "",
            ),
        )[:limit]

    @property
    def forced_split_only(self) -> bool:
        """Every delay here was a forced split: the receiver asked for smaller transactions;
        the destination itself did not fail."""
        return (
            self.split_deferrals > 0
            and self.other_deferrals == 0
            and not (self.bounced or self.expired or self.held or self.unknown)
        )


class ReportBuilder:
    """Accumulates finished messages into per-destination statistics (streaming).

    `order` ranks input names (first input 0); examples are the earliest lines in it.
    """

    def __init__(self, order: dict[str, int] | None = None, by: str = "destination") -> None:
        if by not in GROUPINGS:
            raise ValueError(f"cannot group by {by!r} (use {', '.join(GROUPINGS)})")
        self.order: dict[str, int] = order or {}
        self.by = by
        """What `groups` are keyed by (see `GROUPINGS`); `destinations` are always kept."""
        self.destinations: dict[str, DestinationStats] = {}
        self.groups: dict[str, DestinationStats] = {}
        self.bytes_received = 0
        """Sizes of the messages counted in `messages`, added up (where logged)."""
        self.sized = 0
        """Messages counted in `messages` whose size was logged."""
        self.rejected = 0
        """Messages rejected or discarded while being received (after a queue id)."""
        self.hourly_received: Counter[int] = Counter()
        """Messages that arrived in each hour (POSIX hour number)."""
        self.hourly_delivered: Counter[int] = Counter()
        """Recipients delivered in each hour."""
        self.messages = 0
        self.handed_off = 0
        """Recipients passed to a local next hop (see `Delivery.handoff`): counted there."""
        self.causes: dict[Cause, CauseStat] = {}
        self.held_mail: list[HeldRecipient] = []
        self.final_held: Counter[int] = Counter()
        """Recipients with a final outcome (delivered, bounced, expired; delayed or not)
        by held time rounded up to whole seconds: `final_held[n]` held more than n - 1 and
        at most n seconds. Exact for any bound of whole seconds (a histogram's buckets)."""
        self.final_held_sum = 0.0
        """The sum of those held times, seconds."""
        self.last_delivered: float | None = None
        """The latest delivery to a destination (POSIX seconds), None when none was seen."""
        self.on_hold: list[OnHold] = []

    def add(self, msg: Message, carried: frozenset[str] = frozenset()) -> None:
        """Account for one finished message.

        `carried` names recipients deferred before a report's window and still queued when
        it began (see `window.MessageFilter.clip`): they count as delayed even without a
        deferral inside the window. `messages` counts messages with at least one recipient
        that was not merely handed to a local next hop (Sendmail's submission queue).
        """
        if msg.rejected is not None:
            self.rejected += 1
        if msg.hold_started is not None and msg.log_end is not None:
            self.on_hold.append(
                OnHold(
                    msg.mta,
                    msg.host,
                    msg.queue_id,
                    msg.sender,
                    msg.hold_started,
                    on_hold_seconds(msg),
                    msg.hold_reason,
                    tuple(msg.recipients),
                )
            )
        if not msg.recipients:
            return
        if (
            not carried
            and msg.hold_started is None
            and not msg.hold_seconds
            and self.by == "destination"
            and self._add_clean(msg)
        ):
            return
        counted = False  # a submission copy handed whole to the local MTA is not counted
        troubled = False  # an attempt that failed, or mail still held: diagnosed
        for r in msg.recipients.values():
            outcome = r.outcome
            if not (outcome is Outcome.DELIVERED and r.attempts[-1].handoff):
                counted = True
            if outcome is Outcome.HELD:
                troubled = True
            elif not troubled:
                for a in r.attempts:
                    if a.status is not Status.SENT:
                        troubled = True
                        break
        if counted:
            self.messages += 1
            if msg.size is not None:
                self.bytes_received += msg.size
                self.sized += 1
            if msg.arrived is not None:
                self.hourly_received[int(msg.arrived // 3600)] += 1
        diagnoses: dict[str, RecipientDiagnosis] | None = None
        if troubled:
            diagnoses = diagnose_message(msg)
        for address, rcpt in msg.recipients.items():
            if rcpt.outcome is Outcome.DELIVERED and rcpt.attempts[-1].handoff:
                self.handed_off += 1
                continue
            if rcpt.outcome is Outcome.DELIVERED and rcpt.final_time is not None:
                self.hourly_delivered[int(rcpt.final_time // 3600)] += 1
            diag = diagnoses.get(address) if diagnoses is not None else None
            was_on_hold = msg.hold_started is not None or msg.hold_seconds > 0
            deferred = bool(rcpt.deferrals) or address in carried or was_on_hold
            domain = rcpt.domain
            stats = self.destinations.get(domain)
            if stats is None:
                stats = self.destinations[domain] = DestinationStats(domain)
            if rcpt.outcome in _FINAL_OUTCOMES:
                self._final(msg, rcpt)
            self._account(stats, msg, rcpt, diag, deferred, held_list=True)
            if self.by != "destination":
                key = group_key(self.by, msg, rcpt)
                group = self.groups.get(key)
                if group is None:
                    group = self.groups[key] = DestinationStats(key)
                self._account(group, msg, rcpt, diag, deferred, held_list=False)

    def _add_clean(self, msg: Message) -> bool:
        """Account for a message every recipient of which was delivered at every attempt
        (most mail): the figures `add` would give, without its general bookkeeping. False,
        with nothing counted, for any other message."""
        for r in msg.recipients.values():
            if r.outcome is not Outcome.DELIVERED:
                return False
            for a in r.attempts:
                if a.status is not Status.SENT:
                    return False
        arrived = msg.arrived
        size = msg.size
        counted = False
        destinations = self.destinations
        hourly_delivered = self.hourly_delivered
        final_held = self.final_held
        for rcpt in msg.recipients.values():
            if rcpt.attempts[-1].handoff:
                self.handed_off += 1
                continue
            counted = True
            final = rcpt.final_time
            domain = rcpt.domain
            stats = destinations.get(domain)
            if stats is None:
                stats = destinations[domain] = DestinationStats(domain)
            stats.recipients += 1
            stats.delivered += 1
            if size is not None:
                stats.bytes_delivered += size
            stats.mtas[msg.mta] += 1
            if final is None:
                continue
            hourly_delivered[int(final // 3600)] += 1
            last = self.last_delivered
            if last is None or final > last:
                self.last_delivered = final
            if arrived is not None:
                took = final - arrived
                if took < 0.0:
                    took = 0.0
                final_held[math.ceil(took)] += 1
                self.final_held_sum += took
                stats.delivery_seconds_total += took
                stats.delivery_timed += 1
                if took > stats.delivery_seconds_max:
                    stats.delivery_seconds_max = took
        if counted:
            self.messages += 1
            if size is not None:
                self.bytes_received += size
                self.sized += 1
            if arrived is not None:
                self.hourly_received[int(arrived // 3600)] += 1
        return True

    def _account(
        self,
        stats: DestinationStats,
        msg: Message,
        rcpt: Recipient,
        diag: RecipientDiagnosis | None,
        deferred: bool,
        *,
        held_list: bool,
    ) -> None:
        """Count one recipient in one row (a destination, or a group of `--by`)."""
        stats.recipients += 1
        outcome = rcpt.outcome
        if outcome is Outcome.DELIVERED:
            stats.delivered += 1
            if msg.size is not None:
                stats.bytes_delivered += msg.size
            took = held_seconds(msg, rcpt)
            if took is not None:
                stats.delivery_seconds_total += took
                stats.delivery_timed += 1
                stats.delivery_seconds_max = max(stats.delivery_seconds_max, took)
        elif outcome is Outcome.BOUNCED:
            stats.bounced += 1
        elif outcome is Outcome.EXPIRED:
            stats.expired += 1
        elif outcome is Outcome.HELD:
            stats.held += 1
        else:
            stats.unknown += 1
        stats.mtas[msg.mta] += 1
        if diag is not None:
            self._diagnosis(msg, rcpt, diag, stats, held_list=held_list)
            if outcome is Outcome.BOUNCED or outcome is Outcome.EXPIRED:
                _add_final_reason(stats, rcpt, diag.classifications, self.order)
        if outcome is Outcome.HELD and msg.hold_started is not None:
            stats.on_hold += 1
        if not deferred:
            return
        stats.senders[sender_domain(msg.sender)] += 1
        _hourly(msg, rcpt, stats)
        stats.recipients_deferred += 1
        stats.deferrals += rcpt.deferrals
        stats.deferrals_repeated += repeated_deferrals(rcpt)
        if outcome is Outcome.DELIVERED:
            stats.delivered_after_delay += 1
        held = held_seconds(msg, rcpt)
        if held is not None:
            stats.held_times.add(held)
        seen: set[str] = set()
        last_key: str | None = None
        for attempt in rcpt.attempts:
            if attempt.status is not Status.DEFERRED:
                continue
            original = _original(attempt.reply)
            if attempt.suspended and original == attempt.reply and last_key is not None:
                # Exim's "retry time not reached", Sendmail's bare "Deferred": the MTA
                # repeating the last real failure without naming it counts under it, as
                # Postfix's "delivery temporarily suspended: X" counts under X.
                key = last_key
            elif attempt.suspended and _bare(original):
                key = REPEATED_WITHOUT_REPLY
            else:
                key = reason_key(original or "(no reason logged)")
            if not attempt.suspended:
                last_key = key
            reason = stats.reasons.get(key)
            if reason is None:
                reason = stats.reasons[key] = ReasonStat(key)
            reason.offer(attempt.reply, attempt.ref, attempt.suspended, self.order)
            reason.count += 1
            if attempt.suspended:
                reason.suspended += 1
            if key not in seen:
                seen.add(key)
                reason.recipients += 1

    def _final(self, msg: Message, rcpt: Recipient) -> None:
        """Account for one recipient at its final outcome: held time, last delivery."""
        held = held_seconds(msg, rcpt)
        if held is not None:
            self.final_held[math.ceil(held)] += 1
            self.final_held_sum += held
        if rcpt.outcome is Outcome.DELIVERED and rcpt.final_time is not None:
            if self.last_delivered is None or rcpt.final_time > self.last_delivered:
                self.last_delivered = rcpt.final_time

    def _diagnosis(
        self,
        msg: Message,
        rcpt: Recipient,
        diag: RecipientDiagnosis,
        stats: DestinationStats,
        *,
        held_list: bool = True,
    ) -> None:
        domain = stats.domain
        seen: set[CauseKey] = set()
        for attempt, cls in zip(rcpt.attempts, diag.classifications, strict=True):
            if attempt.status is not Status.DEFERRED:
                continue
            if cls is None:
                # A repeat by the MTA with no cause of its own nor an earlier one to take:
                # still a deferral (the metrics' counters add up to the report's).
                stats.deferrals_by_mta[_mta_key(msg.mta, Cause.UNKNOWN, attempt.suspended)] += 1
                continue
            key: CauseKey = (cls.cause, cls.provider, cls.token)
            cstat = stats.causes.get(key)
            if cstat is None:
                cstat = stats.causes[key] = CauseStat(*key)
            cstat.add(attempt, cls, domain, self.order)
            stats.deferrals_by_mta[_mta_key(msg.mta, cls.cause, attempt.suspended)] += 1
            gstat = None
            if held_list:  # causes across all destinations: counted once, by destination
                gstat = self.causes.get(cls.cause)
                if gstat is None:
                    gstat = self.causes[cls.cause] = CauseStat(
                        cls.cause, None, None, domains=_new_counter()
                    )
                gstat.add(attempt, cls, domain, self.order)
            if key not in seen:
                seen.add(key)
                cstat.recipients += 1
                if gstat is not None:
                    gstat.recipients += 1
            if not attempt.suspended and cls.cause is not Cause.FORCED_SPLIT:
                stats.other_deferrals += 1
        if diag.split_deferrals:
            stats.split_deferrals += diag.split_deferrals
            stats.split_recipients += 1
            stats.split_delay_seconds += diag.split_delay_seconds
            # forced-split deferrals that were not part of a detected split still count
        stats.other_deferrals += (
            sum(
                1
                for a, c in zip(rcpt.attempts, diag.classifications, strict=True)
                if c is not None
                and c.cause is Cause.FORCED_SPLIT
                and a.status is Status.DEFERRED
                and not a.suspended
            )
            - diag.split_deferrals
        )
        for check in diag.checks:
            stats.schedule.add(check)
        if rcpt.outcome is Outcome.HELD and held_list:
            last = next((a for a in reversed(rcpt.attempts) if not a.suspended), None)
            self.held_mail.append(
                HeldRecipient(
                    rcpt.address,
                    domain,
                    msg.mta,
                    msg.host,
                    msg.queue_id,
                    msg.arrived,
                    held_seconds(msg, rcpt),
                    rcpt.deferrals,
                    last.time if last is not None else None,
                    diag.last_cause,
                    last.reply if last is not None else None,
                    diag.retry_after,
                    msg.hold_started is not None,
                )
            )

    def merge(self, other: ReportBuilder, order: dict[str, int]) -> None:
        """Fold in the builder of another partition of the same inputs (`order` ranks the
        input names, to keep the earliest real example of each reason and cause)."""
        self.messages += other.messages
        self.handed_off += other.handed_off
        self.held_mail += other.held_mail
        self.final_held.update(other.final_held)
        self.final_held_sum += other.final_held_sum
        if other.last_delivered is not None and (
            self.last_delivered is None or other.last_delivered > self.last_delivered
        ):
            self.last_delivered = other.last_delivered
        self.bytes_received += other.bytes_received
        self.sized += other.sized
        self.rejected += other.rejected
        self.hourly_received.update(other.hourly_received)
        self.hourly_delivered.update(other.hourly_delivered)
        for mine_rows, other_rows in (
            (self.destinations, other.destinations),
            (self.groups, other.groups),
        ):
            for domain, stats in other_rows.items():
                mine = mine_rows.get(domain)
                if mine is None:
                    mine_rows[domain] = stats
                else:
                    mine.merge(stats, order)
        self.on_hold += other.on_hold
        for cause, cstat in other.causes.items():
            existing = self.causes.get(cause)
            if existing is None:
                self.causes[cause] = cstat
            else:
                existing.merge(cstat, order)

    def ranked(self, include_all: bool = False, *, groups: bool = False) -> list[DestinationStats]:
        """Destinations (or the `--by` groups) by impact; only troubled ones unless
        `include_all`."""
        source = self.groups if groups else self.destinations
        rows = [d for d in source.values() if include_all or d.troubled]
        rows.sort(
            key=lambda d: (
                d.forced_split_only,
                -d.impact,
                -d.held,
                -d.recipients_deferred,
                d.domain,
            )
        )
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
            total.deferrals_repeated += d.deferrals_repeated
            total.on_hold += d.on_hold
            total.held_times.merge(d.held_times)
            total.split_deferrals += d.split_deferrals
            total.split_recipients += d.split_recipients
            total.split_delay_seconds += d.split_delay_seconds
            total.other_deferrals += d.other_deferrals
            total.hourly_deferrals.update(d.hourly_deferrals)
            total.hourly_held.update(d.hourly_held)
            total.deferrals_by_mta.update(d.deferrals_by_mta)
            total.delivery_seconds_total += d.delivery_seconds_total
            total.delivery_timed += d.delivery_timed
            total.delivery_seconds_max = max(total.delivery_seconds_max, d.delivery_seconds_max)
            total.bytes_delivered += d.bytes_delivered
            total.senders.update(d.senders)
            for fkey, f in d.final_reasons.items():
                known = total.final_reasons.get(fkey)
                if known is None:
                    total.final_reasons[fkey] = FinalReason(
                        f.key, f.cause, f.count, f.example, f.example_ref
                    )
                else:
                    known.count += f.count
                    if _earlier(f.example_ref, known.example_ref, self.order):
                        known.example, known.example_ref = f.example, f.example_ref
        return total


GROUPINGS = ("destination", "sender", "relay", "instance")
"""What `report --by` groups recipients by: recipient domain, sender domain, the relay
(MX host) of the last attempt, or the MTA instance (host and program) that tried."""


def sender_domain(sender: str | None) -> str:
    """The sender's domain, lower-cased; `(null sender)` for bounces (`<>`),
    `(unknown sender)` when the log does not name one."""
    if sender is None:
        return "(unknown sender)"
    if not sender:
        return "(null sender)"
    _, at, domain = sender.rpartition("@")
    return (domain if at else sender).lower()


def relay_name(relay: str | None) -> str | None:
    """`mx.example.com` from `mx.example.com[192.0.2.1]:25` (the name, else the address:
    Sendmail logs `[192.0.2.1]` alone)."""
    if not relay or relay == "none":
        return None
    name, bracket, rest = relay.partition("[")
    if name:
        return name.lower()
    return rest.split("]", 1)[0] if bracket else relay


def group_key(by: str, msg: Message, rcpt: Recipient) -> str:
    """A recipient's row under `report --by` (see `GROUPINGS`)."""
    if by == "sender":
        return sender_domain(msg.sender)
    if by == "relay":
        for attempt in reversed(rcpt.attempts):
            host = relay_name(attempt.relay)
            if host is not None:
                return host
        return "(no relay)"
    program = next((a.program for a in reversed(rcpt.attempts) if a.program), None)
    instance = program.split("/", 1)[0] if program else msg.mta
    return f"{msg.host} {instance}"


MAX_HELD_HOURS = 24 * 45
"""Hours one held recipient adds to `hourly_held` at most (a log with a broken clock
must not make the report build millions of buckets)."""


def _hourly(msg: Message, rcpt: Recipient, stats: DestinationStats) -> None:
    """Add one delayed recipient to the per-hour counts of its destination."""
    for attempt in rcpt.attempts:
        if attempt.status is Status.DEFERRED:
            stats.hourly_deferrals.add(int(attempt.time // 3600))
    start = rcpt.first_deferred
    end = msg.log_end if rcpt.outcome is Outcome.HELD else rcpt.final_time
    if end is None and msg.removed_at is not None:
        end = msg.removed_at
    if start is None or end is None or end < start:
        return
    first = int(start // 3600)
    stats.hourly_held.add_span(first, min(int(end // 3600), first + MAX_HELD_HOURS))


def _final_attempt(
    rcpt: Recipient, classes: list[Classification | None]
) -> tuple[Attempt, Classification] | None:
    """The attempt that explains why a recipient ended bounced or expired: its bounce; for
    an expiry, the last deferral the receiver (or the network) gave, since the expiry line
    itself speaks of the queue ("retry timeout exceeded", "have been failing for a long
    time"), not of the receiver; the expiry line when there was none."""
    pairs = list(zip(rcpt.attempts, classes, strict=True))
    if rcpt.outcome is Outcome.EXPIRED:
        deferred = [(a, c) for a, c in pairs if c is not None and a.status is Status.DEFERRED]
        tried = [(a, c) for a, c in deferred if not a.suspended]
        if tried or deferred:
            return (tried or deferred)[-1]
    return next(
        ((a, c) for a, c in reversed(pairs) if c is not None and a.status is not Status.DEFERRED),
        None,
    )


def _add_final_reason(
    stats: DestinationStats,
    rcpt: Recipient,
    classes: list[Classification | None],
    order: dict[str, int],
) -> None:
    """Count one bounced or expired recipient under its final reason (the example is the
    earliest line, whatever order messages finish in)."""
    found = _final_attempt(rcpt, classes)
    if found is None:
        # No line of this recipient says why (a message-level expiry, a window that cut off
        # its attempts): counted all the same, so every bounced or expired recipient is in.
        cause = Cause.EXPIRED if rcpt.outcome is Outcome.EXPIRED else Cause.UNKNOWN
        attempt: Attempt | None = None
        text = "(no reason logged)"
    else:
        attempt, cls = found
        cause = cls.cause
        text = _original(attempt.reply) or "(no reason logged)"
    key = (reason_key(text), cause)
    final = stats.final_reasons.get(key)
    if final is None:
        final = stats.final_reasons[key] = FinalReason(key[0], cause)
    if attempt is not None and (
        final.example is None or _earlier(attempt.ref, final.example_ref, order)
    ):
        final.example, final.example_ref = attempt.reply, attempt.ref
    final.count += 1


def repeated_deferrals(rcpt: Recipient) -> int:
    """How many of a recipient's deferrals the MTA logged without trying (`suspended`)."""
    return sum(1 for a in rcpt.attempts if a.suspended and a.status is Status.DEFERRED)


SUSPENDED_PREFIX = "delivery temporarily suspended: "
REPEATED_WITHOUT_REPLY = "(the MTA repeated an earlier failure without a reply of its own)"
"""The reason of a repeat that names nothing (Sendmail's bare `stat=Deferred` from its
host-status cache) when the recipient has no real failure of its own to repeat."""


def _bare(reply: str | None) -> bool:
    """A status without reply text (one word or nothing)."""
    return reply is None or len(reply.split()) <= 1


def _original(reply: str | None) -> str | None:
    """The earlier failure a suspended deferral repeats (Postfix prefixes it): one reason."""
    if reply is not None and reply.startswith(SUSPENDED_PREFIX):
        return reply[len(SUSPENDED_PREFIX) :]
    return reply


_MTA_KEYS: dict[tuple[str, Cause, bool], tuple[str, Cause, bool]] = {}
"""One tuple for each (MTA, cause, suspended) key of `DestinationStats.deferrals_by_mta`:
each destination's table kept a tuple of its own for every key (64 bytes; 3,246 of them on
the 5M-line bench log). Bounded: the MTA is the reader's name, never log text."""


def _mta_key(mta: str, cause: Cause, suspended: bool) -> tuple[str, Cause, bool]:
    key = (mta, cause, suspended)
    return _MTA_KEYS.setdefault(key, key)


def _earlier(a: LineRef | None, b: LineRef | None, order: dict[str, int]) -> bool:
    """Whether line `a` comes before line `b` in the inputs (None is never earlier)."""
    if a is None:
        return False
    if b is None:
        return True
    return (order.get(a.source, 0), a.lineno) < (order.get(b.source, 0), b.lineno)


def median(
    values: list[float] | list[int] | Mapping[float, int] | Mapping[int, int],
) -> float | None:
    """The median (as `statistics.median`: the mean of the two middle values for an even
    count), or None for no values. `values` is a list, or counts per value (a `Counter`),
    which give the same median without a list as long as the values."""
    if not isinstance(values, Mapping):
        import statistics  # here: importing it costs more start-up than any report uses it

        return float(statistics.median(values)) if values else None
    total = sum(values.values())
    if total <= 0:
        return None
    low_rank, high_rank = (total - 1) // 2, total // 2  # 0-based ranks of the middle values
    low: float | None = None
    seen = 0
    for value, n in sorted((k, n) for k, n in values.items() if n > 0):
        seen += n
        if low is None and seen > low_rank:
            low = value
        if seen > high_rank:
            assert low is not None
            return float(low) if low_rank == high_rank else float((low + value) / 2)
    return None  # pragma: no cover - the ranks lie below the total
