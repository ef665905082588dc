"""Exim: the transformer for `grammars/exim.lark` and the dialect that feeds it.

Exim writes its own main log (`/var/log/exim4/mainlog` on Debian), one line per event,
each starting with Exim's time stamp; with `log_file_path = syslog` the same lines go
through syslog behind `exim[PID]: `, by default still with Exim's own stamp.

Choices worth knowing:

* Lines of the mainlog name no host. Their events carry `MAINLOG_HOST` ("localhost", the
  machine that wrote the file) so correlation keys are stable within an input. Through
  syslog the host is the syslog header's.
* When a line has both a syslog stamp and Exim's stamp, Exim's is used (it has the year and,
  with `+millisec`, the fraction).
* A bounce or delay warning arrives as `<= <> R=<id>`: it stays an `Arrival` of the new
  message, with `reference` (the id it reports on) and `notice`; the correlator adds the
  notice to the referenced message.
* `=>` / `->` / `*>` are deliveries (`*>` was suppressed by `-N` or discarded: the MTA is
  done with that address). `==` is a deferral; when the text says the retry time is not
  reached, it is Exim's own back-off and `suspended` is set. `**` is a failure; when the
  retry rules gave up (`retry timeout exceeded`, hosts `failing for a long time`) it is
  `EXPIRED`, otherwise `BOUNCED`.
* The recipient is the address Exim logs first when it has a domain (as Postfix's `to=`),
  else the original address in `<...>` (local deliveries log a local part, file or pipe);
  `orig_recipient` is the `<...>` address when it differs.
* `Delivery.delay` is `QT=` (time on queue, with the `+queue_time` selector).
* A message removed by an admin logs `removed by <user>` then `Completed`; the `Removed`
  event of that `Completed` has `by_admin` set.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

from lark import Lark, Token
from lark.parsers.lalr_analysis import Reduce, Shift
from lark.visitors import Transformer, v_args  # (not `from lark`: mypyc, see `syntax/lalr.py`)

from maillog_diag.core.classify import Stage
from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Event,
    QueueAction,
    Rejected,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.input.timestamps import BadTimestamp, TimeParser
from maillog_diag.mta.base import LineShapeError, checked_delay
from maillog_diag.syntax.grammars import load_grammar, terminal_regex
from maillog_diag.syntax.lalr import FastLALR

MTA = "exim"
MAINLOG_HOST = "localhost"
"""The host of events read from Exim's own main log, which does not name it."""

# A quoted field value (T="subject", C="250 ..."), with backslash escapes.
_QUOTED = re.compile(r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"')
# H=name (helo) [ip]:port, with the `*` Exim appends when a TLS/continued connection was used:
# what follows "H=" at the start or after a space (see `_first_field`).
_H_VALUE = re.compile(r"(?:([^ \[(][^ ]*) )?(?:\([^)]*\) )?\[([^\]]*)\](?::([0-9]+))?")
# The old place of the host: "...: host mx.example.com [192.0.2.7]: 451 ...": what follows
# "host " at the start or after ": ".
_HOST_VALUE = re.compile(r"([^ ]+) \[([^\]]*)\](?::([0-9]+))?")
# An address as the first item: pipes may contain spaces (they run up to the `<original>`).
_ADDRESS = re.compile(r"(\|[^<]*?(?= <)|[^ ]+)(?: \(([^)]*)\))?(?: <([^>]*)>)?")
# Up to the first ": " outside quotes: the fields before the reason of `==` and `**` lines.
# Possessive, so an unbalanced quote fails in linear time; `_HEAD_UNQUOTED` then reads the
# quote as an ordinary character.
_HEAD = re.compile(r'((?:[^":]++|"[^"\\]*+(?:\\.[^"\\]*+)*+"|:(?! ))*+)(?:: ?|$)')
_HEAD_UNQUOTED = re.compile(r"((?:[^:]++|:(?! ))*+)(?:: ?|$)")
# "+deliver_time" inside a reason: "Connection refused DT=0s", "... H=mx [ip]:25 DT=1s: ..."
_DT_IN_TEXT = re.compile(r" DT=[0-9][0-9.ywdhms]*(?=:|$)")
# A system error, then the host and the SMTP detail:
#   "Connection timed out H=mx [ip]:25: SMTP timeout ..."
_H_IN_TEXT = re.compile(r"(.*?) H=(?:([^ \[(][^ ]*+) )?\[([^\] ]*+)\](?::([0-9]++))?: (.*)$")
_INTERVAL = re.compile(r"([0-9]++(?:\.[0-9]++)?+)([ywdhms])")
_UNIT = {"y": 31536000.0, "w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_ENHANCED = re.compile(r"[245](?<!\w[245])[0-9][0-9][ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")
"""An enhanced status code after its reply code (`450 4.2.1`, `550-5.1.1`). The word
boundary before the reply code is written as a look-behind after its first digit, so that
a search skips to the next 2, 4 or 5 instead of trying the pattern at every position (about
4 times faster on a long reply; the same matches)."""
_SMTP_STAGE = re.compile(
    r"(?:after|in response to) (?:pipelined )?"
    r"(RCPT TO|MAIL FROM|DATA|BDAT|end of data|initial connection|EHLO|HELO|STARTTLS)"
)
_STAGES = {
    "RCPT TO": Stage.RCPT.value,
    "MAIL FROM": Stage.MAIL.value,
    "DATA": Stage.DATA.value,
    "BDAT": Stage.DATA.value,
    "end of data": Stage.END_OF_DATA.value,
    "initial connection": Stage.GREETING.value,
    "EHLO": Stage.HELO.value,
    "HELO": Stage.HELO.value,
    "STARTTLS": Stage.STARTTLS.value,
}
_CONNECT_ERRORS = (
    "Connection refused",
    "Connection timed out",
    "Operation timed out",
    "No route to host",
    "Network is unreachable",
    "Network Error",
    "Connection reset",
)
_EXPIRY = (
    "retry timeout exceeded",
    "have been failing for a long time",
    "after a long failure period",
)
_SYSLOG_PART = re.compile(r"\[([0-9]+)\\[0-9]+\] ")
_STAMP_TAIL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?: [+-][0-9]{4})?$"
)

IGNORED_MESSAGE_PREFIXES = (
    "Spool file ",
    "DKIM: ",
    "DKIM:",
    "ARC: ",
    "SA: ",
    "SPF: ",
    "DMARC",
    "Warning: ",
    "no immediate delivery",
    "Sender identification",
    "SMTP connection from",
    "SMTP data timeout",
    "ctasd ",
    "sender verify ",
    "recipient verify ",
    "Auto-replied",
    "error ignored",
    "Delivery deferred by system filter",
    "Process failed ",
    "tmp-reject",
)
"""Texts after a message id that say nothing about its delivery: another process has the
message, content scanners, DKIM verdicts, inbound session notes; a system filter's deferral
of the whole message and a failed bounce (`Process failed (1) when writing error message`),
whose recipients' own lines carry the outcome."""

_MESSAGE_NOTE = re.compile(
    r"[^ ]{1,512} marked (?:as )?delivered by |"
    r"(?:.{0,300}\b)?(?:error in (?:the )?[-\w]{1,64} (?:router|transport)|"
    r"[-\w]{1,64} (?:router|transport):? (?:forced )?(?:failure|error|defer)|"
    r"(?:router|transport) [-\w]{1,64}: )"
)
"""Message-level notes that carry no recipient's outcome: an admin's `-Mmd` (`<address>
marked delivered by root`: the message later leaves without a final status for it, so it
is `unknown`, not delivered), router and transport errors (the recipient's own `==` or
`**` line follows with the verdict), and notes ending `(frozen)`. Bounded repeats: the
match costs linear time in the line's length."""

_MESSAGE_NOTE_WORDS = ("marked", "router", "transport")
"""Every alternative of `_MESSAGE_NOTE` contains one of these words (` marked `, then
`router` or `transport` in each of the others): a line with none cannot match it, and
`EximReader._message` tries the pattern (up to 300 places, about 1 us) only on a line that
holds one. The words are looked for in the whole line with `in` (no argument parsing, no
Python call): a word before the body only lets the pattern run, which then decides."""


_ERROR_IGNORED = (": error ignored", ": error ignored: RFC 3461 DSN, failure notify not requested")
"""How `<address>[ <parent>]: error ignored` ends (deliver.c): a bounce to `<>` that failed,
or the failure of an address whose DSN asked for no failure notice, dropped as Exim always
does. Exim writes it on a line of its own, never after a delivery flag (`==`, `**`, ...),
whose line ends with the receiver's reply: a reply ending with these words is no such line."""


def _address(text: str) -> tuple[str, str | None, str | None, int] | None:
    """`_ADDRESS.match(text)` as `(address, parent, original, end)`, or None.

    Only a pipe (`|...`) needs the pattern; for any other first word the same groups are
    cut with `str.find` (the pattern's greedy `[^ ]+` takes the whole word, and the two
    optional parts either match at once or are skipped): about 0.5 us instead of 1.
    """
    # Slices are compared where `startswith` would do (its argument parsing costs more).
    if text[:1] == "|":
        m = _ADDRESS.match(text)
        return None if m is None else (m[1], m[2], m[3], m.end())
    end = text.find(" ")
    if end < 0:
        return (text, None, None, len(text)) if text else None
    if end == 0:
        return None
    first = text[:end]
    parent = top = None
    if text[end + 1 : end + 2] == "(":  # `text.startswith(" (", end)`: `text[end]` is " "
        close = text.find(")", end + 2)
        if close >= 0:
            parent = text[end + 2 : close]
            end = close + 1
    if text.startswith(" <", end):
        close = text.find(">", end + 2)
        if close >= 0:
            top = text[end + 2 : close]
            end = close + 1
    return first, parent, top, end


def _quoted(text: str, start: int) -> tuple[str, int] | None:
    """The value of the quoted field whose opening quote is at `start` (`\\"` unescaped)
    and where it ends, as `_QUOTED.match(text, start)` reads it; None if it is not closed.

    Most values hold no backslash: then the value runs to the next quote, found with
    `str.find` (the pattern is only needed for escapes).
    """
    end = text.find('"', start + 1)
    if end >= 0 and text.find("\\", start + 1, end) < 0:
        return text[start + 1 : end], end + 1
    m = _QUOTED.match(text, start)
    return (m[1].replace('\\"', '"'), m.end()) if m is not None else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


@lru_cache(maxsize=1024)
def interval(text: str | None) -> float | None:
    """Exim's time interval (`1m2s`, `3d4h`, `0.123s`) in seconds; None if not one."""
    if not text:
        return None
    total = 0.0
    pos = 0
    while pos < len(text):
        m = _INTERVAL.match(text, pos)
        if m is None:
            return None
        total += float(m[1]) * _UNIT[m[2]]
        pos = m.end()
    return total


def _value(text: str, key: str, start: int = 0) -> str | None:
    """The unquoted value after the first `key` (e.g. " S=") in `text` from `start`, up to
    a space."""
    i = text.find(key, start)
    if i < 0:
        return None
    i += len(key)
    j = text.find(" ", i)
    return text[i:j] if j >= 0 else text[i:]


def _word(text: str, start: int) -> str:
    """`text[start:]` up to its first space (`text[start:].split(" ", 1)[0]`, without
    copying the rest of the line)."""
    end = text.find(" ", start)
    return text[start:end] if end >= 0 else text[start:]


def _host(name: str | None, ip: str, port: str | None) -> str:
    """`name[ip]:port`, the way Postfix writes relays and clients."""
    text = f"{name or ''}[{ip}]"
    return f"{text}:{port}" if port else text


def _first_field(text: str, sep: str, key: str, value: re.Pattern[str]) -> re.Match[str] | None:
    """What `re.search` finds for `(?:^|SEP)KEY` followed by `value` (e.g. `(?:^| )H=...`),
    as a match of `value` (its groups are the same).

    A pattern that starts with `(?:^| )` has no literal prefix, so `search` tries it at
    every position of the line (about 2-3 us on a 300-character line); `str.find` goes
    straight to the candidates and tries them in the order `search` does: `key` at the
    start, then each `sep + key` from left to right.
    """
    if text.startswith(key):
        m = value.match(text, len(key))
        if m is not None:
            return m
    word = sep + key
    at = text.find(word)
    while at >= 0:
        m = value.match(text, at + len(word))
        if m is not None:
            return m
        at = text.find(word, at + 1)
    return None


def _relay(head: str) -> str | None:
    """The host of the `H=` field, if any."""
    if "H=" not in head:
        return None
    m = _first_field(head, " ", "H=", _H_VALUE)
    return _host(m[1], m[2], m[3]) if m is not None else None


@lru_cache(maxsize=4096)
def _reason_info(raw: str) -> tuple[str, str | None, str | None, str | None, bool]:
    """From a deferral or failure text: `(reason, host named in it, enhanced code, stage,
    expiry)`.

    The `+deliver_time` selector's `DT=` may stand inside the text, and after a system
    error the host comes between it and the SMTP detail:
    `Connection timed out H=mx [192.0.2.9]:25 DT=0s: SMTP timeout after initial connection`;
    the reason keeps the words: `Connection timed out: SMTP timeout after initial connection`.
    Reasons repeat (one per recipient and retry), so the answers are cached.
    """
    # A multi-line SMTP reply is logged with its lines joined by a literal `\n`
    # ("450-4.2.1 The user ...\n450-4.2.1 prevents ..."): joined by a space it has the
    # shape Postfix logs, and the continuation prefixes are condensed the same way.
    raw = raw.replace("\\n", " ") if "\\n" in raw else raw
    reason = _DT_IN_TEXT.sub("", raw) if " DT=" in raw else raw
    relay = None
    inner = _H_IN_TEXT.match(reason) if " H=" in reason else None
    if inner is not None:
        relay = _host(inner[2], inner[3], inner[4])
        reason = f"{inner[1]}: {inner[5]}"
    else:
        m = _first_field(reason, ": ", "host ", _HOST_VALUE)
        relay = _host(m[1], m[2], m[3]) if m is not None else None
    code = _ENHANCED.search(reason)
    stage_m = _SMTP_STAGE.search(reason)
    if stage_m is not None:
        stage: str | None = _STAGES[stage_m[1]]
    elif reason.startswith(_CONNECT_ERRORS):
        stage = Stage.CONNECT.value
    else:
        stage = None
    expiry = any(e in reason for e in _EXPIRY)
    return reason, relay, code[1] if code is not None else None, stage, expiry


_SENT = Status.SENT

_POSITIONAL = {
    Delivery: (
        "time", "host", "mta", "queue_id", "ref", "recipient", "status", "orig_recipient",
        "relay", "dsn", "reply", "delay", "delays", "program", "pid", "suspended", "stage",
    ),
    Arrival: (
        "time", "host", "mta", "queue_id", "ref", "client", "sender", "size", "message_id",
        "nrcpt", "reference", "notice",
    ),
    Removed: ("time", "host", "mta", "queue_id", "ref", "by_admin"),
}  # fmt: skip
"""The leading fields of the events this module builds with positional arguments (about
0.4 us an event less than by keyword): checked against the dataclasses at import."""


def _check_positional() -> None:
    for cls, names in _POSITIONAL.items():
        have = tuple(f.name for f in dataclasses.fields(cls))[: len(names)]
        if have != names:
            raise ImportError(f"{cls.__name__} fields are {have}, not {names}")


_check_positional()


_MINUTES_KEPT = 4096
"""Minutes whose start `EximTransformer._mainlog_time` remembers (about three days)."""


@v_args(inline=True)
class EximTransformer(Transformer[Token, Any]):
    """Builds one event per line shape; `time_parser` belongs to the input stream."""

    def __init__(self, time_parser: TimeParser) -> None:
        super().__init__()
        self._time_parser = time_parser
        self._last_lead = ""
        self._last_head: tuple[float, str, str | None] = (0.0, MAINLOG_HOST, None)
        self._minutes: dict[str, float | None] = {}
        self._removed_by_admin: set[str] = set()
        self._last_tail = ""
        self._last_fields: tuple[str | None, str | None, float | None] = (None, None, None)

    def start_input(self, value: TimeParser) -> None:
        """A new input begins: its stamps are read by `value` (a method, not a property
        setter, so that mypyc can compile this module: see `pyproject.toml`)."""
        self._time_parser = value
        self._last_lead = ""
        self._minutes.clear()
        self._removed_by_admin.clear()

    def _head(self, lead: str) -> tuple[float, str, str | None]:
        """`(seconds, host, pid)` from the LEAD token; the last one is remembered."""
        if lead == self._last_lead:
            return self._last_head
        if len(lead) == 20:
            # Only EXIM_STAMP without fraction, zone or pid is this short: a LEAD with a
            # syslog header or host name has at least 24 characters.
            head: tuple[float, str, str | None] = (self._mainlog_time(lead), MAINLOG_HOST, None)
            self._last_lead = lead
            self._last_head = head
            return head
        rest = lead.rstrip()
        pid: str | None = None
        if rest.endswith("]") and not rest.endswith("]:"):
            # "+pid": "... [4242]"
            start = rest.rfind("[")
            pid = rest[start + 1 : -1]
            rest = rest[:start].rstrip()
        stamp_m = _STAMP_TAIL.search(rest) if not rest.endswith(":") else None
        prefix = rest[: stamp_m.start()].rstrip() if stamp_m is not None else rest
        host = MAINLOG_HOST
        syslog_stamp = ""
        if prefix:
            # "<syslog stamp> <host> exim[pid]:" or "<host> exim[pid]:"
            before, _, program = prefix.rpartition(" ")
            syslog_stamp, _, host = before.rstrip().rpartition(" ")
            bracket = program.find("[")
            if pid is None and bracket >= 0:
                pid = program[bracket + 1 : -2]
        if stamp_m is not None:
            stamp = stamp_m.group()
            if stamp[-6] == " ":  # fromisoformat takes "+0100" glued to the time only
                stamp = stamp[:-6] + stamp[-5:]
            time = self._time_parser.iso(stamp)
        else:
            syslog_stamp = syslog_stamp.rstrip()
            if syslog_stamp[0].isdigit():
                time = self._time_parser.iso(syslog_stamp)
            else:
                time = self._time_parser.bsd(syslog_stamp)
        head = (time, host, pid)
        self._last_lead = lead
        self._last_head = head
        return head

    def _mainlog_time(self, lead: str) -> float:
        """POSIX seconds of a plain stamp `2026-11-29 12:00:01 `: what `TimeParser.iso` says,
        from one `iso` pair per minute instead of one call (about 7 us) per second.

        The minute's first and last second are placed by `iso`; when they lie 59 seconds
        apart, the zone's offset does not change inside the minute (the time zone database
        has no two changes within a minute), and each second is the first plus its number.
        Otherwise, and for any stamp `iso` refuses (its error names the stamp), `iso` reads
        the stamp itself.
        """
        minute = lead[:16]
        try:
            base = self._minutes[minute]
        except KeyError:
            iso = self._time_parser.iso
            try:
                first = iso(minute + ":00")
                base = first if iso(minute + ":59") - first == 59.0 else None
            except BadTimestamp:
                base = None
            if len(self._minutes) >= _MINUTES_KEPT:
                self._minutes.clear()
            self._minutes[minute] = base
        second = int(lead[17:19])
        if base is not None and second <= 59:
            return base + second
        return self._time_parser.iso(lead[:19])

    def lead_time(self, lead: str) -> float:
        """The time of a LEAD token (see `_head`)."""
        return self._head(lead)[0]

    def arrival(self, lead: str, qid: str, body: str) -> Arrival:
        # `self._head(lead)`, its remembered answer read here (see `_head`).
        time, host, _ = self._last_head if lead == self._last_lead else self._head(lead)
        # `sender, _, tail = body[3:].partition(" ")`, then `tail = " " + tail`, without
        # copying the body twice.
        space = body.find(" ", 3)
        if space < 0:
            sender, tail = body[3:], " "
        else:
            sender, tail = body[3:space], body[space:]
        if sender == "<>":
            sender = ""
        # The fields that matter, found directly (a full field scan costs 3 us a line). They
        # all come before the quoted subject T="..." and the recipients "for a b", in
        # receive.c's order: R= right after the sender, then the host, then the others,
        # which are looked for after the host (its HELO name is the client's to choose).
        h = _first_field(tail, " ", "H=", _H_VALUE) if " H=" in tail else None
        client = _host(h[1], h[2], None) if h is not None else "local"
        rest = h.end() if h is not None else 0
        size = _value(tail, " S=", rest)
        # "id*=" (+msg_id_created): a Message-ID Exim made itself, e.g. for its bounces
        msgid = _value(tail, " id=", rest) or _value(tail, " id*=", rest)
        reference = _value(tail, " R=") if tail.startswith(" R=") else None  # (most have none)
        subject = ""
        t = tail.find(' T="', rest)
        if t >= 0:
            quoted = _quoted(tail, t + 3)
            if quoted is not None:
                subject, rest = quoted
        f = tail.find(" for ", rest)
        rcpts = tail[f + 5 :].split() if f >= 0 else None
        notice = None
        if reference is not None:
            if subject.startswith("Warning:"):
                notice = "sender delay notification"
            elif subject.startswith("Mail delivery failed") or "returning message" in subject:
                notice = "sender non-delivery notification"
            else:
                notice = "sender notification"
        # Positional (see `_POSITIONAL`): client, sender, size, message_id, nrcpt,
        # reference, notice.
        return Arrival(
            time, host, MTA, qid[:-1], None,
            client,
            sender,
            int(size) if size is not None and size.isdigit() else None,
            _unquote(msgid).strip("<>") if msgid is not None else None,
            len(rcpts) if rcpts else None,
            reference,
            notice,
        )  # fmt: skip

    def _recipient(self, text: str) -> tuple[str, str | None, str]:
        """`(recipient, original or None, rest of the text)` for the address part."""
        found = _address(text)
        if found is None:  # the line ends after its flag (cut short, or split by syslog)
            raise LineShapeError("no address after the flag")
        first, parent, top, end = found
        rest = text[end:]
        if first.endswith(":") and top is None and parent is None:
            # "** a@b: Unrouteable address"
            first = first[:-1]
            rest = ":" + rest
        if "@" in first or not top:
            return first, (top if top and top != first else None), rest
        return top, None, rest

    def delivery(self, lead: str, qid: str, body: str) -> Delivery:
        # `self._head(lead)`, its remembered answer read here (see `_head`).
        time, host, pid = self._last_head if lead == self._last_lead else self._head(lead)
        recipient, orig, tail = self._recipient(body[3:])
        if tail == self._last_tail:
            # "->" lines of one delivery repeat the "=>" line's fields.
            relay, confirmation, delay = self._last_fields
        else:
            # Only C=, QT= and H= are needed: found directly (a full field scan costs 5 us).
            confirmation = None
            after = 0  # QT= follows C= (the receiver's reply, which may hold " QT=")
            c = tail.find(' C="')
            if c >= 0:
                quoted = _quoted(tail, c + 3)
                if quoted is not None:
                    confirmation, after = quoted
            # `_word`, `checked_delay` (None passes) and `_relay` written out: three Python
            # calls less for each `=>` line.
            qt = tail.find(" QT=", after)
            if qt < 0:
                delay = None
            else:
                end = tail.find(" ", qt + 4)
                delay = checked_delay(
                    interval(tail[qt + 4 : end] if end >= 0 else tail[qt + 4 :]), "QT="
                )
            relay = None
            if "H=" in tail:
                h = _first_field(tail, " ", "H=", _H_VALUE)
                if h is not None:
                    relay = _host(h[1], h[2], h[3])
            self._last_tail = tail
            self._last_fields = (relay, confirmation, delay)
        # Positional (see `_POSITIONAL`): recipient, status, orig_recipient, relay, dsn,
        # reply, delay, delays, program, pid.
        return Delivery(
            time, host, MTA, qid[:-1], None,
            recipient, _SENT, orig, relay, None, confirmation, delay, None, MTA, pid,
        )  # fmt: skip

    def _verdict(self, lead: str, qid: str, body: str, status: Status) -> Delivery:
        time, host, pid = self._last_head if lead == self._last_lead else self._head(lead)
        recipient, orig, tail = self._recipient(body[3:])
        m = _HEAD.match(tail) or _HEAD_UNQUOTED.match(tail)
        assert m is not None  # the unquoted pattern matches any text
        head = m[1]
        reason, text_relay, dsn, stage, expiry = _reason_info(tail[m.end() :])
        suspended = False
        if status is Status.DEFERRED:
            # "retry time not reached [for any host]", older "Retry time not yet reached"
            suspended = "etry time not " in reason
        elif expiry:
            status = Status.EXPIRED
        qt = head.find("QT=")
        delay = checked_delay(interval(_word(head, qt + 3)) if qt >= 0 else None, "QT=")
        # Positional (see `_POSITIONAL`): recipient, status, orig_recipient, relay, dsn,
        # reply, delay, delays, program, pid, suspended, stage.
        return Delivery(
            time, host, MTA, qid[:-1], None,
            recipient, status, orig, _relay(head) or text_relay, dsn, reason or None, delay,
            None, MTA, pid, suspended, stage,
        )  # fmt: skip

    def deferral(self, lead: str, qid: str, body: str) -> Delivery:
        return self._verdict(lead, qid, body, Status.DEFERRED)

    def failure(self, lead: str, qid: str, body: str) -> Delivery:
        return self._verdict(lead, qid, body, Status.BOUNCED)

    def completed(self, lead: str, qid: str, body: str) -> Removed:
        # `self._head(lead)`, its remembered answer read here (see `_head`).
        time, host, _ = self._last_head if lead == self._last_lead else self._head(lead)
        queue_id = qid[:-1]
        by_admin = queue_id in self._removed_by_admin
        if by_admin:
            self._removed_by_admin.discard(queue_id)
        return Removed(time, host, MTA, queue_id, None, by_admin)

    def queue_action(self, lead: str, qid: str, body: str) -> QueueAction:
        time, host, _ = self._head(lead)
        queue_id = qid[:-1]
        if body.startswith("removed by "):
            if len(self._removed_by_admin) > 10000:
                self._removed_by_admin.clear()
            self._removed_by_admin.add(queue_id)
        return QueueAction(time, host, MTA, queue_id, action=body)

    def rejected(self, lead: str, qid: str, body: str) -> Rejected:
        time, host, _ = self._head(lead)
        return Rejected(time, host, MTA, qid[:-1], reason=body)

    def host_note(self, lead: str, qid: str, body: str) -> SessionNote:
        time, host, pid = self._head(lead)
        return SessionNote(time, host, MTA, qid[:-1], pid=pid or "", text=body)


# Lines without a message id: what they are about, for the `ignored` accounting.
_NO_MESSAGE_REASONS = (
    (("Start queue run", "End queue run"), "exim queue run"),
    (("exim ",), "exim daemon"),
    (("Warning: ",), "exim warning"),
    (("cwd=",), "exim command line (+arguments)"),
    (
        (
            "SMTP connection from",
            "SMTP call from",
            "no MAIL in SMTP connection",
            "unexpected disconnection",
            "connection from",
            "SMTP protocol",
            "SMTP command timeout",
            "SMTP data timeout",
            "SMTP syntax error",
            "TLS error on connection from",
            "Connection from",
            "H=",
            "U=",
            "F=",
        ),
        "exim inbound session",
    ),
)


SYSLOG_PROGRAMS = frozenset({"exim", "exim4"})


class EximReader:
    """Exim's mainlog (bare lines) and Exim through syslog (`exim[PID]:`, `exim4[PID]:`)."""

    mta: ClassVar[str] = MTA
    logs_removal: ClassVar[bool] = True
    carries_state: ClassVar[bool] = False
    reads_bare: ClassVar[bool] = True
    journal_units: ClassVar[tuple[str, ...]] = ("exim4.service", "exim.service")

    def __init__(self, time_parser: TimeParser) -> None:
        self._transformer = EximTransformer(time_parser)
        lark = load_grammar("exim.lark", self._transformer)
        driver = self._driver = FastLALR(lark, self._transformer)
        self._parse = driver.parse
        self._after_qid = driver.parser_after(("LEAD", "QID"))
        body = LastToken(lark, self._transformer)
        self._methods = body.methods
        lead = terminal_regex(lark, "LEAD")
        self._lead = re.compile(lead).match
        # Exim's own stamp, one alternative of LEAD (see `_mainlog_lead`).
        stamp = terminal_regex(load_grammar("exim_stamp.lark"), "EXIM_STAMP")
        self._stamp = re.compile(stamp).match
        # One match per line (see `_message`): LEAD (or its EXIM_STAMP alternative), QID and
        # the body token, each matched as its own pattern would match it alone.
        rest = f"(?:(?P<qid>(?>{terminal_regex(lark, 'QID')})){body.pattern})?"
        self._stamp_line = re.compile(f"(?P<lead>(?>{stamp})){rest}").match
        self._lead_line = re.compile(f"(?P<lead>(?>(?:{lead})?)){rest}").match
        # A flag right after the first word: a delivery line whose message id did not match.
        self._flag_line = re.compile(r"[^ ]+ (?:<=|[=*-]>|>>|==|\*\*) ").match

    def claims(self, program: str) -> bool:
        """`exim` and Debian's `exim4`."""
        return program in SYSLOG_PROGRAMS

    def start_input(self, time_parser: TimeParser) -> None:
        """A new input: forget the remembered stamp and admin removals."""
        self._transformer.start_input(time_parser)

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Event | str:
        """`exim[pid]: [exim stamp] [[pid]] <id> ...` after the syslog header."""
        split = _SYSLOG_PART.match(line, end)
        if split is not None:
            # Exim cuts lines too long for syslog into parts "[1\3] ", "[2\3] ", ...: the
            # first part is read as far as it goes, the others are only counted.
            if split[1] != "1":
                return "exim later part of a line split for syslog"
            end = split.end()
        m = self._lead_line(line, end)
        assert m is not None  # LEAD is optional here
        return self._message(line, m)

    def parse_bare(self, line: str) -> Event | str | None:
        """A mainlog line (`2026-11-29 12:00:01 ...`) or `host exim[pid]: 2026-...`."""
        # As `_mainlog_lead`: LEAD's other alternatives all contain the word "exim".
        m = self._stamp_line(line)
        if m is None or "exim" in line:
            m = self._lead_line(line)
            if m is None or not m.end(1):
                if line[:1] in (" ", "\t") and not line.isspace():
                    # Exim writes some entries over several lines, the later ones indented:
                    # "2026-11-29 13:57:15 Warning: purging the environment." then
                    # " Suggested action: use keep_environment."
                    return "continuation line (indented)"
                return None
        return self._message(line, m)

    def line_time(self, line: str) -> float | None:
        """The time of a mainlog line (`2026-11-29 12:00:01[.123][ +0100] ...`), else None."""
        m = self._mainlog_lead(line)
        if m is None:
            return None
        try:
            return self._transformer.lead_time(m.group())
        except (BadTimestamp, ValueError, IndexError):
            return None

    def _mainlog_lead(self, line: str) -> re.Match[str] | None:
        """The LEAD terminal's match at the start of `line`, found cheaply for a mainlog line.

        LEAD's other alternatives (a syslog header or a host name before `exim[pid]: `) all
        contain the literal `exim`; where the line has none, only EXIM_STAMP (this line
        starts with a digit, so not EXIM_PID) can match, and its match is LEAD's. The full
        LEAD pattern tries those alternatives first and costs about 1.5 us a line; this
        costs about 0.5 us.
        """
        m = self._stamp(line)
        if m is None or "exim" in line:
            return self._lead(line)
        return m

    def _message(self, line: str, m: re.Match[str]) -> Event | str:
        """The line from its match by `_stamp_line` or `_lead_line`.

        Those patterns are LEAD (or EXIM_STAMP), then optionally QID, then optionally the
        body token, each in an atomic group: a group takes what its terminal's pattern
        would match alone at that place and is never matched again shorter, so the three
        groups are exactly the separate matches of LEAD, QID and the contextual lexer's
        pattern after them (`LastToken`), for the price of one call.
        """
        pos = m.end(1)
        lead = line[:pos]
        body = m.end(2)
        if body < 0:
            if self._flag_line(line, pos) is not None:
                # Looks like a delivery line: let the grammar say where it fails.
                result: Event | str = self._parse(line, pos, (("LEAD", lead),))
                return result
            return _no_message_reason(line, pos)
        if line[body : body + 3] not in _FLAGS:  # (no ignored text starts with a flag)
            # `line[-1]` (the line is not empty: LEAD matched) is compared before each
            # `endswith`, which costs about four times as much and is needed for few lines.
            last = line[-1]
            if line.startswith(IGNORED_MESSAGE_PREFIXES, body):
                return f"exim {line[body : line.find(' ', body)]}"
            if last == "d" and line.endswith(_ERROR_IGNORED):
                return "exim error ignored"
            if (last == ")" and line.endswith(" (frozen)")) or (
                # See `_MESSAGE_NOTE_WORDS`.
                ("marked" in line or "router" in line or "transport" in line)
                and _MESSAGE_NOTE.match(line, body)
            ):
                return "exim message note (admin mark, router or transport error, frozen)"
        qid = line[pos:body]
        # The body token ran to the end of the line: its rule's method (see `LastToken`).
        method = self._methods.get(m.lastgroup or "") if m.end() == len(line) else None
        if method is not None:
            event: Event = method(lead, qid, line[body:])
            return event
        # Not one whole body token: the full driver finds where the grammar fails.
        event = self._after_qid(line, body, lead, qid)
        return event


_FLAGS = frozenset({"<= ", "=> ", "-> ", "*> ", ">> ", "== ", "** "})
"""The delivery flags after a message id: such lines are read by the grammar."""

assert not any(p.startswith(tuple(_FLAGS)) for p in IGNORED_MESSAGE_PREFIXES)


class LastToken:
    """The grammar's own automaton for a line whose last token is all that is left to read.

    Once the reader has matched LEAD and QID, `exim.lark` has one token left: a body
    terminal that runs to the end of the line, after which the start rule is reduced. This
    follows Lark's tables once, at start-up, from the state those fed tokens lead to: the
    contextual lexer's compiled patterns for that state (the same regular expressions, in
    the same priority order, that Lark and `FastLALR` try) and, for each terminal they can
    match, the rule the table reduces at the end of input. A line is then read with one
    regular-expression match and one call of the rule's transformer method, instead of the
    driver's stacks, loop and per-token tuples (about 6 us a line less).

    `pattern` is those patterns as one optional group (`(?:...)?`; trying the lexer's
    patterns in turn is one alternation of them, in the same order), and `methods` maps each
    terminal name that `m.lastgroup` gives for a match of it to the rule's method. The
    reader reads a line with them only when a body terminal matched and ran to the end of
    the line; otherwise the full driver could do something else and it runs instead (and
    raises Lark's own error). If the grammar's tables do not have this shape (more tokens
    after the body, lexer callbacks, ignored terminals, other regular-expression flags),
    `pattern` is empty, `methods` has nothing and every line takes the full driver.
    """

    __slots__ = ("pattern", "methods")

    def __init__(self, lark: Lark, transformer: Transformer[Any, Any]) -> None:
        self.pattern = ""
        self.methods: dict[str, Callable[[str, str, str], Any]] = {}
        found = _last_token_rules(lark, transformer, ("LEAD", "QID"))
        if found is None:
            return
        patterns, methods = found
        if patterns and all(p.flags == re.compile("").flags for p in patterns):
            self.pattern = "(?:" + "|".join(p.pattern for p in patterns) + ")?"
            self.methods = methods


def _last_token_rules(
    lark: Lark, transformer: Transformer[Any, Any], fed: tuple[str, ...]
) -> tuple[list[re.Pattern[str]], dict[str, Callable[[str, str, str], Any]]] | None:
    """From Lark's tables: the lexer patterns of the state after `fed`, and for each
    terminal that ends the line there, the transformer method of the rule reduced at the
    end of input. None if the tables are not of that shape (see `LastToken`)."""
    frontend = lark.parser
    table = frontend.parser.parser.parse_table
    (start,) = lark.options.start
    states = table.states
    state = table.start_states[start]
    for name in fed:
        action, state = states[state].get(name, (None, None))
        if action is not Shift:
            return None
    basic = frontend.lexer.lexers.get(state)
    if basic is None:
        return None
    scanner = basic.scanner  # Lark builds it (and `callback`) when first asked
    if basic.ignore_types or basic.callback:
        return None
    methods: dict[str, Callable[[str, str, str], Any]] = {}
    for terminal, (action, after) in states[state].items():
        if not terminal.isupper():
            continue
        if action is not Shift or set(states[after]) != {"$END"}:
            return None
        reduce, rule = states[after]["$END"]
        if reduce is not Reduce or len(rule.expansion) != len(fed) + 1:
            return None
        if states[table.start_states[start]].get(rule.origin.name) != (
            Shift,
            table.end_states[start],
        ):
            return None
        method = _inline_method(transformer, rule)
        if method is None:
            return None
        methods[terminal] = method
    return list(scanner._mres), methods


def _inline_method(transformer: Transformer[Any, Any], rule: Any) -> Any:
    """The `@v_args(inline=True)` method a rule calls with all its symbols, or None."""
    wrapper = getattr(transformer, rule.alias or rule.origin.name, None)
    visit = getattr(wrapper, "visit_wrapper", None)
    if getattr(visit, "__name__", "") != "_vargs_inline" or rule.options.empty_indices:
        return None
    if any(sym.is_term and getattr(sym, "filter_out", False) for sym in rule.expansion):
        return None
    return getattr(wrapper, "base_func", None)


def _by_first_character(
    groups: tuple[tuple[tuple[str, ...], str], ...],
) -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """For each first character of a prefix: the groups (in their order) with a prefix that
    starts with it. A text can only start with a group's prefix if its first character is
    one of theirs, so trying these groups in turn finds what trying all of them finds."""
    firsts = {p[:1] for prefixes, _ in groups for p in prefixes}
    if "" in firsts:
        raise ValueError("an empty prefix would start every text")
    return {
        c: tuple(group for group in groups if any(p.startswith(c) for p in group[0]))
        for c in firsts
    }


_NO_MESSAGE_BY_FIRST = _by_first_character(_NO_MESSAGE_REASONS)
"""`_NO_MESSAGE_REASONS` by the first character of their prefixes: an inbound session line
(`SMTP connection from ...`, a sixth of a mainlog) is tried against 2 groups instead of 5."""


def _no_message_reason(line: str, pos: int) -> str:
    for prefixes, reason in _NO_MESSAGE_BY_FIRST.get(line[pos : pos + 1], ()):
        if line.startswith(prefixes, pos):
            return reason
    if " rejected " in line:
        return "exim inbound reject"
    if "authenticator failed" in line:
        return "exim inbound session"
    if line.startswith(("no host name found", "no IP address found"), pos):
        return "exim inbound session"
    return "exim line without a message id"
