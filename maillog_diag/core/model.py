"""The event model shared by every MTA, and the per-message state built from it.

Times are POSIX timestamps in seconds (`float`, UTC based); they become ISO 8601 text with
an offset only when a renderer writes them. Durations are seconds. A log line becomes at
most one `Event`; the correlator (`maillog_diag.correlate`) folds events into `Message`s.

An MTA contributes a grammar and a transformer that produce these events; nothing past
this module knows which MTA wrote a line, except through the `mta` field it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

# Why the records below write their `__init__` out: under the compiled build (mypyc) the
# one `dataclass` generates is interpreted Python, called through the type's slot for
# every record made; a written-out one is compiled, and makes a record about seven times
# as fast (perf, 200,000-line bench logs: 12-14% of a whole run went to generated
# `__init__`s). The dataclass keeps an `__init__` defined in the class;
# `tests/test_records.py` checks that each takes the dataclass's parameters, in its order,
# with its defaults (None standing for a default factory), and stores every one.


def record_reduce(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    """`(class, field values)`: how a record with a written-out `__init__` is copied and
    pickled by default. (A compiled class's `__new__` runs its `__init__`, so the default
    protocol, `cls.__new__(cls)` and then the state, cannot make one.)"""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(obj))
    return cls, tuple([getattr(obj, name) for name in names])


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


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

    def __init__(
        self,
        source: str,
        lineno: int,
        text: str,
    ) -> None:
        self.source = source
        self.lineno = lineno
        self.text = text

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)


@dataclass(slots=True)
class Event:
    """Base of all events: when (POSIX seconds), on which host, from which MTA and line."""

    time: float
    host: str
    mta: str
    queue_id: str | None
    ref: LineRef | None = field(default=None, repr=False)

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
    ) -> None:
        self.time = time
        self.host = host
        self.mta = mta
        self.queue_id = queue_id
        self.ref = ref

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)


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

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        client: str | None = None,
        sender: str | None = None,
        size: int | None = None,
        message_id: str | None = None,
        nrcpt: int | None = None,
        reference: str | None = None,
        notice: str | None = None,
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.client = client
        self.sender = sender
        self.size = size
        self.message_id = message_id
        self.nrcpt = nrcpt
        self.reference = reference
        self.notice = notice


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

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        message_id: str | None = None,
        sender: str | None = None,
        size: int | None = None,
        nrcpt: int | None = None,
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.message_id = message_id
        self.sender = sender
        self.size = size
        self.nrcpt = nrcpt


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

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        recipient: str = "",
        status: Status = Status.DEFERRED,
        orig_recipient: str | None = None,
        relay: str | None = None,
        dsn: str | None = None,
        reply: str | None = None,
        delay: float | None = None,
        delays: str | None = None,
        program: str | None = None,
        pid: str | None = None,
        suspended: bool = False,
        stage: str | None = None,
        handoff: bool = False,
        also: tuple[str, ...] = (),
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.recipient = recipient
        self.status = status
        self.orig_recipient = orig_recipient
        self.relay = relay
        self.dsn = dsn
        self.reply = reply
        self.delay = delay
        self.delays = delays
        self.program = program
        self.pid = pid
        self.suspended = suspended
        self.stage = stage
        self.handoff = handoff
        self.also = also


@dataclass(slots=True)
class Expired(Event):
    """The MTA gave up on the whole message (queue lifetime reached) and returned it."""

    sender: str | None = None
    notice_queue_id: str | None = None
    """The queue id of the notice that returns the message, when the line names it
    (Sendmail: `<qid>: <notice qid>: return to sender: Cannot send message for 5 days`)."""

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        sender: str | None = None,
        notice_queue_id: str | None = None,
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.sender = sender
        self.notice_queue_id = notice_queue_id


@dataclass(slots=True)
class Removed(Event):
    """The message left the queue: all recipients are done, or an admin deleted it."""

    by_admin: bool = False

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        by_admin: bool = False,
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.by_admin = by_admin


@dataclass(slots=True)
class QueueAction(Event):
    """An administrative action on a queued message: hold, release, requeue."""

    action: str = ""

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        action: str = "",
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.action = action


@dataclass(slots=True)
class Notification(Event):
    """The MTA sent a notice about this message (non-delivery, delay warning, DSN)."""

    kind: str = ""
    new_queue_id: str | None = None

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        kind: str = "",
        new_queue_id: str | None = None,
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.kind = kind
        self.new_queue_id = new_queue_id


@dataclass(slots=True)
class Rejected(Event):
    """The message was rejected or discarded while being received; it will not be sent."""

    reason: str = ""

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        reason: str = "",
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.reason = reason


@dataclass(slots=True)
class SessionNote(Event):
    """A session-level failure that names no recipient (connect failures, 421 at MAIL FROM).

    `pid` links a note without a queue id to the next delivery line of the same process.
    """

    pid: str = ""
    text: str = ""

    def __init__(
        self,
        time: float,
        host: str,
        mta: str,
        queue_id: str | None,
        ref: LineRef | None = None,
        pid: str = "",
        text: str = "",
    ) -> None:
        Event.__init__(self, time, host, mta, queue_id, ref)
        self.pid = pid
        self.text = text


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

    def __init__(
        self,
        time: float,
        status: Status,
        relay: str | None,
        dsn: str | None,
        reply: str | None,
        delays: str | None = None,
        suspended: bool = False,
        stage: str | None = None,
        ref: LineRef | None = None,
        handoff: bool = False,
        program: str | None = None,
    ) -> None:
        self.time = time
        self.status = status
        self.relay = relay
        self.dsn = dsn
        self.reply = reply
        self.delays = delays
        self.suspended = suspended
        self.stage = stage
        self.ref = ref
        self.handoff = handoff
        self.program = program

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)


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

    def __init__(
        self,
        address: str,
        orig_address: str | None = None,
        attempts: list[Attempt] | None = None,
        outcome: Outcome | None = None,
        final_time: float | None = None,
        deferrals: int = 0,
        first_deferred: float | None = None,
    ) -> None:
        self.address = address
        self.orig_address = orig_address
        self.attempts = [] if attempts is None else attempts
        self.outcome = outcome
        self.final_time = final_time
        self.deferrals = deferrals
        self.first_deferred = first_deferred

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)

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
    """Session notes about this message (connect failures, a 421 at MAIL FROM, hold
    actions): kept only for `trace`, with `lines` (see `Correlator`)."""
    lines: list[LineRef] = field(default_factory=list)

    def __init__(
        self,
        mta: str,
        host: str,
        queue_id: str,
        message_id: str | None = None,
        sender: str | None = None,
        size: int | None = None,
        nrcpt: int | None = None,
        client: str | None = None,
        arrived: float | None = None,
        arrival_seen: bool = False,
        first_seen: float = 0.0,
        last_seen: float = 0.0,
        recipients: dict[str, Recipient] | None = None,
        expired_at: float | None = None,
        removed_at: float | None = None,
        rejected: str | None = None,
        log_end: float | None = None,
        hold_started: float | None = None,
        hold_seconds: float = 0.0,
        hold_reason: str | None = None,
        notifications: list[tuple[float, str, str | None]] | None = None,
        notes: list[SessionNote] | None = None,
        lines: list[LineRef] | None = None,
    ) -> None:
        self.mta = mta
        self.host = host
        self.queue_id = queue_id
        self.message_id = message_id
        self.sender = sender
        self.size = size
        self.nrcpt = nrcpt
        self.client = client
        self.arrived = arrived
        self.arrival_seen = arrival_seen
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.recipients = {} if recipients is None else recipients
        self.expired_at = expired_at
        self.removed_at = removed_at
        self.rejected = rejected
        self.log_end = log_end
        self.hold_started = hold_started
        self.hold_seconds = hold_seconds
        self.hold_reason = hold_reason
        self.notifications = [] if notifications is None else notifications
        self.notes = [] if notes is None else notes
        self.lines = [] if lines is None else lines

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return record_reduce(self)
