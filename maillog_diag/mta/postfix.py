"""Postfix: the transformer that turns `grammars/postfix.lark` parses into events.

The grammar keeps terminals coarse (see its header); the callbacks here cut a token into
its fields and build one `maillog_diag.model` event per line. The transformer runs inside
the LALR parser (no tree is built), so every callback must be cheap.
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
    MessageInfo,
    Notification,
    QueueAction,
    Rejected,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.input.timestamps import TimeParser
from maillog_diag.mta.base import LineShapeError, SyslogHeader, checked_delay
from maillog_diag.syntax.grammars import load_grammar, terminal_regex
from maillog_diag.syntax.lalr import FastLALR

MTA = "postfix"

POSTFIX_IGNORED_DAEMONS = frozenset(
    {
        "anvil",
        "dnsblog",
        "flush",
        "master",
        "postfix-script",
        "postlogd",
        "postdrop",
        "postmap",
        "postscreen",
        "proxymap",
        "scache",
        "sendmail",
        "showq",
        "spawn",
        "tlsmgr",
        "tlsproxy",
        "trivial-rewrite",
        "verify",
        "policyscreen",
        "postqueue",
        "postlog",
    }
)
"""Postfix daemons whose lines never concern a queued message's delivery."""

POSTFIX_RECEIVING_DAEMONS = frozenset({"smtpd", "qmqpd"})
"""These log one line we need (`QUEUEID: client=`, rejects of a queued message); the rest
(connect, disconnect, NOQUEUE rejects, timeouts) is inbound traffic."""

POSTFIX_IGNORED_PREFIXES = (
    "warning: ",
    "discarding EHLO keywords: ",
    "Untrusted TLS connection established",
    "Trusted TLS connection established",
    "Verified TLS connection established",
    "Anonymous TLS connection established",
    "Deleted: ",
    "Requeued: ",
    "Placed on hold: ",
    "Released from hold: ",
    "statistics: ",
    "fatal: ",
    "panic: ",
    "error: ",
    "daemon started",
    "reload ",
    "terminating on signal",
    "starting the Postfix",
    "stopping the Postfix",
    "refreshing the Postfix",
    "Postfix is ",
)
"""Texts any Postfix daemon logs that say nothing about one message's delivery."""

_FIELD = re.compile(r"([a-z_]+)=(<[^>]*>|[^ ,]*)")
_USUAL_FIELDS = re.compile(
    r"to=(<[^>]*>|[^ ,]*), (?:orig_to=(<[^>]*>|[^ ,]*), )?relay=([^ ,]*), "
    r"(?:conn_use=[^ ,]*, )?delay=([^ ,]*), delays=([^ ,]*), dsn=([^ ,]*), "
)
"""The fields of a delivery line in the order Postfix writes them: one match yields what
`_FIELD` would find pair by pair (any other field or order takes `_FIELD`)."""
_STATUS = {
    "sent": Status.SENT,
    "deliverable": Status.SENT,
    "deferred": Status.DEFERRED,
    "softbounce": Status.DEFERRED,
    "bounced": Status.BOUNCED,
    "undeliverable": Status.BOUNCED,
    "undeliverable-but-not-cached": Status.BOUNCED,
    "expired": Status.EXPIRED,
    "force-expired": Status.EXPIRED,
}
_SUSPENDED = "delivery temporarily suspended: "

_MAX_PROGRAMS = 4096
"""Program names (`postfix/smtp[4321]: `) remembered with their daemon: log text chooses
them, so the memory is bounded."""

_ADMIN_COMMANDS = ("postfix-script", "postfix-tls-script", "postmulti-script")
"""Postfix's shell scripts, which log through `logger` with or without a pid."""


def _admin_command(program: str) -> str | None:
    """The ignored-line reason for the `postfix` command itself (`postfix[4987]: `) and
    Postfix's scripts (`postfix/postfix-script: `, no pid): start, stop and configuration
    notices, never mail. None for any other program name without a pid."""
    name = program.rstrip(": ")
    bracket = name.find("[")
    base = name if bracket < 0 else name[:bracket]
    if base == "postfix" and bracket > 0:
        return "postfix command"
    daemon = base.rpartition("/")[2]
    if base.startswith("postfix") and daemon in _ADMIN_COMMANDS:
        return f"postfix/{daemon}"
    return None


_PRE_QID: tuple[str, ...] = ("HEADER", "POSTFIX_PROGRAM", "QUEUE_ID")
_PRE_NOQID: tuple[str, ...] = ("HEADER", "POSTFIX_PROGRAM")
"""The terminals `PostfixReader.parse_syslog` has matched before the parser goes on."""

_QMGR_FROM = re.compile(r"from=<([^>]*)>, size=([0-9]+), nrcpt=([0-9]+)")


_LOOPBACK_PORT = re.compile(r"\[(?:127\.[0-9.]+|::1)\]:([0-9]+)$")


def _content_filter_hop(relay: str | None, reply: str | None) -> bool:
    """A delivery to a content filter on this host (amavis, a milter-less SMTP filter):
    loopback, a port other than 25, and the filter re-queued it (`queued as NEWID`). The
    message goes on under the new queue id: this is not a delivery to the destination."""
    if relay is None or reply is None or "queued as" not in reply:
        return False
    m = _LOOPBACK_PORT.search(relay)
    return m is not None and m.group(1) != "25"


def _unbracket(value: str) -> str:
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


@v_args(inline=True)
class PostfixTransformer(Transformer[Token, Any]):
    """Builds one event per line shape; `time_parser` belongs to the input stream.

    Tokens arrive as plain strings (see `maillog_diag.lalr`), one callback per line shape.
    """

    def __init__(self, time_parser: TimeParser) -> None:
        super().__init__()
        self._header = SyslogHeader(time_parser)
        self._head = self._header.read

    def start_input(self, value: TimeParser) -> None:
        """A new input begins: its stamps are read by `value` (a method, not a property
        setter, so that mypyc can compile this module: see `pyproject.toml`)."""
        self._header.time_parser = value

    def delivery(
        self,
        header: str,
        program: str,
        qid: str,
        fields_tok: str,
        status_tok: str,
        reply_tok: str | None,
    ) -> Delivery:
        time, host = self._head(header)
        usual = _USUAL_FIELDS.fullmatch(fields_tok)
        if usual is not None:
            to, orig, relay, delay, delays, dsn = usual.groups()
        else:
            fields = dict(_FIELD.findall(fields_tok))
            to, orig, relay = fields["to"], fields.get("orig_to"), fields.get("relay")
            delay, delays, dsn = fields.get("delay"), fields.get("delays"), fields.get("dsn")
        reply = reply_tok[2:-1] if reply_tok is not None else None
        status = _STATUS.get(status_tok[7:], Status.DEFERRED)
        bracket = program.index("[")
        return Delivery(
            time,
            host,
            MTA,
            qid[:-2],
            None,
            _unbracket(to),
            status,
            _unbracket(orig) if orig is not None else None,
            relay,
            dsn,
            reply,
            checked_delay(_float(delay), "delay="),
            delays,
            program[:bracket],
            program[bracket + 1 : -3],
            reply is not None and reply.startswith(_SUSPENDED),
            None,
            status is Status.SENT and _content_filter_hop(relay, reply),
        )

    def client(self, header: str, program: str, qid: str, tok: str) -> Arrival:
        time, host = self._head(header)
        return Arrival(time, host, MTA, qid[:-2], client=tok[7:].split(",", 1)[0])

    def pickup(self, header: str, program: str, qid: str, tok: str) -> Arrival:
        time, host = self._head(header)
        sender = tok[tok.index("from=<") + 6 : -1]
        return Arrival(time, host, MTA, qid[:-2], client="local", sender=sender)

    def message_id(self, header: str, program: str, qid: str, tok: str) -> MessageInfo | None:
        if tok.startswith("resent-"):
            return None
        time, host = self._head(header)
        return MessageInfo(time, host, MTA, qid[:-2], message_id=_unbracket(tok[11:].strip()))

    def queued(self, header: str, program: str, qid: str, tok: str) -> MessageInfo:
        time, host = self._head(header)
        m = _QMGR_FROM.match(tok)
        assert m is not None  # guaranteed by the QMGR_FROM terminal
        return MessageInfo(time, host, MTA, qid[:-2], sender=m[1], size=int(m[2]), nrcpt=int(m[3]))

    def expired(self, header: str, program: str, qid: str, tok: str) -> Expired:
        time, host = self._head(header)
        return Expired(time, host, MTA, qid[:-2], sender=tok[6 : tok.index(">")])

    def removed(self, header: str, program: str, qid: str) -> Removed:
        time, host = self._head(header)
        return Removed(time, host, MTA, qid[:-2], by_admin="postsuper" in program)

    def queue_action(self, header: str, program: str, qid: str, tok: str) -> QueueAction:
        time, host = self._head(header)
        return QueueAction(time, host, MTA, qid[:-2], action=tok)

    def notification(self, header: str, program: str, qid: str, tok: str) -> Notification:
        time, host = self._head(header)
        text, _, new_qid = tok.rpartition(": ")
        return Notification(time, host, MTA, qid[:-2], kind=text, new_queue_id=new_qid)

    def rejected(self, header: str, program: str, qid: str, tok: str) -> Rejected | None:
        if tok.startswith("reject: RCPT from "):
            return None  # one inbound recipient refused; the message goes on without it
        time, host = self._head(header)
        return Rejected(time, host, MTA, qid[:-2], reason=tok)

    def content_hold(self, header: str, program: str, qid: str, tok: str) -> QueueAction:
        time, host = self._head(header)
        return QueueAction(time, host, MTA, qid[:-2], action=f"placed on hold ({tok})")

    def cleanup_info(self, header: str, program: str, qid: str, tok: str) -> None:
        return None

    def session(self, header: str, program: str, qid: str, tok: str) -> SessionNote:
        time, host = self._head(header)
        pid = program[program.index("[") + 1 : -3]
        return SessionNote(time, host, MTA, qid[:-2], pid=pid, text=tok)

    def session_noqid(self, header: str, program: str, tok: str) -> SessionNote:
        time, host = self._head(header)
        pid = program[program.index("[") + 1 : -3]
        return SessionNote(time, host, MTA, None, pid=pid, text=tok)


class PostfixReader:
    """Postfix through syslog or its own `maillog_file` (postlogd): `postfix/<daemon>[pid]:`,
    also multi-instance names (`postfix-out/smtp`, `postfix/submission/smtpd`).

    Ignored lines are recognised by the daemon's name, or for daemons that also log what we
    need, by the text after the program name: a dictionary look-up and a few string
    comparisons, so the grammar's cost is paid only by lines that matter.
    """

    mta: ClassVar[str] = MTA
    logs_removal: ClassVar[bool] = True
    carries_state: ClassVar[bool] = False
    reads_bare: ClassVar[bool] = False
    journal_units: ClassVar[tuple[str, ...]] = ("postfix.service", "postfix@-.service")

    def __init__(self, time_parser: TimeParser) -> None:
        transformer = self._transformer = PostfixTransformer(time_parser)
        lark = load_grammar("postfix.lark", transformer)
        driver = self._driver = FastLALR(lark, transformer)
        self._after_qid = driver.parser_after(_PRE_QID)
        self._after_program = driver.parser_after(_PRE_NOQID)
        # Tokens the line classifier already matched are handed to the parser, not lexed
        # again; the grammar's own terminals check them.
        self._program = re.compile(terminal_regex(lark, "POSTFIX_PROGRAM")).fullmatch
        self._qid = re.compile(terminal_regex(lark, "QUEUE_ID")).match
        self._daemons: dict[str, tuple[str, str]] = {}

    def claims(self, program: str) -> bool:
        """`postfix/...` and any instance named `postfix-<name>/...`."""
        return program.startswith("postfix")

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input: its own year inference for yearless stamps."""
        self._transformer.start_input(time_parser)

    def _daemon(self, program: str) -> str:
        """The daemon of a `postfix/<daemon>[pid]: ` program name ("" with a reason in
        `_verdicts` when the name says the line is no mail); remembered per name, since
        one process logs many lines."""
        if self._program(program) is None:
            admin = _admin_command(program)
            if admin is None:
                raise LineShapeError("Postfix program name without [pid]")
            verdict, daemon = admin, ""
        else:
            bracket = program.index("[")
            daemon = program[program.rfind("/", 0, bracket) + 1 : bracket]
            verdict = f"postfix/{daemon}" if daemon in POSTFIX_IGNORED_DAEMONS else ""
        if len(self._daemons) >= _MAX_PROGRAMS:
            self._daemons.clear()
        self._daemons[program] = (daemon, verdict)
        return daemon

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """`postfix/<daemon>[pid]: [QUEUEID: ]text` after the syslog header."""
        known = self._daemons.get(program)
        if known is None:
            self._daemon(program)
            known = self._daemons[program]
        daemon, verdict = known
        if verdict:
            return verdict
        if line.startswith(POSTFIX_IGNORED_PREFIXES, end):
            return f"postfix/{daemon} {line[end : line.find(' ', end)]}"
        q = self._qid(line, end)
        if q is None:
            if daemon in POSTFIX_RECEIVING_DAEMONS:
                if line.startswith("NOQUEUE: reject: ", end):
                    return f"postfix/{daemon} inbound reject"
                return f"postfix/{daemon} inbound session"
            event: Event | None = self._after_program(line, end, header, program)
        else:
            event = self._after_qid(line, q.end(), header, program, q.group())
        if event is None:
            return f"postfix/{daemon} informational"
        return event

    def parse_bare(self, line: str) -> Event | str | None:
        """Postfix always logs through syslog or postlogd, with a header."""
        return None

    def line_time(self, line: str) -> float | None:
        """Postfix lines always have a syslog header (read by the line classifier)."""
        return None
