"""Folding events into messages and recipients, releasing each message once it is done.

A message is keyed by host and queue id. Queue ids are reused (Postfix's short ids come
back after a while), so a key names one message only between its arrival and its removal:
`removed` closes it, and an arrival line for a key that already has delivery attempts
closes the old message first.

Memory is bounded by the mail in flight: a message is handed to the `emit` callback and
forgotten as soon as the MTA removes it from its queue. Messages whose removal line never
comes (a lost line, a rejected message) are done after a quiet period; deferred mail
stays, because it is still in flight. Whether a message is done by quiet is decided from
its own lines only (at its next line, or at the end), so the answer does not depend on
where a log was cut into slices; a periodic sweep frees memory for messages quiet well
beyond those periods.

*Slices.* A correlator can also read a slice of a log that does not start at the log's
beginning (`prior_unknown=True`). What such a slice cannot decide alone is kept for the
merge with the slice before it (`absorb`): the events of messages first seen without their
arrival (the *head*, replayed in order onto the earlier slice's state), the keys of
messages that arrived in the slice (`born`: an open message of the same key before them is
closed then), and the messages whose first delivery line of a process may take session
notes logged before the slice (`parked`, `awaiting`; only where notes are kept, see
`Correlator`). Merging slices in log order gives the one-pass answer; the rare case it
cannot reproduce sets `inexact`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maillog_diag.core.history import PackedAttempts
from maillog_diag.core.model import (
    Arrival,
    Attempt,
    Delivery,
    Event,
    Expired,
    LineRef,
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


SWEEP_MARGIN_SECONDS = 3600.0
"""The periodic memory sweep frees a message only once it has been quiet this much longer
than the period that makes it done, so that it never decides earlier than the message's
next line would (unless the log's stamps go back by more than this)."""

MAX_PENDING_NOTES = 8
"""Session notes without queue id kept per process (the most recent ones)."""

Key = tuple[str, str]
"""(host, queue id) of a message, or (host, pid) of a process."""


@dataclass(slots=True)
class PidRequest:
    """A delivery line whose process may have logged session notes before the slice began.

    When the earlier slice is merged, its pending notes for `(host, pid)` are inserted at
    `index` of the message's notes (the notes of this slice come after them); `own` counts
    the notes already in the process's list (at most `MAX_PENDING_NOTES` are kept)."""

    host: str
    pid: str
    time: float
    """POSIX seconds of the delivery line (notes older than `PENDING_NOTE_SECONDS` drop)."""
    index: int
    own: int


@dataclass(slots=True)
class ParkedMessage:
    """A finished message held back until its `requests` are answered by an earlier slice."""

    message: Message
    requests: list[PidRequest]


@dataclass(slots=True)
class HeadEvent:
    """An event of a slice that depends on what came before the slice, kept to be replayed.

    `notes` are the slice's own session notes that a delivery line took (None: not a
    delivery with a pid); `prior_notes` whether notes from before the slice may come first;
    `notice` a notice time this slice's own lines set for the key (None: none)."""

    event: Event
    notes: list[SessionNote] | None = None
    prior_notes: bool = False
    notice: float | None = None


@dataclass(slots=True)
class HeadReference:
    """An arrival that reports on a message the slice has not seen (Exim `R=<id>`)."""

    time: float
    host: str
    reference: str
    kind: str
    queue_id: str
    ref: LineRef | None = None


@dataclass(slots=True)
class HeadRetries:
    """A run of retries of a message the slice met without its arrival, folded into one
    item: the deferred deliveries and info lines (Postfix qmgr's `from=, size=, nrcpt=`
    before each queue run) that follow one of its deferred deliveries in the head, up to
    its next other line.

    Held mail is what a cut leaves open, and each held message is retried at every queue
    run: on the 1M-line bench log, 15,800 of a 33 MB slice's 17,800 head events were such
    retries, of 1,200 messages, and the merge replayed them one at a time. Applied after
    the deferred delivery before it, a retry only adds attempts, counts and info (the
    message is then open with a recipient in flight, so no retry can close it or start
    another), so the run is replayed as a whole (`Correlator._apply_retries`). Times are
    POSIX seconds; `first`/`last` the earliest and latest of the run's lines."""

    host: str
    queue_id: str
    first: float
    last: float
    orig: dict[str, str | None]
    """Every address the run attempts, in the order of its first attempt, with the
    original recipient that first attempt names (None: none, or an `also` address)."""
    attempts: dict[str, list[Attempt]]
    """Attempt records by address (a summary's form; each address's come before its
    `packed` ones)."""
    packed: dict[str, PackedAttempts] | None = None
    """The attempts in columns, by address, as the slice folded them (`core.history`): a
    worker's result ships these, not records; `settle_packed` turns them into records
    where a state is written out."""
    message_id: str | None = None
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    """The last value each info line stated (None: none stated one)."""
    arrived: float | None = None
    """The earliest arrival the run's `delay=` figures imply (POSIX seconds)."""

    def addresses(self) -> list[tuple[str, str | None, list[Attempt], PackedAttempts | None]]:
        """Each address with its original recipient, its records and its columns."""
        packs = self.packed or {}
        return [
            (address, orig, self.attempts.get(address) or [], packs.get(address))
            for address, orig in self.orig.items()
        ]


HeadItem = HeadEvent | HeadReference | HeadRetries

STATE_FIELDS = (
    "_open",
    "_pending",
    "_closed_recently",
    "_notices",
    "last_time",
    "first_time",
    "max_open",
    "prior_unknown",
    "_seen",
    "_buffering",
    "_pids_done",
    "head",
    "born",
    "awaiting",
    "parked",
    "inexact",
    "hosts",
)
"""The attributes that make up a correlator's state between slices (see `export`)."""

PACKED_FIELD = "_packed"
"""The key of the packed attempts in an exported state (not one of `STATE_FIELDS`: a state
written to a file has none, see `settle_packed`)."""

PACK_AT = 4
"""A recipient's deferred attempts move into its `PackedAttempts` once this many are held
as records: a message delivered at the first or second try never pays for packing, and a
held one keeps at most this many attempts as records (see `core.history`)."""

_MAX_TEXTS = 65536
"""Distinct attempt texts remembered for sharing (bounded: log text chooses them)."""

SWEEP_TEXTS = 4096
"""The sweep keeps only the texts of the mail in flight once more than this many (or
twice as many as it kept last time) are remembered: texts of mail long gone are not
shared by any later attempt worth the memory (on the 5M-line bench log they were 33,000
texts, 5 MB, at the end)."""


class Correlator:
    """Consumes events in log order; calls `emit(message)` for each finished message.

    `keep_lines` keeps every line of a message and its session notes (for `trace`);
    otherwise only the lines of delivery attempts are kept, as examples, and no note: a
    report reads none (a delivery line says what failed), and a held message's notes were
    about an eighth of the mail in flight's memory. `prior_unknown` reads a slice that
    does not start the log (see the module docstring).
    """

    def __init__(
        self,
        emit: Callable[[Message], None],
        *,
        keep_lines: bool = False,
        no_removal_line: frozenset[str] = frozenset(),
        prior_unknown: bool = False,
    ) -> None:
        self._emit = emit
        self._no_removal = no_removal_line
        """The `mta` values of MTAs that log no removal line: their messages close when
        every recipient is final (readers declare it, `Reader.logs_removal`)."""
        self._keep_lines = keep_lines
        self._open: dict[Key, Message] = {}
        self._pending: dict[Key, list[SessionNote]] = {}
        self._closed_recently: dict[Key, float] = {}
        self._notices: dict[Key, float] = {}
        """Queue ids of notices announced by their parent (MTAs that log no removal line)."""
        self._events = 0
        self._texts: dict[str, str] = {}
        """One copy of each relay, dsn and program text of the attempts in flight, and of
        each reply of the deferred ones: a message retried ninety times with the same
        reply keeps that reply once, not ninety times. (Not `delays`: almost every one is
        unique.)"""
        self._packed: dict[Key, dict[str, PackedAttempts]] = {}
        """Earlier attempts of recipients in flight, by message key and address. A message
        gets them back as records when it closes and for a live view (`_unpack`); an
        exported state carries them as `PACKED_FIELD`."""
        self._texts_limit = SWEEP_TEXTS
        """How many `_texts` the next sweep lets stand (see `SWEEP_TEXTS`)."""
        self.last_time: float | None = None
        self.first_time: float | None = None
        self.max_open = 0
        self.prior_unknown = prior_unknown
        self._seen: set[Key] = set()
        """(prior_unknown) Message keys this slice has met."""
        self._buffering: set[Key] = set()
        """(prior_unknown) Keys met without an arrival: their events go to `head`."""
        self._pids_done: set[Key] = set()
        """(prior_unknown) Processes whose pending notes this slice knows in full."""
        self.head: list[HeadItem] = []
        self.born: dict[Key, float] = {}
        """(prior_unknown) Keys whose first line here was an arrival, with its time."""
        self.awaiting: dict[Key, list[PidRequest]] = {}
        self.parked: list[ParkedMessage] = []
        self.inexact: str | None = None
        """Why merging could not reproduce the one-pass answer (None: it did)."""
        self.hosts: set[str] = set()
        """Hosts whose messages were met (summaries of different hosts merge)."""
        self._retrying: dict[Key, HeadRetries | None] = {}
        """(prior_unknown, reading) Buffered keys whose last head item is a deferred
        delivery (None) or the run of retries folded after one (see `HeadRetries`), not
        yet in `head`: it goes there before the key's next other item, or on `export`."""

    # -- state between slices -------------------------------------------------------

    def set_emit(self, emit: Callable[[Message], None]) -> None:
        """Where finished messages go from now on (after restoring a saved state)."""
        self._emit = emit

    def export(self) -> dict[str, object]:
        """The state between slices, by attribute name (`STATE_FIELDS`). The keys met
        (`_seen`) are left out: they are the keys of `born` and of the head's events.
        The packed attempts of open messages go as `_packed` when there are any: they stay
        packed into the next slice's merge and `finish` (unpacked there one message at a
        time, as each closes); `settle_packed` unpacks them where a state is written out."""
        self._end_retries()
        state = {name: getattr(self, name) for name in STATE_FIELDS if name != "_seen"}
        if self._packed:
            state[PACKED_FIELD] = self._packed
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Take a state `export` gave (possibly decoded from a summary file)."""
        for name in STATE_FIELDS:
            if name in state:
                setattr(self, name, state[name])
        self._packed = state.get(PACKED_FIELD) or {}
        if self.prior_unknown and "_seen" not in state:
            seen = set(self.born)
            for item in self.head:
                if isinstance(item, HeadEvent) and item.event.queue_id is not None:
                    seen.add((item.event.host, item.event.queue_id))
                elif isinstance(item, HeadRetries):
                    seen.add((item.host, item.queue_id))
            self._seen = seen

    # -- reading --------------------------------------------------------------------

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
            if event.host not in self.hosts:
                self.hosts.add(event.host)
            if len(self._open) > self.max_open:
                self.max_open = len(self._open)
        return msg

    def message(self, host: str, queue_id: str) -> Message | None:
        """The open message with this key, if any (for a live view: read, do not change)."""
        msg = self._open.get((host, queue_id))
        if msg is not None and self._packed:
            self._unpack(msg)
        return msg

    def open_messages(self) -> list[Message]:
        """The messages still in flight (for a live view: read, do not change)."""
        self._unpack_all()
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
            if self._keep_lines and isinstance(event, SessionNote):
                pending = self._pending.setdefault((event.host, event.pid), [])
                pending.append(event)
                if len(pending) > MAX_PENDING_NOTES:
                    del pending[0]
            return
        if self.prior_unknown:
            key = (event.host, qid)
            if key in self._buffering:
                if key in self._retrying and self._fold(event, key):
                    return
                self._buffer(HeadEvent(event), key)
                self._note_retrying(event, key)
                return
            if key not in self._seen:
                self._seen.add(key)
                if isinstance(event, Arrival):
                    self.born[key] = t
                else:
                    self._buffering.add(key)
                    self._buffer(HeadEvent(event), key)
                    self._note_retrying(event, key)
                    return
        self._apply(event, qid, None)

    def _note_retrying(self, event: Event, key: Key) -> None:
        """After a buffered event of `key`: whether its next retries may fold (it was a
        deferred delivery, and the key is still buffered: not after a removal)."""
        if (
            not self._keep_lines
            and isinstance(event, Delivery)
            and event.status is Status.DEFERRED
            and key in self._buffering
        ):
            self._retrying[key] = None

    def _fold(self, event: Event, key: Key) -> bool:
        """Fold a retry of `key` (a deferred delivery or an info line) into its run of
        retries (`HeadRetries`); False for any other event, which is buffered as itself.
        (A notice this slice set for the key is handed on with the event: not folded.)"""
        if isinstance(event, Delivery):
            if event.status is not Status.DEFERRED:
                return False
        elif not isinstance(event, MessageInfo):
            return False
        if self._notices and key in self._notices:
            return False
        t = event.time
        run = self._retrying.get(key)
        if run is None:
            run = HeadRetries(event.host, key[1], t, t, {}, {}, {})
            self._retrying[key] = run
        if t < run.first:
            run.first = t
        if t > run.last:
            run.last = t
        if isinstance(event, MessageInfo):
            _info_into(run, event)
            return True
        assert isinstance(event, Delivery)
        if event.delay is not None:
            inferred = t - event.delay
            if run.arrived is None or inferred < run.arrived:
                run.arrived = inferred
        attempt = self._attempt_record(event)
        self._fold_attempt(run, event.recipient, event.orig_recipient, attempt)
        for address in event.also:
            self._fold_attempt(run, address, None, attempt)
        return True

    @staticmethod
    def _fold_attempt(run: HeadRetries, address: str, orig: str | None, attempt: Attempt) -> None:
        packs = run.packed
        if packs is None:
            packs = run.packed = {}
        packed = packs.get(address)
        if packed is None:
            packed = packs[address] = PackedAttempts()
            run.orig.setdefault(address, orig)
        packed.add(attempt)

    def _end_retries(self, key: Key | None = None) -> None:
        """Put the folded runs of retries still open (of `key`, or all) into `head`."""
        if not self._retrying:
            return
        if key is not None:
            run = self._retrying.pop(key, None)
            if run is not None:
                self.head.append(run)
            return
        for run in self._retrying.values():
            if run is not None:
                self.head.append(run)
        self._retrying.clear()

    def _buffer(self, item: HeadEvent, key: Key) -> None:
        """Keep an event for the merge; take this slice's notes and notice it would use."""
        if self._retrying:
            self._end_retries(key)
        event = item.event
        if self._keep_lines and isinstance(event, Delivery) and event.pid is not None:
            pkey = (event.host, event.pid)
            if item.notes is None:
                item.notes, item.prior_notes = self._pending.pop(pkey, None) or [], True
            elif item.prior_notes:
                own = self._pending.pop(pkey, None) or []
                item.notes = (own + item.notes)[-MAX_PENDING_NOTES:]
            if item.prior_notes and pkey in self._pids_done:
                item.prior_notes = False
            self._pids_done.add(pkey)
        if self._notices:
            noticed = self._notices.pop(key, None)
            if item.notice is None and noticed is not None:
                item.notice = noticed
        self.head.append(item)
        if isinstance(event, Removed):
            # After a removal the key starts afresh: later lines need nothing earlier.
            self._buffering.discard(key)

    def replay(self, item: HeadItem) -> None:
        """Apply an item of a later slice's head (see `absorb`)."""
        if isinstance(item, HeadReference):
            self._reference(
                item.host, item.reference, item.time, item.kind, item.queue_id, item.ref
            )
            return
        if isinstance(item, HeadRetries):
            self._replay_retries(item)
            return
        event = item.event
        assert event.queue_id is not None
        t = event.time
        if self.first_time is None or t < self.first_time:
            self.first_time = t
        if self.last_time is None or t > self.last_time:
            self.last_time = t
        if self.prior_unknown:
            key = (event.host, event.queue_id)
            if key in self._buffering or key not in self._seen:
                self._seen.add(key)
                self._buffering.add(key)
                self._buffer(item, key)
                return
        self._apply(event, event.queue_id, item)

    def _replay_retries(self, run: HeadRetries) -> None:
        """Apply a later slice's folded retries (see `HeadRetries`), or keep them in this
        state's head where the key's earlier lines are unknown here too."""
        if self.first_time is None or run.first < self.first_time:
            self.first_time = run.first
        if self.last_time is None or run.last > self.last_time:
            self.last_time = run.last
        key = (run.host, run.queue_id)
        if self.prior_unknown and (key in self._buffering or key not in self._seen):
            self._seen.add(key)
            self._buffering.add(key)
            if self._notices and key in self._notices:
                self.inexact = self.inexact or _run_across(key)
            self.head.append(run)
            return
        self._apply_retries(run)

    def _apply_retries(self, run: HeadRetries) -> None:
        """Add a run of retries to its open message as its lines one by one would have.

        The deferred delivery before the run left the message open with a recipient in
        flight, so none of the run's lines closes it or starts another, and none is a late
        line of a closed one; a notice waiting for the key would be taken by the run's
        first line. Where this state does not show that (possible only where queue ids of
        MTAs that log no removal meet another MTA's), it cannot vouch for the answer:
        `inexact` (the scan is read again in one pass)."""
        key = (run.host, run.queue_id)
        msg = self._open.get(key)
        if (
            msg is None
            or (self._closed_recently and key in self._closed_recently)
            or (self._notices and key in self._notices)
            or all(r.outcome is not None for r in msg.recipients.values())
        ):
            self.inexact = self.inexact or _run_across(key)
            return
        if run.last > msg.last_seen:
            msg.last_seen = run.last
        if run.arrived is not None and not msg.arrival_seen:
            if msg.arrived is None or run.arrived < msg.arrived:
                msg.arrived = run.arrived
        _info_into(msg, run)
        for address, orig, records, packed in run.addresses():
            if records:
                first = records[0].time
            elif packed is not None and len(packed):
                first = packed.times[0]
            else:
                continue
            count = len(records) + (len(packed) if packed is not None else 0)
            rcpt = msg.recipients.get(address)
            if rcpt is None:
                rcpt = Recipient(address, orig)
                msg.recipients[address] = rcpt
            if self._keep_lines:
                rcpt.attempts.extend(records)
                if packed is not None:
                    rcpt.attempts.extend(packed.unpack())
            else:
                self._pack(msg, rcpt)
                store = self._packed[key][address]
                for attempt in records:
                    store.add(attempt)
                if packed is not None:
                    store.extend(packed)
            rcpt.deferrals += count
            if rcpt.first_deferred is None:
                rcpt.first_deferred = first
            if rcpt.outcome is not None and rcpt.outcome is not Outcome.HELD:
                rcpt.outcome = None
                rcpt.final_time = None

    def _apply(self, event: Event, qid: str, item: HeadEvent | None) -> None:
        t = event.time
        key = (event.host, qid)
        if self._closed_recently:
            closed_at = self._closed_recently.get(key)
            if closed_at is not None:
                if (
                    isinstance(event, (Arrival, Delivery))
                    or t - closed_at > RECENTLY_CLOSED_SECONDS
                ):
                    del self._closed_recently[key]
                else:
                    if item is not None and item.notice is not None:
                        self._notices[key] = item.notice
                    return  # a late line about a message already closed without removal line
        msg = self._open.get(key)
        if msg is not None and t - msg.last_seen > 60 and _stale(msg, t):
            self._close(msg, end_of_log=False)
            msg = None
        if msg is not None and isinstance(event, Arrival):
            if msg.recipients or msg.removed_at is not None:
                # The queue id was reused and we missed the old message's removal.
                self._close(msg, end_of_log=False)
                msg = None
        if msg is None:
            msg = self._message(event, qid)
        noticed: float | None = None
        if self._notices:
            noticed = self._notices.pop(key, None)
        if item is not None and item.notice is not None:
            noticed = item.notice
        if noticed is not None and t - noticed <= RECENTLY_CLOSED_SECONDS:
            self._notice_message(msg, noticed)
        if t > msg.last_seen:
            msg.last_seen = t
        if self._keep_lines and event.ref is not None:
            msg.lines.append(event.ref)

        if isinstance(event, Delivery):
            self._delivery(msg, event, item)
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
                kind = event.notice or "sender notification"
                self._reference(event.host, event.reference, t, kind, qid, event.ref)
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
            if self._keep_lines:
                msg.notes.append(event)
        elif isinstance(event, QueueAction):
            if self._keep_lines:
                msg.notes.append(
                    SessionNote(t, event.host, event.mta, qid, event.ref, text=event.action)
                )
            _track_hold(msg, event.action, t)

    def _reference(
        self, host: str, reference: str, t: float, kind: str, qid: str, ref: LineRef | None
    ) -> None:
        """Note a notice (queue id `qid`) on the message it reports on, if that is open."""
        target = (host, reference)
        about = self._open.get(target)
        if about is not None:
            about.notifications.append((t, kind, qid))
            if self._keep_lines and ref is not None:
                about.lines.append(ref)
        elif self.prior_unknown and (target not in self._seen or target in self._buffering):
            self.head.append(HeadReference(t, host, reference, kind, qid, ref))

    def _delivery(self, msg: Message, ev: Delivery, item: HeadEvent | None) -> None:
        if ev.pid is not None and self._keep_lines:
            pkey = (ev.host, ev.pid)
            if item is None or item.prior_notes:
                pending = self._pending.pop(pkey, None) or []
                if item is not None and item.notes:
                    pending = (pending + item.notes)[-MAX_PENDING_NOTES:]
                if self.prior_unknown and pkey not in self._pids_done:
                    request = PidRequest(ev.host, ev.pid, ev.time, len(msg.notes), len(pending))
                    self.awaiting.setdefault((msg.host, msg.queue_id), []).append(request)
                if self.prior_unknown:
                    self._pids_done.add(pkey)
            else:
                pending = item.notes or []
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

    def _attempt(self, msg: Message, ev: Delivery, address: str, orig: str | None) -> None:
        rcpt = msg.recipients.get(address)
        if rcpt is None:
            rcpt = Recipient(address, orig)
            msg.recipients[address] = rcpt
        status = ev.status
        rcpt.attempts.append(self._attempt_record(ev))
        if status is Status.DEFERRED:
            if len(rcpt.attempts) >= PACK_AT and not self._keep_lines:
                self._pack(msg, rcpt)
            rcpt.deferrals += 1
            if rcpt.first_deferred is None:
                rcpt.first_deferred = ev.time
            if rcpt.outcome is not None and rcpt.outcome is not Outcome.HELD:
                # Requeued after a final status (e.g. postsuper -r): in flight again.
                rcpt.outcome = None
                rcpt.final_time = None
        else:
            rcpt.outcome = _FINAL[status]
            rcpt.final_time = ev.time

    def _attempt_record(self, ev: Delivery) -> Attempt:
        """The attempt a delivery line records, its repeated texts shared.

        Attempts in flight share their repeated texts (see `_texts`): a deferred one stays
        until its message goes, and so does a final one while another recipient of its
        message is held (at the end of the 5M-line bench log, about 3,000 of the 5,100
        attempt records in flight were such deliveries). A final attempt's reply is its
        own (a sent reply names the receiver's queue id), so it is not looked up."""
        relay, dsn, reply, delays, program = ev.relay, ev.dsn, ev.reply, ev.delays, ev.program
        status = ev.status
        texts = self._texts
        if len(texts) > _MAX_TEXTS - 4:
            texts.clear()  # only a cache of copies: nothing is lost
        share = texts.setdefault
        if relay is not None:
            relay = share(relay, relay)
        if dsn is not None:
            dsn = share(dsn, dsn)
        if program is not None:
            # (each line's program name is a string of its own: one per attempt held)
            program = share(program, program)
        if reply is not None and status is Status.DEFERRED:
            reply = share(reply, reply)
        return Attempt(
            ev.time,
            status,
            relay,
            dsn,
            reply,
            delays,
            ev.suspended,
            ev.stage,
            ev.ref,
            ev.handoff,
            program,
        )

    def _pack(self, msg: Message, rcpt: Recipient) -> None:
        """Move a recipient's attempt records into its packed store (`trace`, which keeps
        every line, shares their references with `msg.lines`: it never packs)."""
        key = (msg.host, msg.queue_id)
        packs = self._packed.get(key)
        if packs is None:
            packs = self._packed[key] = {}
        packed = packs.get(rcpt.address)
        if packed is None:
            packed = packs[rcpt.address] = PackedAttempts()
        for attempt in rcpt.attempts:
            packed.add(attempt)
        del rcpt.attempts[:]

    def _unpack(self, msg: Message) -> None:
        """Give a message's recipients their packed attempts back, as records, first."""
        key = (msg.host, msg.queue_id)
        if self._open.get(key) is not msg:
            return  # (packs are only made for the open message of a key)
        packs = self._packed.pop(key, None)
        if packs is None:
            return
        for address, packed in packs.items():
            rcpt = msg.recipients[address]
            rcpt.attempts[:0] = packed.unpack()

    def _unpack_all(self) -> None:
        """`_unpack` every open message that has packed attempts."""
        for key in list(self._packed):
            msg = self._open.get(key)
            if msg is None:  # (cannot happen: a message is unpacked when it closes)
                del self._packed[key]
            else:
                self._unpack(msg)

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
        until the notice's own first line (at most `RECENTLY_CLOSED_SECONDS` later)."""
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
        key = (msg.host, msg.queue_id)
        if self._packed:
            self._unpack(msg)
        self._open.pop(key, None)
        if end_of_log:
            msg.log_end = self.last_time
        for rcpt in msg.recipients.values():
            if rcpt.outcome is None:
                if end_of_log and msg.removed_at is None:
                    rcpt.outcome = Outcome.HELD
                else:
                    rcpt.outcome = Outcome.UNKNOWN
        if self.awaiting:
            requests = self.awaiting.pop(key, None)
            if requests is not None:
                self.parked.append(ParkedMessage(msg, requests))
                return
        self._emit(msg)

    def _sweep(self, now: float) -> None:
        """Free memory: messages done by quiet long ago, expired links and notes."""
        margin = SWEEP_MARGIN_SECONDS
        for msg in list(self._open.values()):
            if _stale(msg, now - margin):
                self._close(msg, end_of_log=False)
        for key, closed_at in list(self._closed_recently.items()):
            if now - closed_at > RECENTLY_CLOSED_SECONDS + margin:
                del self._closed_recently[key]
        for key, noticed in list(self._notices.items()):
            if now - noticed > RECENTLY_CLOSED_SECONDS + margin:
                del self._notices[key]
        for key, notes in list(self._pending.items()):
            if now - notes[-1].time > PENDING_NOTE_SECONDS + margin and (
                not self.prior_unknown or key in self._pids_done
            ):
                del self._pending[key]
        if len(self._texts) > self._texts_limit:
            self._keep_texts_in_flight()

    def _keep_texts_in_flight(self) -> None:
        """Forget the shared texts no open message uses (the copies stay where they are
        used; a later attempt with a forgotten text keeps a copy of its own). Rebuilt only
        when the texts doubled, so the walk over the mail in flight costs O(1) a text."""
        kept: dict[str, str] = {}
        keep = kept.setdefault
        for msg in self._open.values():
            for rcpt in msg.recipients.values():
                for attempt in rcpt.attempts:
                    for text in (
                        attempt.relay,
                        attempt.dsn,
                        attempt.reply,
                        attempt.program,
                    ):
                        if text is not None:
                            keep(text, text)
        for packs in self._packed.values():
            for packed in packs.values():
                for text in packed.shared_texts():
                    keep(text, text)
        for run in self._retrying.values():
            for packed in (run.packed or {}).values() if run is not None else ():
                for text in packed.shared_texts():
                    keep(text, text)
        self._texts = kept
        self._texts_limit = max(SWEEP_TEXTS, 2 * len(kept))

    def finish(self) -> None:
        """The log has ended: what is still open is held (or unknown), emit it all. (Each
        message is let go once emitted: its unpacked attempts are not all alive at once.)"""
        for key in list(self._open):
            msg = self._open.get(key)
            if msg is not None:
                self._close(msg, end_of_log=True)
        for parked in self.parked:
            self._emit(parked.message)
        self.parked.clear()
        self._pending.clear()
        self._closed_recently.clear()
        self._notices.clear()

    # -- merging slices -------------------------------------------------------------

    def absorb(self, later: Correlator) -> None:
        """Continue this correlator's state with a later slice's correlator: afterwards
        this one stands for both slices read one after the other."""
        if later.inexact and not self.inexact:
            self.inexact = later.inexact
        for item in later.head:
            self.replay(item)
        for key, t in later.born.items():
            self._born(key, t)
        for key, requests in later.awaiting.items():
            msg = later._open[key]
            left = [r for r in requests if not self._answer(msg, r)]
            if left:
                self.awaiting[key] = left
        for parked in later.parked:
            left = [r for r in parked.requests if not self._answer(parked.message, r)]
            if left:
                self.parked.append(ParkedMessage(parked.message, left))
            else:
                self._emit(parked.message)
        for pkey, notes in later._pending.items():
            if pkey in later._pids_done or not later.prior_unknown:
                self._pending[pkey] = notes
            else:
                self._pending[pkey] = (self._pending.get(pkey, []) + notes)[-MAX_PENDING_NOTES:]
        self._closed_recently.update(later._closed_recently)
        self._notices.update(later._notices)
        if self._packed:
            for key in later._open.keys() & self._packed.keys():
                self._unpack(self._open[key])  # (the later slice's message replaces it)
        self._open.update(later._open)
        self._packed.update(later._packed)
        if self.prior_unknown:
            self._seen |= later._seen
            self._pids_done |= later._pids_done
        for name in ("first_time", "last_time"):
            mine, theirs = getattr(self, name), getattr(later, name)
            if theirs is not None and (
                mine is None or (theirs < mine if name == "first_time" else theirs > mine)
            ):
                setattr(self, name, theirs)
        self.max_open = max(self.max_open, later.max_open)
        self.hosts |= later.hosts

    def _born(self, key: Key, t: float) -> None:
        """A later slice's message `key` arrived at `t`: settle what this state holds for
        the same key, as the arrival line would have in one pass."""
        if self.prior_unknown and (key not in self._seen or key in self._buffering):
            self._seen.add(key)
            self._buffering.discard(key)
            self.born.setdefault(key, t)
            return
        self._closed_recently.pop(key, None)
        old = self._open.get(key)
        if old is not None:
            if _stale(old, t) or old.recipients or old.removed_at is not None:
                self._close(old, end_of_log=False)
            else:
                self.inexact = f"queue id {key[1]} of {key[0]} arrived again across a cut"
        noticed = self._notices.pop(key, None)
        if noticed is not None and t - noticed <= RECENTLY_CLOSED_SECONDS:
            self.inexact = f"a notice for queue id {key[1]} of {key[0]} spans a cut"

    def _answer(self, msg: Message, request: PidRequest) -> bool:
        """Insert this state's pending notes for a later slice's delivery line; True when
        nothing earlier can add more."""
        pkey = (request.host, request.pid)
        earlier = self._pending.pop(pkey, None) or []
        room = MAX_PENDING_NOTES - request.own
        kept = earlier[-room:] if room > 0 else []
        notes = [n for n in kept if request.time - n.time <= PENDING_NOTE_SECONDS]
        msg.notes[request.index : request.index] = notes
        if not self.prior_unknown or pkey in self._pids_done:
            return True
        self._pids_done.add(pkey)
        request.own += len(earlier)
        return False


def _run_across(key: Key) -> str:
    return f"retries of queue id {key[1]} of {key[0]} could not be replayed across a cut"


def _stale(msg: Message, now: float) -> bool:
    """Whether a message is done by quiet at `now` (POSIX seconds): rejected without
    recipients for a minute, without recipients for `EMPTY_QUIET_SECONDS`, or with every
    recipient final for `DONE_QUIET_SECONDS`."""
    quiet = now - msg.last_seen
    if quiet <= 60:
        return False
    if not msg.recipients:
        return msg.rejected is not None or quiet > EMPTY_QUIET_SECONDS
    return quiet > DONE_QUIET_SECONDS and all(
        r.outcome is not None for r in msg.recipients.values()
    )


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


def _info_into(target: Message | HeadRetries, source: MessageInfo | HeadRetries) -> None:
    """`_take_info` for a run of retries: what an info line says goes into the run, and
    what the run's info lines said into the message (off the hot path: unions)."""
    if source.message_id is not None:
        target.message_id = source.message_id
    if source.sender is not None:
        target.sender = source.sender
    if source.size is not None:
        target.size = source.size
    if source.nrcpt is not None:
        target.nrcpt = source.nrcpt


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


def settle_packed(state: dict[str, Any]) -> None:
    """Give the open messages of an exported state their packed attempts back as records,
    in place, and drop the packs: for a state written to a summary or a state file, whose
    format has only records."""
    for item in state.get("head") or ():
        if isinstance(item, HeadRetries) and item.packed is not None:
            for address, packed in item.packed.items():
                item.attempts[address] = (item.attempts.get(address) or []) + packed.unpack()
            item.packed = None
    packs = state.pop(PACKED_FIELD, None)
    if not packs:
        return
    open_messages = state.get("_open") or {}
    for key, by_address in packs.items():
        msg = open_messages.get(key)
        if msg is None:
            continue
        for address, packed in by_address.items():
            rcpt = msg.recipients[address]
            rcpt.attempts[:0] = packed.unpack()
