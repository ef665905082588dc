"""Folding events into messages and recipients, releasing each message once it is done.

A message is keyed by host and queue id. Queue ids are reused (Postfix's short ids come
back after a while), so a key names one message only between its arrival and its removal:
`removed` closes it, and an arrival line for a key that already has delivery attempts
closes the old message first.

Memory is bounded by the mail in flight: a message is handed to the `emit` callback and
forgotten as soon as the MTA removes it from its queue. Messages whose removal line never
comes (a lost line, a rejected message) are swept after a quiet period; deferred mail
stays, because it is still in flight.
"""

from __future__ import annotations

from collections.abc import Callable

from maillog_diag.core.model import (
    Arrival,
    Attempt,
    Delivery,
    Event,
    Expired,
    Message,
    MessageInfo,
    Notification,
    Outcome,
    QueueAction,
    Recipient,
    Rejected,
    Removed,
    SessionNote,
    Status,
)

_FINAL = {
    Status.SENT: Outcome.DELIVERED,
    Status.BOUNCED: Outcome.BOUNCED,
    Status.EXPIRED: Outcome.EXPIRED,
}

SWEEP_EVERY = 50_000
"""Events between sweeps for messages that will never see a removal line."""

DONE_QUIET_SECONDS = 3600.0
"""A message whose recipients all have a final outcome, silent this long, is done even
without a `removed` line."""

EMPTY_QUIET_SECONDS = 86400.0
"""A message with no recipient at all (e.g. only its arrival was logged), silent this
long, is dropped as done; its lines stay counted."""


RECENTLY_CLOSED_SECONDS = 600.0
"""How long the key of a message closed that way keeps its late lines from opening a new,
empty message."""

PENDING_NOTE_SECONDS = 600.0
"""A session note without a queue id (`connect to ...: Connection refused`) is attached
to the next delivery line of the same process within this many seconds."""


_MAX_TEXTS = 65536
"""Distinct attempt texts remembered for sharing (bounded: log text chooses them)."""


class Correlator:
    """Consumes events in log order; calls `emit(message)` for each finished message.

    `keep_lines` keeps every line of a message (for `trace`); otherwise only the lines of
    delivery attempts are kept, as examples.
    """

    def __init__(
        self,
        emit: Callable[[Message], None],
        *,
        keep_lines: bool = False,
        no_removal_line: frozenset[str] = frozenset(),
    ) -> None:
        self._emit = emit
        self._no_removal = no_removal_line
        """The `mta` values of MTAs that log no removal line: their messages close when
        every recipient is final (readers declare it, `Reader.logs_removal`)."""
        self._keep_lines = keep_lines
        self._open: dict[tuple[str, str], Message] = {}
        self._pending: dict[tuple[str, str], list[SessionNote]] = {}
        self._closed_recently: dict[tuple[str, str], float] = {}
        self._notices: dict[tuple[str, str], float] = {}
        """Queue ids of notices announced by their parent (MTAs that log no removal line)."""
        self._events = 0
        self._texts: dict[str, str] = {}
        """One copy of each reply, relay and dsn text of the attempts in flight: a message
        retried ninety times with the same reply keeps that reply once, not ninety times."""
        self.last_time: float | None = None
        self.first_time: float | None = None
        self.max_open = 0

    def _message(self, event: Event, queue_id: str) -> Message:
        key = (event.host, queue_id)
        msg = self._open.get(key)
        if msg is None:
            msg = Message(
                mta=event.mta,
                host=event.host,
                queue_id=queue_id,
                first_seen=event.time,
                last_seen=event.time,
            )
            self._open[key] = msg
            if len(self._open) > self.max_open:
                self.max_open = len(self._open)
        return msg

    def message(self, host: str, queue_id: str) -> Message | None:
        """The open message with this key, if any (for a live view: read, do not change)."""
        return self._open.get((host, queue_id))

    def open_messages(self) -> list[Message]:
        """The messages still in flight (for a live view: read, do not change)."""
        return list(self._open.values())

    def feed(self, event: Event) -> None:
        """Apply one event."""
        t = event.time
        if self.first_time is None or t < self.first_time:
            self.first_time = t
        if self.last_time is None or t > self.last_time:
            self.last_time = t
        self._events += 1
        if self._events % SWEEP_EVERY == 0:
            self._sweep(t)

        qid = event.queue_id
        if qid is None:
            if isinstance(event, SessionNote):
                pending = self._pending.setdefault((event.host, event.pid), [])
                pending.append(event)
                if len(pending) > 8:
                    del pending[0]
            return

        if self._closed_recently:
            closed_at = self._closed_recently.get((event.host, qid))
            if closed_at is not None:
                if (
                    isinstance(event, (Arrival, Delivery))
                    or t - closed_at > RECENTLY_CLOSED_SECONDS
                ):
                    del self._closed_recently[(event.host, qid)]
                else:
                    return  # a late line about a message already closed without removal line
        if isinstance(event, Arrival):
            old = self._open.get((event.host, qid))
            if old is not None and (old.recipients or old.removed_at is not None):
                # The queue id was reused and we missed the old message's removal.
                self._close(old, end_of_log=False)
        msg = self._message(event, qid)
        if self._notices:
            noticed = self._notices.pop((event.host, qid), None)
            if noticed is not None:
                self._notice_message(msg, noticed)
        if t > msg.last_seen:
            msg.last_seen = t
        if self._keep_lines and event.ref is not None:
            msg.lines.append(event.ref)

        if isinstance(event, Delivery):
            self._delivery(msg, event)
        elif isinstance(event, MessageInfo):
            _take_info(msg, event)
        elif isinstance(event, Arrival):
            if msg.arrived is None or not msg.arrival_seen:
                msg.arrived = t
                msg.arrival_seen = True
            if event.client is not None:
                msg.client = event.client
            _take_info(msg, event)
            if event.reference is not None:
                # A notice about another queued message (Exim: "<= <> R=<its id>").
                about = self._open.get((event.host, event.reference))
                if about is not None:
                    about.notifications.append((t, event.notice or "sender notification", qid))
                    if self._keep_lines and event.ref is not None:
                        about.lines.append(event.ref)
        elif isinstance(event, Removed):
            msg.removed_at = t
            self._close(msg, end_of_log=False)
        elif isinstance(event, Expired):
            msg.expired_at = t
            if event.notice_queue_id is not None:
                msg.notifications.append(
                    (t, "sender non-delivery notification", event.notice_queue_id)
                )
                if msg.mta in self._no_removal:
                    self._notices[(event.host, event.notice_queue_id)] = t
            for rcpt in msg.recipients.values():
                if rcpt.outcome is None:
                    rcpt.outcome = Outcome.EXPIRED
                    rcpt.final_time = t
            if msg.mta in self._no_removal and self._all_final(msg):
                self._close_without_removal(msg, t)
        elif isinstance(event, Notification):
            msg.notifications.append((t, event.kind, event.new_queue_id))
            if msg.mta in self._no_removal:
                if event.new_queue_id is not None:
                    self._notices[(event.host, event.new_queue_id)] = t
                if self._all_final(msg):
                    self._close_without_removal(msg, t)
        elif isinstance(event, Rejected):
            msg.rejected = event.reason
        elif isinstance(event, SessionNote):
            msg.notes.append(event)
        elif isinstance(event, QueueAction):
            msg.notes.append(
                SessionNote(t, event.host, event.mta, qid, event.ref, text=event.action)
            )
            _track_hold(msg, event.action, t)

    def _delivery(self, msg: Message, ev: Delivery) -> None:
        if ev.pid is not None:
            pending = self._pending.pop((ev.host, ev.pid), None)
            if pending:
                for note in pending:
                    if ev.time - note.time <= PENDING_NOTE_SECONDS:
                        msg.notes.append(note)
                        if self._keep_lines and note.ref is not None:
                            msg.lines.append(note.ref)
        if ev.delay is not None and not msg.arrival_seen:
            inferred = ev.time - ev.delay
            if msg.arrived is None or inferred < msg.arrived:
                msg.arrived = inferred
        self._attempt(msg, ev, ev.recipient, ev.orig_recipient)
        for address in ev.also:
            self._attempt(msg, ev, address, None)
        if (
            msg.mta in self._no_removal
            and ev.status is Status.SENT
            and self._all_final(msg)
            and all(r.outcome is Outcome.DELIVERED for r in msg.recipients.values())
        ):
            self._close_without_removal(msg, ev.time)

    def _text(self, value: str | None) -> str | None:
        """The shared copy of an attempt's text (see `_texts`)."""
        if value is None:
            return None
        texts = self._texts
        shared = texts.get(value)
        if shared is None:
            if len(texts) >= _MAX_TEXTS:
                texts.clear()  # only a cache of copies: nothing is lost
            texts[value] = shared = value
        return shared

    def _attempt(self, msg: Message, ev: Delivery, address: str, orig: str | None) -> None:
        rcpt = msg.recipients.get(address)
        if rcpt is None:
            rcpt = Recipient(address, orig)
            msg.recipients[address] = rcpt
        rcpt.attempts.append(
            Attempt(
                ev.time,
                ev.status,
                self._text(ev.relay),
                self._text(ev.dsn),
                self._text(ev.reply),
                self._text(ev.delays),
                ev.suspended,
                ev.stage,
                ev.ref,
                ev.handoff,
                ev.program,
            )
        )
        if ev.status is Status.DEFERRED:
            rcpt.deferrals += 1
            if rcpt.first_deferred is None:
                rcpt.first_deferred = ev.time
            if rcpt.outcome is not None and rcpt.outcome is not Outcome.HELD:
                # Requeued after a final status (e.g. postsuper -r): in flight again.
                rcpt.outcome = None
                rcpt.final_time = None
        else:
            rcpt.outcome = _FINAL[ev.status]
            rcpt.final_time = ev.time

    @staticmethod
    def _all_final(msg: Message) -> bool:
        """As many recipients as announced (`nrcpt`) have a final outcome, and no other is open."""
        if msg.nrcpt is None or len(msg.recipients) < msg.nrcpt:
            return False
        return all(r.outcome is not None for r in msg.recipients.values())

    def _notice_message(self, msg: Message, noticed: float) -> None:
        """A notice (bounce, delay warning) an MTA without removal lines queued: it arrived
        with the notice line of its parent, from the null sender, for one recipient.
        Sendmail logs no `from=` for the notices it makes, so without this the notice would
        have no arrival line and stay open to the end of the log. The link is kept by key
        until the notice's own first line: in a parallel report that line may be another
        process's, and then nothing is made of it here."""
        if msg.arrived is None or not msg.arrival_seen:
            msg.arrived = noticed
            msg.arrival_seen = True
        if msg.sender is None:
            msg.sender = ""
        if msg.nrcpt is None:
            msg.nrcpt = 1

    def _close_without_removal(self, msg: Message, t: float) -> None:
        """Close a message of an MTA that logs no removal: it is done (see `no_removal_line`)."""
        msg.removed_at = t
        self._close(msg, end_of_log=False)
        self._closed_recently[(msg.host, msg.queue_id)] = t

    def _close(self, msg: Message, *, end_of_log: bool) -> None:
        """Settle outcomes that the log does not state, emit, and forget the message."""
        self._open.pop((msg.host, msg.queue_id), None)
        if end_of_log:
            msg.log_end = self.last_time
        for rcpt in msg.recipients.values():
            if rcpt.outcome is None:
                if end_of_log and msg.removed_at is None:
                    rcpt.outcome = Outcome.HELD
                else:
                    rcpt.outcome = Outcome.UNKNOWN
        self._emit(msg)

    def _sweep(self, now: float) -> None:
        for msg in list(self._open.values()):
            quiet = now - msg.last_seen
            if msg.rejected is not None and not msg.recipients and quiet > 60:
                self._close(msg, end_of_log=False)
            elif not msg.recipients:
                if quiet > EMPTY_QUIET_SECONDS:
                    self._close(msg, end_of_log=False)
            elif quiet > DONE_QUIET_SECONDS and all(
                r.outcome is not None for r in msg.recipients.values()
            ):
                self._close(msg, end_of_log=False)
        for key, closed_at in list(self._closed_recently.items()):
            if now - closed_at > RECENTLY_CLOSED_SECONDS:
                del self._closed_recently[key]
        for key, noticed in list(self._notices.items()):
            if now - noticed > RECENTLY_CLOSED_SECONDS:
                del self._notices[key]
        for key, notes in list(self._pending.items()):
            if now - notes[-1].time > PENDING_NOTE_SECONDS:
                del self._pending[key]

    def finish(self) -> None:
        """The log has ended: what is still open is held (or unknown), emit it all."""
        for msg in list(self._open.values()):
            self._close(msg, end_of_log=True)
        self._pending.clear()
        self._closed_recently.clear()
        self._notices.clear()


def _take_info(msg: Message, event: Arrival | MessageInfo) -> None:
    """Copy what an arrival or an info line says about the message (when it says it)."""
    if event.message_id is not None:
        msg.message_id = event.message_id
    if event.sender is not None:
        msg.sender = event.sender
    if event.size is not None:
        msg.size = event.size
    if event.nrcpt is not None:
        msg.nrcpt = event.nrcpt


_HOLD_STARTS = ("placed on hold", "frozen by ")
"""Queue actions that put a message on hold by decision of the admin or a content check
(Postfix `postsuper -h` and HOLD actions, Exim's `-Mf` logged as `frozen by root`)."""
_HOLD_ENDS = ("released from hold", "unfrozen by ")


def _track_hold(msg: Message, action: str, t: float) -> None:
    """Start or end a hold on `msg` at `t` (POSIX seconds), from a queue action's text."""
    if action.startswith(_HOLD_STARTS):
        if msg.hold_started is None:
            msg.hold_started = t
        msg.hold_reason = action
    elif action.startswith(_HOLD_ENDS) and msg.hold_started is not None:
        msg.hold_seconds += max(0.0, t - msg.hold_started)
        msg.hold_started = None
