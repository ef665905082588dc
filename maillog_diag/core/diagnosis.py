"""Why each recipient was held, and what the retry schedule did with the receiver's hints.

Builds on `maillog_diag.classify` (one attempt's cause, provider, token and retry hint) and
looks at a recipient's whole history:

* **Forced split**: in one transaction (same relay, same second) the receiver accepted some
  recipients of the message and deferred others with a split cause (too many recipients,
  "separate transaction"). That is the receiver asking for smaller transactions, not a
  failing destination; the delay it added runs from that deferral to the recipient's final
  outcome (or the end of the log).
* **Retry schedule against the hint**: for each deferral whose reply states an interval
  (an explicit hint; a provider's documented interval is shown but not held against the
  MTA's schedule, since the reply itself did not ask for it), the next real attempt for the same
  recipient came either too early (before the receiver said it would accept; if it was
  deferred again it was a wasted attempt) or too late (delay beyond what the receiver asked
  for: avoidable). A tolerance of 10% of the interval (at least 5 seconds) absorbs the MTA's
  queue scan granularity and syslog's whole-second stamps.
* **Still held**: for a recipient still queued at the end of the log, the last cause and the
  moment the receiver said it would accept a retry (last deferral + hint).

Times are POSIX seconds; intervals and delays are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from maillog_diag.core.causes import Cause
from maillog_diag.core.classify import Classification, Stage, classify, classify_timeless
from maillog_diag.core.hints import NO_HINT, HintKind, RetryHint
from maillog_diag.core.model import Attempt, Message, Outcome, Recipient, Status, record_reduce

EXPIRED_CLASSIFICATION = Classification(
    Cause.EXPIRED, None, None, RetryHint(HintKind.NONE, None, None), "queue lifetime reached"
)
SPLIT_WINDOW_SECONDS = 1.0
"""Attempts for one message to one relay this close together belong to one transaction."""


def relay_host(relay: str | None) -> str | None:
    """`mx.example.com` from `mx.example.com[192.0.2.1]:25`; None for `none`/absent."""
    if not relay or relay == "none":
        return None
    return relay.split("[", 1)[0] or None


_STAGES: dict[str, Stage] = {stage.value: stage for stage in Stage}
"""`Stage` by value: a dict look-up instead of the enum's call (a pure-Python method)."""


def _stage(value: str | None) -> Stage | None:
    """The stage an attempt names, None for none or an unknown word."""
    if value is None:
        return None
    return _STAGES.get(value)


def diagnose(attempt: Attempt) -> Classification | None:
    """The classification of a non-delivered attempt (None for a sent one)."""
    if attempt.status is Status.SENT:
        return None
    if attempt.status is Status.EXPIRED and not attempt.reply:
        return EXPIRED_CLASSIFICATION
    relay = relay_host(attempt.relay)
    stage = _stage(attempt.stage)
    if attempt.reply:
        timeless = classify_timeless(attempt.reply, attempt.dsn, relay, stage)
        if timeless is not None:
            return timeless
    return classify(
        attempt.reply,
        dsn=attempt.dsn,
        relay=relay,
        stage=stage,
        at=datetime.fromtimestamp(attempt.time, UTC),
    )


@dataclass(slots=True)
class ScheduleCheck:
    """One deferral with a stated interval, and when the MTA actually came back."""

    deferred_at: float
    hint_seconds: int
    hint_kind: HintKind
    next_attempt_at: float | None
    verdict: str
    """`early`, `late`, `on_time`, or `pending` (no later attempt in the log)."""
    wasted: bool = False
    """Early, and the early attempt was deferred again."""
    avoidable_seconds: float = 0.0
    """Late: seconds beyond the receiver's interval."""

    def __init__(
        self,
        deferred_at: float,
        hint_seconds: int,
        hint_kind: HintKind,
        next_attempt_at: float | None,
        verdict: str,
        wasted: bool = False,
        avoidable_seconds: float = 0.0,
    ) -> None:
        # (written out for the compiled build: see `model.record_reduce`)
        self.deferred_at = deferred_at
        self.hint_seconds = hint_seconds
        self.hint_kind = hint_kind
        self.next_attempt_at = next_attempt_at
        self.verdict = verdict
        self.wasted = wasted
        self.avoidable_seconds = avoidable_seconds

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)


@dataclass(slots=True)
class RecipientDiagnosis:
    """Causes of every attempt of one recipient, and what the schedule did with the hints."""

    classifications: list[Classification | None]
    checks: list[ScheduleCheck] = field(default_factory=list)
    split_deferrals: int = 0
    """Deferrals that were forced splits (some recipients accepted in the same transaction)."""
    split_delay_seconds: float = 0.0
    last_cause: Classification | None = None
    retry_after: float | None = None
    """When the receiver said it would accept the next attempt (held mail only)."""

    def __init__(
        self,
        classifications: list[Classification | None],
        checks: list[ScheduleCheck] | None = None,
        split_deferrals: int = 0,
        split_delay_seconds: float = 0.0,
        last_cause: Classification | None = None,
        retry_after: float | None = None,
    ) -> None:
        # (written out for the compiled build: see `model.record_reduce`)
        self.classifications = classifications
        self.checks = [] if checks is None else checks
        self.split_deferrals = split_deferrals
        self.split_delay_seconds = split_delay_seconds
        self.last_cause = last_cause
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)


def tolerance(hint_seconds: int) -> float:
    """Slack before a retry counts as early or late (see the module documentation)."""
    return max(5.0, 0.1 * hint_seconds)


def check_schedule(
    attempts: list[Attempt], classes: list[Classification | None]
) -> list[ScheduleCheck]:
    """Compare each deferral with an explicit interval with the next real (not suspended)
    attempt for the same recipient."""
    checks: list[ScheduleCheck] = []
    real = [i for i, a in enumerate(attempts) if not a.suspended]
    for pos, i in enumerate(real):
        attempt, cls = attempts[i], classes[i]
        if attempt.status is not Status.DEFERRED or cls is None:
            continue
        hint = cls.hint
        if hint.seconds is None or hint.kind is not HintKind.EXPLICIT:
            continue
        nxt = attempts[real[pos + 1]] if pos + 1 < len(real) else None
        check = ScheduleCheck(attempt.time, hint.seconds, hint.kind, None, "pending")
        if nxt is not None:
            gap = nxt.time - attempt.time
            check.next_attempt_at = nxt.time
            slack = tolerance(hint.seconds)
            if gap < hint.seconds - slack:
                check.verdict = "early"
                check.wasted = nxt.status is Status.DEFERRED
            elif gap > hint.seconds + slack:
                check.verdict = "late"
                check.avoidable_seconds = gap - hint.seconds
            else:
                check.verdict = "on_time"
        checks.append(check)
    return checks


def _split_transactions(msg: Message) -> set[tuple[str, int]]:
    """`(relay, second)` of transactions where some recipients were sent, others deferred."""
    sent: set[tuple[str, int]] = set()
    deferred: set[tuple[str, int]] = set()
    for rcpt in msg.recipients.values():
        for a in rcpt.attempts:
            if a.relay is None or a.suspended:
                continue
            key = (relay_host(a.relay) or a.relay, int(a.time))
            if a.status is Status.SENT:
                sent.add(key)
            elif a.status is Status.DEFERRED:
                deferred.add(key)
    both: set[tuple[str, int]] = set()
    for relay, second in deferred:
        for delta in (0, -1, 1):
            if (relay, second + delta) in sent:
                both.add((relay, second))
    return both


def diagnose_message(msg: Message) -> dict[str, RecipientDiagnosis]:
    """Per recipient address: classifications, schedule checks, forced splits, held state."""
    splits = _split_transactions(msg)
    result: dict[str, RecipientDiagnosis] = {}
    for address, rcpt in msg.recipients.items():
        attempts = rcpt.attempts
        if all(a.status is Status.SENT for a in attempts):
            # Sent at every attempt (most recipients of a message another one of which was
            # deferred): nothing to classify, check or split; what the loop below gives.
            result[address] = RecipientDiagnosis([None] * len(attempts))
            continue
        classes = classify_attempts(rcpt.attempts)
        diag = RecipientDiagnosis(classes, check_schedule(rcpt.attempts, classes))
        _splits(msg, rcpt, classes, splits, diag)
        for a, cls in zip(reversed(rcpt.attempts), reversed(classes), strict=True):
            if cls is not None and a.status is Status.DEFERRED:
                diag.last_cause = cls
                break
        for a, cls in zip(reversed(rcpt.attempts), reversed(classes), strict=True):
            # the receiver's own word on when to come back: its last real reply
            if cls is not None and a.status is Status.DEFERRED and not a.suspended:
                if rcpt.outcome is Outcome.HELD and cls.hint.seconds is not None:
                    diag.retry_after = a.time + cls.hint.seconds
                break
        result[address] = diag
    return result


def classify_attempts(attempts: list[Attempt]) -> list[Classification | None]:
    """The classification of each attempt of one recipient, repeats included (see
    `_with_repeats`): what the report counts and what the JSON of each attempt shows."""
    return _with_repeats(attempts, [diagnose(a) for a in attempts])


def _with_repeats(
    attempts: list[Attempt], classes: list[Classification | None]
) -> list[Classification | None]:
    """A suspended attempt (the MTA did not try: Exim's `retry time not reached`, Postfix's
    `delivery temporarily suspended`) repeats the recipient's last real failure; where its
    own text names no cause of its own (local or unknown), it takes that failure's cause.
    It never takes a retry hint: the MTA did not ask the receiver, so a hint copied from
    the earlier reply (or the one Postfix quotes) would be stale, claimed for a moment the
    receiver never spoke of."""
    last: Classification | None = None
    out: list[Classification | None] = []
    for attempt, cls in zip(attempts, classes, strict=True):
        if attempt.suspended:
            if last is not None and (
                cls is None or cls.cause in (Cause.LOCAL, Cause.UNKNOWN) or _bare(attempt.reply)
            ):
                cls = last
            elif last is None and _bare(attempt.reply):
                cls = None  # a cached status repeating a failure of another message: no cause
            if cls is not None and cls.hint is not NO_HINT:
                cls = replace(cls, hint=NO_HINT)
        elif cls is not None and attempt.status is Status.DEFERRED:
            last = cls
        out.append(cls)
    return out


def _bare(reply: str | None) -> bool:
    """A status without a reply (Sendmail's `stat=Deferred` from its host-status cache):
    whatever its DSN says is the cached status, not a new cause."""
    return reply is None or len(reply.split()) <= 1


def _splits(
    msg: Message,
    rcpt: Recipient,
    classes: list[Classification | None],
    splits: set[tuple[str, int]],
    diag: RecipientDiagnosis,
) -> None:
    first_split: float | None = None
    for a, cls in zip(rcpt.attempts, classes, strict=True):
        if cls is None or cls.cause is not Cause.FORCED_SPLIT or a.status is not Status.DEFERRED:
            continue
        key = (relay_host(a.relay) or a.relay or "", int(a.time))
        if key in splits:
            diag.split_deferrals += 1
            if first_split is None:
                first_split = a.time
    if first_split is not None:
        end = rcpt.final_time if rcpt.final_time is not None else msg.log_end
        if end is not None:
            diag.split_delay_seconds = max(0.0, end - first_split)
