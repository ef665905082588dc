"""Sendmail: the transformer for `grammars/sendmail.lark` and the dialect that feeds it.

Sendmail logs through syslog as `sendmail[PID]:`, `sm-mta[PID]:` (Debian's daemon),
`sm-msp-queue[PID]:` (the submission queue runner) or `sm-msp[PID]:`.

Choices worth knowing:

* `from=` is the arrival (`nrcpts=` is the recipient count the correlator waits for:
  Sendmail logs no removal line, see `Reader.logs_removal`). A `from=` line with
  `nrcpts=0` queued nothing (every recipient was refused): it is ignored.
* `to=` is a delivery attempt; `to=<a>,<b>` gives the same verdict to several recipients.
  `stat=Sent` is SENT, `stat=Deferred...` DEFERRED, `stat=queued` only says the message
  waits for a queue run (a queue action, no attempt). Any other `stat=` is a failure:
  DEFERRED when `dsn=` is 4.x.x, EXPIRED for `Cannot send message for ...`, else BOUNCED.
  `delay=` (`hh:mm:ss` or `d+hh:mm:ss`) is the time since arrival.
* The reason of a failure or deferral is the receiver's reply when Sendmail logs it
  (`reply=`, 8.15 and later: `stat=` repeats it but may be cut short), else the `stat=`
  text.
* The submission queue hands mail to the local MTA: a `to=` line sent to `localhost` or
  loopback `[127.0.0.1]`/`[IPv6:::1]` that Sendmail accepted with its own
  `<qid> Message accepted for delivery` is a hand-off (`Delivery.handoff`), not a delivery
  to the destination.
* Sendmail keeps the status of hosts that just failed (in memory, and across processes
  with `HostStatusDirectory`) and defers other mail to such a host without connecting.
  Such a `to=` line has `xdelay=00:00:00` and names the relay without the ` [address]` a
  connection adds; its `stat=` repeats a connection failure
  (`relay=[192.0.2.11], dsn=4.4.1, stat=Deferred: Connection refused by [192.0.2.11]`)
  or is a bare `stat=Deferred` when the host had answered with an error. It is marked
  `suspended` (like Exim's `retry time not reached`); the reason is the one it repeats. A
  bare `Deferred` names none: it gets the reply (and DSN code) of the last real failure at
  the same relay, by any message, within `HOST_STATUS_SECONDS` (the status is shared, so
  the failure that set it may be another message's); without one it keeps no reason and
  the report takes the recipient's last real failure. A parallel report sees the same
  failures in every process: lines of other partitions are shown to `observe`. Shapes
  from Sendmail 8.17.1 in the lab.
* `<newqid>: DSN: ...`, `return to sender: ...`, `sender notify: ...` and `postmaster
  notify: ...` are notices (`Notification` with the notice's queue id); one that says
  `Cannot send message for ...` is the queue lifetime running out (`Expired`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from lark import Token
from lark.visitors import Transformer, v_args  # (not `from lark`: mypyc, see `syntax/lalr.py`)

from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Event,
    Expired,
    Notification,
    QueueAction,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.input.timestamps import BadTimestamp, TimeParser
from maillog_diag.mta.base import checked_delay, listed_fields
from maillog_diag.syntax.grammars import load_grammar, terminal_regex
from maillog_diag.syntax.lalr import FastLALR

MTA = "sendmail"

_DELAY = re.compile(r"(?:([0-9]+)\+)?([0-9]+):([0-9]{2}):([0-9]{2})$")
_ACCEPTED = re.compile(r"[0-9A-Za-z]{8,20} Message accepted for delivery$")
_LOOPBACK = ("localhost", "[127.0.0.1]", "[IPv6:::1]", "localhost [127.0.0.1]")
_CONNECTION_FAILURES = (
    "Connection refused",
    "Connection timed out",
    "Connection reset",
    "No route to host",
    "Network is unreachable",
    "Host is down",
)
_ENHANCED = re.compile(r"\b([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")


def delay_seconds(text: str | None) -> float | None:
    """Sendmail's `hh:mm:ss` or `d+hh:mm:ss` in seconds; None if not one."""
    if not text:
        return None
    m = _DELAY.match(text)
    if m is None:
        return None
    days = int(m[1]) if m[1] else 0
    return float(days * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4]))


def _unbracket(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _status_after_reply(body: str, reply_at: int, dsn: str) -> int:
    """Where `, stat=` starts after the receiver's reply, which starts at `reply_at` (-1:
    none).

    The reply is a stranger's text and may hold `, stat=` itself. The status is the first
    `, stat=` that agrees with the line's DSN code (`Sent` with 2.x.x, `Deferred` with
    4.x.x) and, for `Deferred: <text>`, whose text is the reply's (or its start: a long
    line is cut short); the first one when none does. Only the first `_STATUS_TRIES` are
    weighed, so that a line costs linear time."""
    cut = first = body.find(", stat=", reply_at)
    for _ in range(_STATUS_TRIES):
        if cut < 0:
            break
        stat_at = cut + 7
        if body.startswith("Sent", stat_at):
            agrees = not dsn or dsn.startswith("2")
        elif body.startswith("Deferred", stat_at):
            text_at = stat_at + 10
            agrees = (not dsn or dsn.startswith("4")) and (
                not body.startswith("Deferred: ", stat_at)
                or (
                    len(body) - text_at <= cut - reply_at
                    and body.startswith(body[text_at:], reply_at)
                )
            )
        else:
            agrees = True
        if agrees:
            return cut
        cut = body.find(", stat=", stat_at)
    return first


_STATUS_TRIES = 8


def _relay(value: str | None) -> str | None:
    """`mx.example.com. [192.0.2.7]` as `mx.example.com[192.0.2.7]` (Postfix's way)."""
    if not value:
        return None
    value = value.removesuffix(" (may be forged)")
    name, sep, rest = value.partition(" [")
    if not sep:
        return value.rstrip(".") if value.endswith(".") else value
    name = name.rstrip(".")
    if name.startswith("[") and name == f"[{rest.rstrip(']')}]":
        return name  # "[93.184.216.34] [93.184.216.34]"
    return f"{name}[{rest}"


def _queue_id(token: str) -> str:
    """The queue id of a QID token (`j4KDbUaV007215: `, `j4KDbUaV007215[1]: `)."""
    qid = token[:-2]
    return qid[: qid.index("[")] if qid.endswith("]") else qid


def _notice_kind(kind: str, text: str) -> str:
    if kind == "postmaster notify":
        return "postmaster non-delivery notification"
    if text.startswith("Warning"):
        return "sender delay notification"
    if text.startswith(("Return receipt", "Relayed", "Delivered")):
        return "sender delivery status notification"
    return "sender non-delivery notification"


HOST_STATUS_SECONDS = 1800.0
"""How long a relay's failure explains later host-status deferrals to it: Sendmail's
`Timeout.hoststatus` default (30 minutes), after which the cached status is not used."""

_MAX_RELAYS = 4096
"""Relays whose last failure is remembered (log text chooses them: bounded)."""


@v_args(inline=True)
class SendmailTransformer(Transformer[Token, Any]):
    """Builds one event per line shape; `time_parser` belongs to the input stream."""

    def __init__(self, time_parser: TimeParser) -> None:
        super().__init__()
        self._time_parser = time_parser
        self._last_lead = ""
        self._last_head: tuple[float, str, str, str] = (0.0, "", "", "")
        self._relay_failures: dict[str, tuple[float, str, str | None]] = {}
        """Per relay (`[192.0.2.10]`, `mx.example.com`): the time (POSIX seconds), reply and
        DSN code of the last deferral Sendmail got there by trying."""

    def start_input(self, value: TimeParser) -> None:
        """A new input begins: its stamps are read by `value` (a method, not a property
        setter, so that mypyc can compile this module: see `pyproject.toml`)."""
        self._time_parser = value
        self._last_lead = ""

    def _head(self, lead: str) -> tuple[float, str, str, str]:
        """`(seconds, host, program, pid)` from the LEAD token; the last one is remembered."""
        if lead == self._last_lead:
            return self._last_head
        before, _, program = lead.rstrip()[:-1].rpartition(" ")
        stamp, _, host = before.rstrip().rpartition(" ")
        stamp = stamp.rstrip()
        if stamp.endswith(">"):  # "<mail.info>" tag between stamp and host
            stamp = stamp[: stamp.rfind(" <")].rstrip()
        time = self._time_parser.iso(stamp) if stamp[0].isdigit() else self._time_parser.bsd(stamp)
        name, _, pid = program.partition("[")
        head = (time, host, name, pid.rstrip("]"))
        self._last_lead = lead
        self._last_head = head
        return head

    def lead_time(self, lead: str) -> float:
        """The time of a LEAD token (see `_head`)."""
        return self._head(lead)[0]

    @staticmethod
    def _host_status(relay: str, xdelay: str | None, reply: str | None) -> bool:
        """Whether a deferral came from Sendmail's host status cache (see the module notes).

        A host that just failed is not tried again for a while: other recipients for it are
        deferred at once from the cached status. Such a line names the relay without the
        ` [address]` a connection adds and has `xdelay=00:00:00`; its `stat=` repeats a
        connection failure (`Deferred: Connection refused by [192.0.2.11]`) or is a bare
        `Deferred` when the host had answered with an error.
        """
        if " [" in relay or xdelay != "00:00:00":
            return False
        return reply is None or reply == "Deferred" or reply.startswith(_CONNECTION_FAILURES)

    def _relay_failure(
        self, relay: str, time: float, suspended: bool, reply: str | None, dsn: str | None
    ) -> tuple[str | None, str | None]:
        """Remember a tried deferral at `relay`; for a bare host-status repeat, the reply and
        DSN code of the failure it repeats (see the module notes)."""
        failures = self._relay_failures
        if not suspended:
            if reply and reply != "Deferred":
                if len(failures) >= _MAX_RELAYS and relay not in failures:
                    failures.clear()
                failures[relay] = (time, reply, dsn)
            return reply, dsn
        if reply is not None and reply != "Deferred":
            return reply, dsn
        known = failures.get(relay)
        if known is None or not 0.0 <= time - known[0] <= HOST_STATUS_SECONDS:
            return reply, dsn
        return known[1], known[2]

    def delivery(self, lead: str, qid: str, body: str) -> Delivery | QueueAction:
        time, host, program, pid = self._head(lead)
        cut = body.find(", stat=")
        # Sendmail 8.15+ logs the receiver's words as "reply=" before stat= (they may hold
        # ", ", even ", stat="): the fields before it are Sendmail's own.
        said = body.find(", reply=", 0, len(body) if cut < 0 else cut)
        fields = listed_fields(body[:said] if said >= 0 else body[:cut] if cut >= 0 else body)
        smtp_reply: str | None = None
        if said >= 0:
            cut = _status_after_reply(body, said + 8, fields.get("dsn") or "")
            smtp_reply = body[said + 8 : cut] if cut >= 0 else body[said + 8 :]
        stat = body[cut + 7 :] if cut >= 0 else None
        addresses = [_unbracket(a) for a in fields.get("to", "").split(",") if a.strip()]
        dsn = fields.get("dsn")
        relay = fields.get("relay")
        queue_id = _queue_id(qid)
        if stat == "queued":
            return QueueAction(time, host, MTA, queue_id, action=f"queued for {fields['to']}")
        reply: str | None
        handoff = False
        if stat is None:
            # A to= line without stat= (some versions, local mailers): the DSN code tells.
            status = Status.SENT if dsn and dsn.startswith("2") else Status.DEFERRED
            reply = None
        elif stat.startswith("Sent"):
            status = Status.SENT
            reply = stat[6:-1].strip() if stat.startswith("Sent (") else None
            handoff = (
                reply is not None
                and _ACCEPTED.match(reply) is not None
                and relay is not None
                and (relay in _LOOPBACK or relay.endswith(_LOOPBACK[1:3]))
            )
        elif stat.startswith("Deferred"):
            status = Status.DEFERRED
            # stat= may be cut short in the log; reply= (when logged) is whole
            reply = smtp_reply or (stat[10:] if stat.startswith("Deferred: ") else stat)
        else:
            # "stat=User unknown" is Sendmail's summary; the receiver's reply says more
            reply = smtp_reply or stat
            if stat.startswith("Cannot send message for"):
                status = Status.EXPIRED
            elif dsn is not None and dsn.startswith("4"):
                status = Status.DEFERRED
            else:
                status = Status.BOUNCED
        if dsn is None and reply:
            m = _ENHANCED.search(reply)
            dsn = m[1] if m is not None else None
        xdelay = fields.get("xdelay")
        suspended = (
            status is Status.DEFERRED
            and relay is not None
            and self._host_status(relay, xdelay, reply)
        )
        if status is Status.DEFERRED and relay is not None:
            reply, dsn = self._relay_failure(relay.split(" ", 1)[0], time, suspended, reply, dsn)
        return Delivery(
            time,
            host,
            MTA,
            queue_id,
            recipient=addresses[0] if addresses else "",
            status=status,
            orig_recipient=_unbracket(fields["orig_to"]) if "orig_to" in fields else None,
            relay=_relay(relay),
            dsn=dsn,
            reply=reply,
            delay=checked_delay(delay_seconds(fields.get("delay")), "delay="),
            delays=f"xdelay={xdelay}" if xdelay else None,
            program=program,
            pid=pid,
            handoff=handoff,
            suspended=suspended,
            also=tuple(addresses[1:]),
        )

    def arrival(self, lead: str, qid: str, body: str) -> Arrival | str:
        time, host, _, _ = self._head(lead)
        fields = listed_fields(body)
        nrcpts = fields.get("nrcpts")
        if nrcpts == "0":
            return "sendmail from= of a message with no recipient accepted"
        size = fields.get("size")
        msgid = fields.get("msgid")
        return Arrival(
            time,
            host,
            MTA,
            _queue_id(qid),
            client=_relay(fields.get("relay")),
            sender=_unbracket(fields.get("from", "")),
            size=int(size) if size is not None and size.isdigit() else None,
            message_id=_unbracket(msgid) if msgid is not None else None,
            nrcpt=int(nrcpts) if nrcpts is not None and nrcpts.isdigit() else None,
        )

    def notice(self, lead: str, qid: str, body: str) -> Notification | Expired:
        time, host, _, _ = self._head(lead)
        new_qid, _, rest = body.partition(": ")
        kind, _, text = rest.partition(": ")
        if text.startswith("Cannot send message for"):
            return Expired(time, host, MTA, _queue_id(qid), notice_queue_id=new_qid)
        return Notification(
            time, host, MTA, _queue_id(qid), kind=_notice_kind(kind, text), new_queue_id=new_qid
        )

    def done(self, lead: str, qid: str, body: str) -> Removed:
        time, host, _, _ = self._head(lead)
        return Removed(time, host, MTA, _queue_id(qid))

    def session(self, lead: str, qid: str, body: str) -> SessionNote:
        time, host, _, pid = self._head(lead)
        return SessionNote(time, host, MTA, _queue_id(qid), pid=pid, text=body)


IGNORED_MESSAGE_PREFIXES = (
    "ruleset=",
    "Milter",
    "milter",
    "<",
    "[",
    "lost input channel",
    "possible SMTP attack",
    "rejecting commands",
    "collect:",
    "message size",
    "Fixed MIME",
    "SMTP outgoing connect",
    "AUTH=",
    "AUTH:",
    "AUTH ",
    "STARTTLS",
    "clone:",
    "Syntax error",
    "Authentication-Warning",
    "headers too large",
    "discarded",
    "ETRN",
    "alias ",
    "forward ",
    "tcpwrappers",
    "quarantine",
    "Truncated",
    "too many hops",
    "Too many hops",
)
"""Texts after a queue id that do not concern an outbound delivery: the inbound session
(rulesets, milters, RCPT answers, timeouts, attacks, TLS and AUTH), informational notes."""

_NO_QUEUE_ID = (
    (("SYSERR",), "sendmail SYSERR"),
    (("NOQUEUE: ",), "sendmail inbound session"),
    (
        (
            "starting daemon",
            "accepting connections",
            "rejecting connections",
            "File descriptors missing",
            "alias database",
            "grew WorkList",
            "STARTTLS",
            "restarting",
            "stopping daemon",
            "runqueue",
        ),
        "sendmail daemon",
    ),
)


SYSLOG_PROGRAMS = frozenset({"sendmail", "sm-mta", "sm-msp-queue", "sm-msp"})


class SendmailReader:
    """Sendmail through syslog: `sendmail`, `sm-mta`, `sm-msp-queue`, `sm-msp`."""

    mta: ClassVar[str] = MTA
    logs_removal: ClassVar[bool] = False
    carries_state: ClassVar[bool] = True
    reads_bare: ClassVar[bool] = True
    """The host-status cache (`_relay_failure`) explains a repeat by an earlier line of
    another message: a slice cut inside a Sendmail log cannot see it, so it is read in one pass."""
    journal_units: ClassVar[tuple[str, ...]] = ("sendmail.service",)

    def __init__(self, time_parser: TimeParser) -> None:
        self._transformer = SendmailTransformer(time_parser)
        lark = load_grammar("sendmail.lark", self._transformer)
        driver = self._driver = FastLALR(lark, self._transformer)
        self._parse = driver.parse
        self._after_qid = driver.parser_after(("LEAD", "QID"))
        self._lead = re.compile(terminal_regex(lark, "LEAD")).match
        self._qid = re.compile(terminal_regex(lark, "QID")).match
        # Inbound client named before the text: "host [ip] did not issue ...", "[ip]: EXPN ..."
        self._inbound = re.compile(r"(?:[^ ]+ )?\[[^\]]*\](?: \(may be forged\))?[: ]").match
        # "<newqid>: clone: owner=..." (an envelope split off for an owner- address)
        self._clone = re.compile(r"[0-9A-Za-z]{8,20}: clone: ").match

    def export_state(self) -> dict[str, Any]:
        """The host-status memory (per relay: POSIX seconds, reply, DSN), for a scan that
        continues this one (`--state`)."""
        return {"relays": dict(self._transformer._relay_failures)}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take up what `export_state` gave."""
        relays = state.get("relays", {})
        self._transformer._relay_failures = {
            str(k): (float(v[0]), str(v[1]), None if v[2] is None else str(v[2]))
            for k, v in relays.items()
        }

    def claims(self, program: str) -> bool:
        """`sendmail`, Debian's `sm-mta`, and the submission queue's `sm-msp-queue`."""
        return program in SYSLOG_PROGRAMS

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input: forget the remembered header."""
        self._transformer.start_input(time_parser)

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """`sm-mta[pid]: <qid>: ...` after the syslog header."""
        return self._message(line, line[:end], end)

    def parse_bare(self, line: str) -> Event | str | None:
        """A syslog line with a `<facility.level>` tag before the host."""
        if "<" not in line[:40]:
            return None
        m = self._lead(line)
        if m is None:
            return None
        return self._message(line, m.group(), m.end())

    def line_time(self, line: str) -> float | None:
        """The time of a tagged syslog line (`<mail.info>` before the host), else None."""
        if "<" not in line[:40]:
            return None
        m = self._lead(line)
        if m is None:
            return None
        try:
            return self._transformer.lead_time(m.group())
        except (BadTimestamp, ValueError, IndexError):
            return None

    def _message(self, line: str, lead: str, pos: int) -> Event | str:
        q = self._qid(line, pos)
        if q is None:
            if line.startswith(("to=", "from="), pos):
                result: Event | str = self._parse(line, pos, (("LEAD", lead),))
                return result
            for prefixes, reason in _NO_QUEUE_ID:
                if line.startswith(prefixes, pos):
                    return reason
            return "sendmail line without a queue id"
        qid = q.group()
        if qid.endswith("]: ") and not qid.endswith("[1]: "):
            return "sendmail continuation of a long line"
        body = q.end()
        if line.startswith(IGNORED_MESSAGE_PREFIXES, body):
            return _ignored_reason(line, body)
        if self._inbound(line, body) is not None or (
            line.startswith("timeout waiting for input", body) and " during client" not in line
        ):
            return "sendmail inbound session"
        if self._clone(line, body) is not None:
            return "sendmail clone"
        event: Event | str = self._after_qid(line, body, lead, qid)
        return event


def _ignored_reason(line: str, pos: int) -> str:
    """A bounded reason for an ignored line (never the address or host it names)."""
    if line.startswith("<", pos):
        return "sendmail answer to an inbound RCPT"
    if line.startswith("[", pos):
        return "sendmail inbound session"
    if line.startswith("ruleset=", pos) and ", reject=" in line:
        return "sendmail inbound reject"
    for prefix in IGNORED_MESSAGE_PREFIXES:
        if line.startswith(prefix, pos):
            return f"sendmail {prefix.strip(' =:')}"
    return "sendmail informational"  # pragma: no cover - a prefix matched before the call
