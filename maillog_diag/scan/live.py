"""Reading a log as it is written (`maillog-diag watch`): each new line parsed and
correlated at once, with what a live view shows kept up to date.

`LiveScan.feed` takes one line and returns what happened: the delivery attempt it logged
(with its cause and retry hint, as the report classifies it) and every message that
finished with it. `LiveScan.snapshot` describes the mail queued now, by destination, the
rate of deferrals and the latest bounces. Times are POSIX seconds (UTC); "now" is given
by the caller (the wall clock), so queued ages keep growing between lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo

from maillog_diag.core.classify import Classification
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.diagnosis import classify_attempts, diagnose
from maillog_diag.core.model import Attempt, Delivery, LineRef, Message, Status
from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference
from maillog_diag.mta import no_removal_line
from maillog_diag.scan.lines import LineParser

RATE_WINDOW_SECONDS = 60.0
"""Deferrals per minute are counted over this many seconds of log time."""

RECENT_BOUNCES = 10
"""Bounces the live view lists."""


@dataclass(slots=True)
class AttemptSeen:
    """One delivery attempt a new line logged, with the message it belongs to."""

    event: Delivery
    classification: Classification | None
    recipient: str


@dataclass(slots=True)
class Fed:
    """What one line brought: attempts (a line may name several recipients) and the
    messages that finished."""

    attempts: list[AttemptSeen] = field(default_factory=list)
    finished: list[Message] = field(default_factory=list)
    unparsed: UnparsableLine | None = None


@dataclass(slots=True)
class QueuedDestination:
    """Recipients of one destination still in the queue now (as far as the log says)."""

    domain: str
    recipients: int = 0
    oldest_since: float | None = None
    """Arrival of the oldest of them (POSIX seconds), None when unknown."""
    last_attempt: float | None = None
    last_cause: Classification | None = None
    last_reply: str | None = None
    retry_after: float | None = None
    """When the receiver said it would accept the next attempt (the latest such moment
    among these recipients), None when no reply said."""


@dataclass(slots=True)
class Snapshot:
    """What the live view shows at `now`."""

    now: float
    queued: list[QueuedDestination]
    deferrals_last_minute: int
    recent_bounces: list[tuple[float, str, str | None]]
    """(time, recipient, reply), newest first."""
    lines: int
    unparsed: int


class LiveScan:
    """Parses and correlates lines one at a time; keeps the live view's figures."""

    def __init__(self, zone: tzinfo, year: int | None, now: Callable[[], float]) -> None:
        self._finished: list[Message] = []
        self._correlator = Correlator(self._finished.append, no_removal_line=no_removal_line())
        self._parser = LineParser(TimeParser(zone))
        self._parser.start_input(YearInference(reference=now(), fixed=year))
        self._deferrals: deque[float] = deque()
        self._bounces: deque[tuple[float, str, str | None]] = deque(maxlen=RECENT_BOUNCES)

    def feed(self, line: str, source: str, lineno: int) -> Fed:
        """Parse and correlate one line (without its newline); never raises for bad text."""
        fed = Fed()
        try:
            event = self._parser.parse(line, source, lineno)
        except UnparsableLine as exc:
            fed.unparsed = exc
            return fed
        if event is None:
            return fed
        event.ref = LineRef(source, lineno, line)
        self._correlator.feed(event)
        if isinstance(event, Delivery) and event.queue_id is not None:
            for address in (event.recipient, *event.also):
                fed.attempts.append(AttemptSeen(event, self._classify(event, address), address))
            if event.status is Status.DEFERRED:
                self._deferrals.append(event.time)
                self._prune(event.time)
            elif event.status is Status.BOUNCED:
                self._bounces.appendleft((event.time, event.recipient, event.reply))
        fed.finished, self._finished[:] = list(self._finished), []
        return fed

    def _classify(self, event: Delivery, address: str) -> Classification | None:
        """The attempt's classification as the report gives it (a repeat takes the cause it
        repeats), from the recipient's attempts so far."""
        assert event.queue_id is not None
        msg = self._correlator.message(event.host, event.queue_id)
        rcpt = msg.recipients.get(address) if msg is not None else None
        if rcpt is not None and rcpt.attempts:
            return classify_attempts(rcpt.attempts)[-1]
        return diagnose(
            Attempt(
                event.time,
                event.status,
                event.relay,
                event.dsn,
                event.reply,
                event.delays,
                event.suspended,
                event.stage,
            )
        )

    def _prune(self, latest: float) -> None:
        """Forget deferrals older than the rate window (so memory stays bounded)."""
        while self._deferrals and self._deferrals[0] < latest - RATE_WINDOW_SECONDS:
            self._deferrals.popleft()

    def snapshot(self, now: float) -> Snapshot:
        """The mail queued now by destination (most recipients first), deferrals in the
        last minute of log time, the latest bounces."""
        by: dict[str, QueuedDestination] = {}
        for msg in self._correlator.open_messages():
            for rcpt in msg.recipients.values():
                if rcpt.outcome is not None or not rcpt.deferrals:
                    continue
                q = by.get(rcpt.domain)
                if q is None:
                    q = by[rcpt.domain] = QueuedDestination(rcpt.domain)
                q.recipients += 1
                since = msg.arrived if msg.arrived is not None else msg.first_seen
                if q.oldest_since is None or since < q.oldest_since:
                    q.oldest_since = since
                classes = classify_attempts(rcpt.attempts)
                for attempt, cls in zip(reversed(rcpt.attempts), reversed(classes), strict=True):
                    if cls is None or attempt.status is not Status.DEFERRED:
                        continue
                    if q.last_attempt is None or attempt.time >= q.last_attempt:
                        q.last_attempt, q.last_cause, q.last_reply = (
                            attempt.time,
                            cls,
                            attempt.reply,
                        )
                    if cls.hint.seconds is not None:
                        after = attempt.time + cls.hint.seconds
                        if q.retry_after is None or after > q.retry_after:
                            q.retry_after = after
                    break
        if self._correlator.last_time is not None:
            self._prune(self._correlator.last_time)
        counts = self._parser.counts
        queued = sorted(by.values(), key=lambda q: (-q.recipients, q.oldest_since or now, q.domain))
        return Snapshot(
            now,
            queued,
            len(self._deferrals),
            list(self._bounces),
            counts.total,
            counts.unparsed,
        )
