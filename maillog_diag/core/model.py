"""The event model shared by every MTA, and the per-message state built from it.

Times are POSIX timestamps in seconds (`float`, UTC based); they become ISO 8601 text with
an offset only when a renderer writes them. Durations are seconds. A log line becomes at
most one `Event`; the correlator (`maillog_diag.correlate`) folds events into `Message`s.

An MTA contributes a grammar and a transformer that produce these events; nothing past
this module knows which MTA wrote a line, except through the `mta` field it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """What finally happened to one recipient (a stable JSON value)."""

    DELIVERED = "delivered"
    BOUNCED = "bounced"
    EXPIRED = "expired"
    HELD = "held"
    """Still queued when the log ends."""
    UNKNOWN = "unknown"
    """The log does not say: e.g. the message left the queue with no final status for it."""


class Status(StrEnum):
    """The status of one delivery attempt, normalised across MTAs."""

    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    EXPIRED = "expired"


@dataclass(slots=True)
class LineRef:
    """Where an event came from: the input name, the 1-based line number and the text."""

    source: str
    lineno: int
    text: str


@dataclass(slots=True)
class Event:
    """Base of all events: when (POSIX seconds), on which host, from which MTA and line."""

    time: float
    host: str
    mta: str
    queue_id: str | None
    ref: LineRef | None = field(default=None, repr=False)


@dataclass(slots=True)
class Arrival(Event):
    """A message entered the queue: Postfix `client=`/`uid=`, Exim `<=`, Sendmail `from=`."""

    client: str | None = None
    sender: str | None = None
    size: int | None = None
    message_id: str | None = None
    nrcpt: int | None = None
    reference: str | None = None
    """The queue id of the message this one reports on: Exim logs `R=<id>` on the arrival
    of a bounce or delay warning. The correlator notes it on that message."""
    notice: str | None = None
    """With `reference`: what kind of notice this is (e.g. `sender delay notification`)."""


@dataclass(slots=True)
class MessageInfo(Event):
    """More about a queued message (Message-ID, sender, size, recipient count).

    Postfix's qmgr logs `from=, size=, nrcpt=` each time the message becomes active again,
    so this never starts a new message by itself.
    """

    message_id: str | None = None
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None


@dataclass(slots=True)
class Delivery(Event):
    """One delivery attempt for one recipient, with the MTA's verdict.

    `delay` is the MTA's own figure of seconds since the message arrived, when it logs one
    (Postfix `delay=`, Sendmail `delay=`); it lets the correlator place the arrival of a
    message whose first lines fall before the log begins.
    """

    recipient: str = ""
    status: Status = Status.DEFERRED
    orig_recipient: str | None = None
    relay: str | None = None
    dsn: str | None = None
    reply: str | None = None
    delay: float | None = None
    delays: str | None = None
    program: str | None = None
    pid: str | None = None
    suspended: bool = False
    """The MTA did not try: it repeated an earlier failure (Postfix `delivery temporarily
    suspended`, Exim `retry time not reached`)."""
    stage: str | None = None
    handoff: bool = False
    """Accepted by a local next hop of the same host (Sendmail's submission queue handing
    to its MTA, Postfix handing to a content filter on loopback that re-queues it), not by
    the destination: the message goes on under another queue id, so this is not a delivery
    to the recipient's domain (the re-queued message is)."""
    also: tuple[str, ...] = ()
    """More recipients with the same verdict in the same line (Sendmail logs
    `to=<a>,<b>` when one connection took several)."""


@dataclass(slots=True)
class Expired(Event):
    """The MTA gave up on the whole message (queue lifetime reached) and returned it."""

    sender: str | None = None
    notice_queue_id: str | None = None
    """The queue id of the notice that returns the message, when the line names it
    (Sendmail: `<qid>: <notice qid>: return to sender: Cannot send message for 5 days`)."""


@dataclass(slots=True)
class Removed(Event):
    """The message left the queue: all recipients are done, or an admin deleted it."""

    by_admin: bool = False


@dataclass(slots=True)
class QueueAction(Event):
    """An administrative action on a queued message: hold, release, requeue."""

    action: str = ""


@dataclass(slots=True)
class Notification(Event):
    """The MTA sent a notice about this message (non-delivery, delay warning, DSN)."""

    kind: str = ""
    new_queue_id: str | None = None


@dataclass(slots=True)
class Rejected(Event):
    """The message was rejected or discarded while being received; it will not be sent."""

    reason: str = ""


@dataclass(slots=True)
class SessionNote(Event):
    """A session-level failure that names no recipient (connect failures, 421 at MAIL FROM).

    `pid` links a note without a queue id to the next delivery line of the same process.
    """

    pid: str = ""
    text: str = ""


# ---------------------------------------------------------------------------
# Correlated state
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """One delivery attempt of one recipient, as the JSON contract names it."""

    time: float
    status: Status
    relay: str | None
    dsn: str | None
    reply: str | None
    delays: str | None = None
    suspended: bool = False
    stage: str | None = None
    ref: LineRef | None = field(default=None, repr=False)
    handoff: bool = False
    program: str | None = None
    """The MTA program that logged it (`postfix-out/smtp`), when the line names one: an
    MTA instance for `report --by instance`."""


@dataclass(slots=True)
class Recipient:
    """One recipient of one message: its attempts and, once known, its outcome."""

    address: str
    orig_address: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: Outcome | None = None
    final_time: float | None = None
    deferrals: int = 0
    first_deferred: float | None = None

    @property
    def domain(self) -> str:
        """The destination domain, lower-cased; addresses without `@` map to themselves."""
        _, at, domain = self.address.rpartition("@")
        return (domain if at else self.address).lower()


@dataclass(slots=True)
class Message:
    """One message in one queue: identified by host and queue id.

    `arrived` is when it entered the queue (POSIX seconds); `arrival_seen` says whether the
    log shows that moment or it was worked out from an MTA-reported delay.
    """

    mta: str
    host: str
    queue_id: str
    message_id: str | None = None
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    client: str | None = None
    arrived: float | None = None
    arrival_seen: bool = False
    first_seen: float = 0.0
    last_seen: float = 0.0
    recipients: dict[str, Recipient] = field(default_factory=dict)
    expired_at: float | None = None
    removed_at: float | None = None
    rejected: str | None = None
    log_end: float | None = None
    """Set when the log ended with this message still queued: the end of its held time."""
    hold_started: float | None = None
    """When the admin or a content check put the message on hold (`postsuper -h`, a
    header/body check's HOLD, Exim's `-Mf`), while it still is (POSIX seconds)."""
    hold_seconds: float = 0.0
    """Seconds spent on hold in holds that ended (released) before now."""
    hold_reason: str | None = None
    """The text of the last hold action (`placed on hold (hold: header Subject: ...)`)."""
    notifications: list[tuple[float, str, str | None]] = field(default_factory=list)
    notes: list[SessionNote] = field(default_factory=list)
    lines: list[LineRef] = field(default_factory=list)
