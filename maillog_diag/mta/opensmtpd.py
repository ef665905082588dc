"""OpenSMTPD: the transformer for `grammars/opensmtpd.lark` and the reader that feeds it.

OpenSMTPD logs through syslog as `smtpd[PID]:`. Since 6.x every line about a session
starts with the session id (16 hex digits); 5.x wrote `smtp-in:` / `smtp-out:` / `relay:` /
`delivery:` sentences instead. Both are read.

Choices worth knowing:

* A message is identified by its message id (`msgid=`, 8 hex digits), the queue id of the
  events. Each recipient is an envelope (`evpid=`, 16 hex digits, the first 8 of which are
  the message id): an envelope line belongs to the message of its first 8 digits. The
  `msgid` is OpenSMTPD's own, not the Message-ID header (which OpenSMTPD does not log):
  `Message.message_id` stays unset.
* `smtp message msgid=M size=N nrcpt=N` is the arrival; its client is the one of the
  session's `smtp connected` line (`local` for mail submitted on the machine). Each
  `smtp envelope` line that follows names the sender (a `MessageInfo`).
* `mta delivery` and `mda delivery` are attempts: `result="Ok"` is SENT, `TempFail`
  DEFERRED, `PermFail` BOUNCED (a mail loop is logged as `PermFail` with `Loop
  detected`). `stat=` is the receiver's reply, or OpenSMTPD's own words. `delay=` (e.g.
  `1h2m3s`) is the time since the envelope was created: it places the arrival of a message
  whose first lines are before the log.
* A delivery through a session to loopback at a port other than 25 is a hand-off to a
  content filter on this host (`Delivery.handoff`): the filter submits the mail again,
  and that new message is the one delivered to the recipient's domain.
* OpenSMTPD logs no line when a message leaves the queue (`logs_removal` is False): a
  message is done when all the envelopes its arrival announced (`nrcpt`) are final.
  `relay: Expire for <evpid>: ... stat=Envelope expired` is the end of one envelope (its
  queue lifetime ran out, a bounce goes to the sender): an EXPIRED verdict for that
  recipient (not an `Expired` event: that would end every envelope of the message, and
  envelopes of one message may have different lifetimes, one per action; so a message's
  own `expired` time stays unset). `relay: Remove for <evpid>` is an administrator's
  removal. A bounce or delay notice is a new message from `<>` submitted through a local
  session; no line links it to the message it reports on.
* When every route to a destination failed, OpenSMTPD fails the waiting envelopes as a
  whole, without a session (session id `0000000000000000`, `source="-"`) and with a
  summary: `stat="Network error on destination MXs"`. The receiver's words (a 421
  banner, a refused connection, a greeting that never came) are only on the failing
  session's `mta error reason=...` line, and that session's `mta connecting` line names
  the host. The reader keeps the latest session error per host and gives it to such a
  delivery when the line's `relay=` names that host (the smarthost of a `relay host`
  action, or an address), until OpenSMTPD logs the route to it enabled again: the
  delivery then has the session's reason, host and id (`Delivery.pid`, which links the
  session's `SessionNote` to the message, as Postfix's session lines are linked). Where
  `relay=` names what the session does not (the recipient's domain with MX relaying, or
  a smarthost's name when the session names its address's reverse-DNS name), the link
  goes through the routes: each failed session takes its route out of use (`smtp-out:
  Disabling route [] <-> <address> (<name>) for 15s`, until `Enabling route`), and
  `smtp-out: No valid route for [connector:...[relay:<name>,...]]` says that every route
  of that relay is out of use. If exactly one route is out of use then, it is that
  relay's, and its session's failure is the reason; if several are, the log does not say
  which of them are the relay's and the summary stays the reason. That session and route
  state lives in the reader (`carries_state`): a scan cut inside an OpenSMTPD log is read
  again in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from lark import Token
from lark.visitors import Transformer, v_args  # (not `from lark`: mypyc, see `syntax/lalr.py`)

from maillog_diag.core.classify import Stage
from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Event,
    MessageInfo,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.input.timestamps import TimeParser
from maillog_diag.mta.base import LineShapeError, SyslogHeader, checked_delay, listed_fields
from maillog_diag.syntax.grammars import load_grammar, terminal_regex
from maillog_diag.syntax.lalr import FastLALR

MTA = "opensmtpd"

NO_SESSION: Final = "0000000000000000"
"""The session id of delivery lines written without a session (a relay failed as a whole)."""

RELAY_SUMMARIES: Final = frozenset(
    {"Network error on destination MXs", "Destination seem to reject all mails"}
)
"""`stat=` texts that sum up the failed sessions to a destination (OpenSMTPD's words for
a relay whose every route failed); the receiver's reply is on the sessions' error lines."""

LINK_SECONDS: Final = 3600.0
"""How old a session error may be to explain a relay summary (seconds): OpenSMTPD keeps a
failed route out of use for at most an hour (15 s times the square of its penalty)."""

_MAX_SESSIONS = 20_000
"""Sessions remembered (client of inbound sessions, host of outbound ones): the oldest
are forgotten first. Log text chooses the ids, so the memory must be bounded."""

_STATUS = {
    "Ok": Status.SENT,
    "TempFail": Status.DEFERRED,
    "PermFail": Status.BOUNCED,
    "Loop": Status.BOUNCED,
    "Expire": Status.EXPIRED,
}
_DURATION = re.compile(r"(-)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
_ENHANCED = re.compile(r"\b[245][0-9][0-9][ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")
_CONNECT_ADDRESS = re.compile(r"[a-z+]+://(\[[^\]]*\]|[^ :]*)(?::([0-9]+))?")
_LOOPBACK = ("127.", "::1", "IPv6:::1")
_REPLY_STAGES = (
    ("BANNER rejected", Stage.GREETING.value),
    ("EHLO rejected", Stage.HELO.value),
    ("HELO rejected", Stage.HELO.value),
    ("LHLO rejected", Stage.HELO.value),
    ("STARTTLS rejected", Stage.STARTTLS.value),
    ("TLS required but not supported", Stage.STARTTLS.value),
)


def duration_seconds(text: str | None) -> float | None:
    """OpenSMTPD's duration (`0s`, `6m51s`, `1d2h`) in seconds; None if not one.

    OpenSMTPD writes a negative one (`-5s`) when the clock went back since the envelope was
    created: that is no time on the queue, and it is not used (None) rather than trusted.
    """
    if not text:
        return None
    m = _DURATION.match(text)
    if m is None or m[1] or not any(m.groups()[1:]):
        return None
    d, h, mi, s = (int(g) if g else 0 for g in m.groups()[1:])
    return float(d * 86400 + h * 3600 + mi * 60 + s)


def _unbracket(value: str) -> str:
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _relay(value: str | None) -> str | None:
    """`127.0.0.10 (mx.example.com)` (address, then the host's name) as
    `mx.example.com[127.0.0.10]`, Postfix's way; a bare name stays as it is."""
    if not value or value == "-":
        return None
    address, sep, name = value.partition(" (")
    if not sep or not name.endswith(")"):
        return value
    name = name[:-1]
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    return f"{name or address}[{address}]"


def _cut(text: str, keys: tuple[str, ...]) -> list[str]:
    """The values between fixed separators, in order: `keys[i]` must follow the value
    before it. Plain searches from left to right (linear in the length of `text`)."""
    values: list[str] = []
    pos = 0
    for i, key in enumerate(keys):
        at = text.find(key, pos)
        if at < 0:
            raise LineShapeError(f"OpenSMTPD line without {key.strip()!r}")
        if i:
            values.append(text[pos:at])
        pos = at + len(key)
    values.append(text[pos:])
    return values


def _fields(text: str) -> dict[str, str]:
    """5.x `key=value, key=value, ...` up to `stat=` (which runs to the end of the line);
    the words inside an address are part of it (`listed_fields`)."""
    return {key: value.rstrip(", ") for key, value in listed_fields(text, "stat").items()}


def _dsn(text: str | None) -> str | None:
    m = _ENHANCED.search(text) if text else None
    return m[1] if m is not None else None


@dataclass(slots=True)
class _Outbound:
    """An outbound session: the host it connects to, and whether the connection was made."""

    name: str
    address: str
    port: str | None
    connected: bool = False


@dataclass(frozen=True, slots=True)
class SessionError:
    """The failure of one outbound session (`mta error reason=...`), kept per host."""

    time: float
    session: str
    reason: str
    relay: str
    """The host as `name[address]`."""
    stage: str | None


def _stage(reason: str, connected: bool) -> str | None:
    """The SMTP stage of a session error, when the log says it."""
    for prefix, stage in _REPLY_STAGES:
        if reason.startswith(prefix):
            return stage
    return None if connected else Stage.CONNECT.value


def _remember(memory: dict[Any, Any], key: Hashable, value: Any) -> None:
    """Insert into a bounded dict (the oldest entries go first)."""
    memory.pop(key, None)
    memory[key] = value
    if len(memory) > _MAX_SESSIONS:
        for old in list(memory)[: _MAX_SESSIONS // 4]:
            del memory[old]


@v_args(inline=True)
class OpenSMTPDTransformer(Transformer[Token, Any]):
    """Builds one event per line shape; `time_parser` belongs to the input stream.

    It also keeps what session lines say (client of an inbound session, host and failure
    of an outbound one) for the delivery lines that need it.
    """

    def __init__(self, time_parser: TimeParser) -> None:
        super().__init__()
        self._header = SyslogHeader(time_parser)
        self._head = self._header.read
        self._inbound: dict[str, str] = {}
        self._outbound: dict[str, _Outbound] = {}
        self._errors: dict[str, SessionError] = {}
        self._spent: dict[tuple[str, float], None] = {}
        """Session errors already given to an envelope's verdict: one failed connection
        defers every envelope of the route, and only the first of them was a try."""
        self._disabled: dict[str, str] = {}
        """Routes out of use: address -> host name (`Disabling route` to `Enabling route`)."""
        self._relay_route: dict[str, str] = {}
        """Relay name -> the address of its one route out of use (`No valid route for`)."""

    def start_input(self, value: TimeParser) -> None:
        """A new input begins: its stamps are read by `value` (a method, not a property
        setter, so that mypyc can compile this module: see `pyproject.toml`)."""
        self._header.time_parser = value
        self._inbound.clear()
        self._outbound.clear()
        self._errors.clear()
        self._spent.clear()
        self._disabled.clear()
        self._relay_route.clear()

    # -- session lines ---------------------------------------------------------------

    def inbound(self, header: str, program: str, sid: str, body: str) -> str:
        address, host = _cut(body, ("smtp connected address=", " host="))
        client = "local" if address == "local" else f"{host}[{address}]"
        _remember(self._inbound, sid[:-1], client)
        return "opensmtpd inbound session"

    def in_new_session(self, header: str, program: str, body: str) -> str:
        sid, rest = _cut(body, ("smtp-in: New session ", " from host "))
        name, _, address = rest.partition(" [")
        _remember(self._inbound, sid, f"{name}[{address.rstrip(']')}]")
        return "opensmtpd inbound session"

    def _connecting(self, sid: str, url: str, name: str) -> None:
        m = _CONNECT_ADDRESS.match(url)
        address, port = (m[1].strip("[]"), m[2]) if m is not None else (url, None)
        _remember(self._outbound, sid, _Outbound(name or address, address, port))

    def connecting(self, header: str, program: str, sid: str, body: str) -> str:
        url, name = _cut(body, ("mta connecting address=", " host="))
        self._connecting(sid[:-1], url, name)
        return "opensmtpd outbound connection"

    def out_connecting(self, header: str, program: str, body: str) -> str:
        url, name, sid = _cut(body, ("smtp-out: Connecting to ", " (", ") on session "))
        self._connecting(sid.rstrip("."), url, name)
        return "opensmtpd outbound connection"

    def connected(self, header: str, program: str, sid: str, body: str) -> str:
        session = self._outbound.get(sid[:-1])
        if session is not None:
            session.connected = True
        return "opensmtpd outbound connection"

    def _session_error(self, header: str, sid: str, reason: str) -> SessionNote:
        time, host = self._head(header)
        session = self._outbound.get(sid)
        if session is not None:
            failure = SessionError(
                time,
                sid,
                reason,
                f"{session.name}[{session.address}]",
                _stage(reason, session.connected),
            )
            _remember(self._errors, session.address, failure)
            _remember(self._errors, session.name, failure)
        return SessionNote(time, host, MTA, None, pid=sid, text=reason)

    def session_error(self, header: str, program: str, sid: str, body: str) -> SessionNote:
        return self._session_error(header, sid[:-1], body[len("mta error reason=") :])

    def out_session_error(self, header: str, program: str, body: str) -> SessionNote:
        rest = body[len("smtp-out: Error on session ") :]
        sid = rest[:16]
        return self._session_error(header, sid, rest[rest.index(": ") + 2 :])

    def route(self, header: str, program: str, body: str) -> str:
        address, name = _cut(body, (" <-> ", " (", ")"))[:2]
        if body.startswith("smtp-out: Enabling"):
            # back in use: a later relay failure has a later session error
            for key in (address, name):
                self._errors.pop(key, None)
            self._disabled.pop(address, None)
        else:
            _remember(self._disabled, address, name)
        return "opensmtpd route state"

    def no_route(self, header: str, program: str, body: str) -> str:
        rest = body[body.index("[relay:") + 7 :]
        relay = rest[: min(i for i in (rest.find(","), rest.find("]"), len(rest)) if i >= 0)]
        if len(self._disabled) == 1:
            _remember(self._relay_route, relay, next(iter(self._disabled)))
        else:
            self._relay_route.pop(relay, None)  # several (or no) routes out: which is not said
        return "opensmtpd outbound routing"

    # -- messages ------------------------------------------------------------------

    def message(self, header: str, program: str, sid: str, body: str) -> Arrival:
        time, host = self._head(header)
        msgid, size, nrcpt = _cut(body, ("msgid=", " size=", " nrcpt="))
        return Arrival(
            time,
            host,
            MTA,
            msgid,
            client=self._inbound.get(sid[:-1]),
            size=int(size),
            nrcpt=int(nrcpt.partition(" ")[0]),
        )

    def accepted(self, header: str, program: str, body: str) -> Arrival:
        time, host = self._head(header)
        msgid, sid, rest = _cut(body, ("smtp-in: Accepted message ", " on session ", ": "))
        fields = _fields(rest)
        size = fields.get("size", "")
        ndest = fields.get("ndest", "")
        return Arrival(
            time,
            host,
            MTA,
            msgid,
            client=self._inbound.get(sid),
            sender=_unbracket(fields.get("from", "")),
            size=int(size) if size.isdigit() else None,
            nrcpt=int(ndest) if ndest.isdigit() else None,
        )

    def envelope(self, header: str, program: str, sid: str, body: str) -> MessageInfo:
        time, host = self._head(header)
        evpid, sender, _ = _cut(body, ("evpid=", " from=<", "> to=<"))
        return MessageInfo(time, host, MTA, evpid[:8], sender=sender)

    def _verdict(
        self,
        header: str,
        program: str,
        sid: str,
        evpid: str,
        result: str,
        *,
        recipient: str,
        rcpt: str,
        source: str | None,
        relay: str | None,
        delay: str,
        stat: str | None,
    ) -> Delivery:
        time, host = self._head(header)
        status = _STATUS.get(result)
        if status is None:
            raise LineShapeError("OpenSMTPD verdict of no known result")
        reply = stat or None
        relay_host = _relay(relay)
        stage = None
        repeat = False
        pid = sid if sid != NO_SESSION else None
        if (
            status is not Status.SENT
            and reply in RELAY_SUMMARIES
            and source in (None, "-")
            and relay is not None
        ):
            failure = self._errors.get(relay)
            if failure is None and relay in self._relay_route:
                address = self._relay_route[relay]
                if address in self._disabled:
                    failure = self._errors.get(address)
            if failure is not None and 0.0 <= time - failure.time <= LINK_SECONDS:
                reply, relay_host, stage, pid = (
                    failure.reason,
                    failure.relay,
                    failure.stage,
                    failure.session,
                )
                spent = (failure.session, failure.time)
                repeat = spent in self._spent
                _remember(self._spent, spent, None)
        return Delivery(
            time,
            host,
            MTA,
            evpid[:8],
            handoff=status is Status.SENT and self._filter_hop(sid),
            recipient=recipient,
            status=status,
            orig_recipient=rcpt if rcpt not in ("", "-", recipient) else None,
            relay=relay_host,
            dsn=_dsn(reply),
            reply=reply,
            delay=checked_delay(duration_seconds(delay), "delay="),
            program=program[: program.find("[")] if "[" in program else "smtpd",
            pid=pid,
            stage=stage,
            suspended=repeat,
        )

    def _filter_hop(self, sid: str) -> bool:
        """Whether the session went to a content filter on this host: loopback, at a port
        other than 25 (the filter submits the mail again under a new message id, so this is
        not a delivery to the recipient's domain; Postfix's reader decides alike)."""
        session = self._outbound.get(sid)
        return (
            session is not None
            and session.address.startswith(_LOOPBACK)
            and session.port is not None
            and session.port != "25"
        )

    def mta_delivery(self, header: str, program: str, sid: str, body: str) -> Delivery:
        evpid, sender, to, rcpt, source, relay, delay, result, stat = _cut(
            body,
            (
                "evpid=",
                " from=<",
                "> to=<",
                "> rcpt=<",
                '> source="',
                '" relay="',
                '" delay=',
                ' result="',
                '" stat="',
            ),
        )
        return self._verdict(
            header,
            program,
            sid[:-1],
            evpid,
            result,
            recipient=to,
            rcpt=rcpt,
            source=source,
            relay=relay,
            delay=delay,
            stat=stat[:-1],
        )

    def mda_delivery(self, header: str, program: str, sid: str, body: str) -> Delivery:
        evpid, _, rest = _cut(body, ("evpid=", " from=<", "> to=<"))
        to, _, rest = rest.partition("> ")
        rcpt = ""
        if rest.startswith("rcpt=<"):
            rcpt, _, rest = rest[6:].partition("> ")
        _, delay, result, stat = _cut(rest, ("user=", " delay=", " result=", " stat="))
        return self._verdict(
            header,
            program,
            sid[:-1],
            evpid,
            result,
            recipient=to,
            rcpt=rcpt,
            source=None,
            relay=None,
            delay=delay,
            stat=stat,
        )

    def queue_log(self, header: str, program: str, body: str) -> Delivery | Removed:
        kind, _, rest = body.partition(": ")
        result, evpid, text = _cut(rest, ("", " for ", ": "))
        if result == "Remove":
            time, host = self._head(header)
            return Removed(time, host, MTA, evpid[:8], by_admin=True)
        fields = _fields(text)
        return self._verdict(
            header,
            program,
            fields.get("session", NO_SESSION),
            evpid,
            result,
            recipient=_unbracket(fields.get("to", "")),
            rcpt=_unbracket(fields.get("rcpt", "")),
            source=fields.get("source") if kind == "relay" else None,
            relay=fields.get("relay"),
            delay=fields.get("delay", ""),
            stat=fields.get("stat"),
        )


# What follows the session id on lines that are not needed: (prefixes, reason).
_IGNORED_AFTER_SESSION: tuple[tuple[tuple[str, ...], str], ...] = (
    (("smtp ",), "opensmtpd inbound session"),
    (
        (
            "mta disconnected",
            "mta tls ",
            "mta server-cert-check",
            "mta closing",
            "mta host-rejects-all-mails",
            "mta ssl_check_name",
            "mta cert-check",
        ),
        "opensmtpd outbound session",
    ),
)
# Lines without a session id that are not needed.
_IGNORED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("info: ", "Exiting"), "opensmtpd daemon"),
    (("debug: ",), "opensmtpd debug"),
    (("warn: ",), "opensmtpd warning"),
    (("queue: ",), "opensmtpd queue"),
    (
        # what `smtpctl trace <subsystem>` / `smtpd -T` adds in verbose mode
        (
            "smtp: 0x",
            "mta: 0x",
            "lookup: ",
            "expand: ",
            "rule #",
            "profile-imsg: ",
            "profile-queue: ",
        ),
        "opensmtpd trace",
    ),
    (("smtp-in: ",), "opensmtpd inbound session"),
    (
        (
            "smtp-out: No MX found",
            "smtp-out: Failed to resolve MX",
            "smtp-out: Address family mismatch",
            "smtp-out: hiwat",
            "smtp-out: back to lowat",
            "smtp-out: Too many errors",
            "smtp-out: Error on [",
            "smtp-out: Error on session",
            "smtp-out: Connected on session",
            "smtp-out: Closing session",
            "smtp-out: Started TLS",
            "smtp-out: Server certificate",
            "smtp-out: Disconnecting session",
            "smtp-out: TLS Error",
            "smtp-out: Remote host seems",
        ),
        "opensmtpd outbound routing",
    ),
)
_PARSED = (
    "smtp-out: Error on session ",
    "smtp-out: Connecting to ",
    "smtp-out: Enabling route ",
    "smtp-out: Disabling route ",
    "smtp-out: No valid route for ",
    "smtp-in: New session ",
    "smtp-in: Accepted message ",
    "relay: ",
    "delivery: ",
)
"""Lines without a session id that the grammar reads (the rest of `_IGNORED` is not)."""


class OpenSMTPDReader:
    """OpenSMTPD through syslog: `smtpd[PID]:`, 6.x/7.x and 5.x line forms."""

    mta: ClassVar[str] = MTA
    logs_removal: ClassVar[bool] = False
    carries_state: ClassVar[bool] = True
    reads_bare: ClassVar[bool] = False
    journal_units: ClassVar[tuple[str, ...]] = ("opensmtpd.service",)

    def __init__(self, time_parser: TimeParser) -> None:
        self._transformer = OpenSMTPDTransformer(time_parser)
        lark = load_grammar("opensmtpd.lark", self._transformer)
        self._parse = FastLALR(lark, self._transformer).parse
        self._program = re.compile(terminal_regex(lark, "SMTPD_PROGRAM")).fullmatch
        self._sid = re.compile(terminal_regex(lark, "SID")).match

    def claims(self, program: str) -> bool:
        """`smtpd` (Postfix's daemon of that name logs as `postfix/smtpd`)."""
        return program == "smtpd"

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input: forget the header and the sessions."""
        self._transformer.start_input(time_parser)

    def export_state(self) -> dict[str, Any]:
        """The sessions and routes remembered (plain values), for a scan that continues
        this one (`--state`)."""
        t = self._transformer
        return {
            "inbound": dict(t._inbound),
            "outbound": {
                k: (o.name, o.address, o.port, o.connected) for k, o in t._outbound.items()
            },
            "errors": {
                k: (e.time, e.session, e.reason, e.relay, e.stage) for k, e in t._errors.items()
            },
            "disabled": dict(t._disabled),
            "relay_route": dict(t._relay_route),
            "spent": [[session, time] for session, time in t._spent],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take up what `export_state` gave."""
        t = self._transformer
        t._inbound = dict(state.get("inbound", {}))
        t._outbound = {k: _Outbound(*v) for k, v in state.get("outbound", {}).items()}
        t._errors = {k: SessionError(*v) for k, v in state.get("errors", {}).items()}
        t._disabled = dict(state.get("disabled", {}))
        t._relay_route = dict(state.get("relay_route", {}))
        t._spent = dict.fromkeys((str(sid), float(at)) for sid, at in state.get("spent", []))

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """`smtpd[pid]: [<session id> ]text` after the syslog header."""
        if self._program(program) is None:
            raise LineShapeError("OpenSMTPD program name of no known shape")
        s = self._sid(line, end)
        if s is not None:
            body = s.end()
            for prefixes, reason in _IGNORED_AFTER_SESSION:
                if line.startswith(prefixes, body) and not line.startswith(
                    ("smtp message ", "smtp envelope ", "smtp connected "), body
                ):
                    return reason
            pre = (("HEADER", header), ("SMTPD_PROGRAM", program), ("SID", s.group()))
            result: Event | str = self._parse(line, body, pre)
            return result
        if not line.startswith(_PARSED, end):
            for prefixes, reason in _IGNORED:
                if line.startswith(prefixes, end):
                    return reason
        event: Event | str = self._parse(
            line, end, (("HEADER", header), ("SMTPD_PROGRAM", program))
        )
        return event

    def parse_bare(self, line: str) -> Event | str | None:
        """OpenSMTPD logs only through syslog."""
        return None

    def line_time(self, line: str) -> float | None:
        """OpenSMTPD lines always have a syslog header (read by the line classifier)."""
        return None
