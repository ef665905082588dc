"""What the MTA's queue holds now: its own listing, read into `QueueListing`s.

One parser per listing format, the format detected by content:

* `postfix-json`: `postqueue -j` (Postfix 3.1+), one JSON object per message with
  `queue_name`, `queue_id`, `arrival_time` (POSIX seconds), `message_size`, `sender` and
  `recipients` [{`address`, `delay_reason`}];
* `postfix-text`: `postqueue -p` / Postfix's `mailq` (queue id with `*` active or `!` held,
  size, arrival time without a year, sender; then `(reason)` and recipient lines);
* `exim`: `exim -bp` (age such as `25m` or `3d`, size, message id, `<sender>`, maybe
  `*** frozen ***`; then indented recipients, `D` before those already delivered). Ages
  are whole units (`1m` is 60 to 119 seconds): arrival times read from them are that
  approximate;
* `sendmail`: Sendmail's `mailq` (queue id with a status flag, size, `Q-Time` to the
  minute without a year, `<sender>`; then `(reason)` and `<recipient>` lines);
* `opensmtpd`: `smtpctl show queue` (one envelope per line, `|`-separated: envelope id,
  origin, type, flags, sender, recipient, original recipient, creation time (POSIX
  seconds), ..., state, ..., the last error).

The listing's text comes from strangers (addresses, reasons): nothing here trusts it. A
line that fits no shape is counted in `skipped`, lines are cut at `MAX_LINE_CHARS` and at
most `MAX_ENTRIES` messages are kept (`truncated` says so); nothing raises for bad text.
Times are POSIX seconds (UTC); `taken_at` is when the listing was made (for a saved file:
its modification time), the reference of ages and of yearless stamps.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from maillog_diag.errors import InputError

MAX_LINE_CHARS = 8192
"""A line of a text listing, and any string of a JSON one, is cut here (no address or
reason an MTA lists is longer)."""

MAX_ENTRIES = 1_000_000
"""Messages kept from one listing at most."""

MAX_LISTING_BYTES = 512 * 1024 * 1024
"""Bytes of a listing read at most (a command's output, or a saved file)."""

QUEUE_COMMANDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "postfix": (("postqueue", "-j"),),
    "exim": (("exim", "-bp"), ("exim4", "-bp")),
    "sendmail": (("mailq",),),
    "opensmtpd": (("smtpctl", "show", "queue"),),
}
"""The command that lists each MTA's queue (the first that runs is used)."""


@dataclass(slots=True)
class QueuedRecipient:
    """One recipient still waiting in the queue, with the MTA's reason when it lists one."""

    address: str
    reason: str | None = None


@dataclass(slots=True)
class QueueEntry:
    """One queued message as the listing shows it."""

    queue_id: str
    sender: str | None = None
    recipients: list[QueuedRecipient] = field(default_factory=list)
    arrived: float | None = None
    """When it entered the queue (POSIX seconds), when the listing says (or implies)."""
    size: int | None = None
    """Bytes; None when the listing rounds it (Exim's `2.9K`) or does not say."""
    state: str | None = None
    """The MTA's word for it: Postfix's queue name (`active`, `deferred`, `hold`, ...),
    `frozen` (Exim), `active` (a `*` flag)."""


@dataclass(slots=True)
class QueueListing:
    """A whole listing: its format, the messages, and what could not be read."""

    format: str
    taken_at: float
    entries: list[QueueEntry] = field(default_factory=list)
    skipped: int = 0
    """Lines that fit no shape of the format (counted, never fatal)."""
    truncated: bool = False
    """More than `MAX_ENTRIES` messages: the rest were not kept."""

    def _add(self, entry: QueueEntry) -> QueueEntry | None:
        if len(self.entries) >= MAX_ENTRIES:
            self.truncated = True
            return None
        self.entries.append(entry)
        return entry


def _lines(text: str) -> list[str]:
    return [line[:MAX_LINE_CHARS] for line in text.split("\n")]


# ---------------------------------------------------------------- detection

_EXIM_HEAD = re.compile(
    r"^ *(?P<age>\d+[smhdw]) +(?P<size>\d+(?:\.\d+)?[KMG]?) +"
    r"(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})"
    r" +<(?P<sender>[^>]*)>(?P<rest>.*)$"
)
_SMTPD_LINE = re.compile(r"^[0-9a-f]{16}\|")


def detect_format(text: str) -> str | None:
    """The listing format of `text` (see the module), or None when it fits none. An empty
    listing (Postfix's `postqueue -j` prints nothing for an empty queue) is `empty`."""
    lines = [line for line in _lines(text)[:200] if line.strip()]
    if not lines:
        return "empty"
    first = lines[0]
    if first.lstrip().startswith("{"):
        return "postfix-json"
    if first.startswith("-Queue ID-") or first.strip() == "Mail queue is empty":
        return "postfix-text"
    if any(line.startswith("-----Q-ID-----") for line in lines) or re.search(
        r"(mqueue|clientmqueue)\S* is empty|Total requests: ", "\n".join(lines)
    ):
        return "sendmail"
    if any(_EXIM_HEAD.match(line) for line in lines):
        return "exim"
    if _SMTPD_LINE.match(first):
        return "opensmtpd"
    return None


def parse_listing(
    text: str, taken_at: float, zone: tzinfo, fmt: str | None = None, source: str = "queue"
) -> QueueListing:
    """Read a listing of any known format (detected unless `fmt` names it). Raises
    InputError when the text is no queue listing this tool knows."""
    chosen = fmt or detect_format(text)
    if chosen == "empty":
        return QueueListing("empty", taken_at)
    parser = _PARSERS.get(chosen or "")
    if parser is None:
        raise InputError(
            source,
            "not a queue listing this tool reads (postqueue -j or -p, exim -bp, "
            "Sendmail's mailq, smtpctl show queue)",
        )
    listing = QueueListing(chosen or "", taken_at)
    # A `postqueue -j` line carries every recipient of a message: it is not cut (the
    # listing as a whole is bounded by `MAX_LISTING_BYTES`); its strings are, once parsed.
    parser(text.split("\n") if chosen == "postfix-json" else _lines(text), listing, zone)
    return listing


# ---------------------------------------------------------------- Postfix


def _postfix_json(lines: list[str], out: QueueListing, _zone: tzinfo) -> None:
    """`postqueue -j`: one JSON object per line."""
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            out.skipped += 1
            continue
        qid = obj.get("queue_id") if isinstance(obj, dict) else None
        if not isinstance(qid, str) or not qid:
            out.skipped += 1
            continue
        arrival = obj.get("arrival_time")
        size = obj.get("message_size")
        sender = obj.get("sender")
        state = obj.get("queue_name")
        entry = QueueEntry(
            qid[:64],
            sender[:MAX_LINE_CHARS] if isinstance(sender, str) else None,
            arrived=float(arrival) if _number(arrival) else None,
            size=int(size) if _number(size) else None,
            state=state[:32] if isinstance(state, str) else None,
        )
        rcpts = obj.get("recipients")
        for r in rcpts if isinstance(rcpts, list) else []:
            address = r.get("address") if isinstance(r, dict) else None
            if isinstance(address, str):
                reason = r.get("delay_reason")
                entry.recipients.append(
                    QueuedRecipient(
                        address[:MAX_LINE_CHARS],
                        reason[:MAX_LINE_CHARS] if isinstance(reason, str) else None,
                    )
                )
        if out._add(entry) is None:
            return


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


_POSTFIX_HEAD = re.compile(
    r"^(?P<id>[0-9A-Za-z]{5,20})(?P<flag>[*!]?) +(?P<size>\d+) +"
    r"(?P<when>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) +(?P<sender>.*)$"
)


def _postfix_text(lines: list[str], out: QueueListing, zone: tzinfo) -> None:
    """`postqueue -p`: a head line per message, `(reason)` lines, recipient lines."""
    entry: QueueEntry | None = None
    reason: str | None = None
    for line in lines:
        if not line.strip() or line.startswith(("-Queue ID-", "-- ", "Mail queue is empty")):
            if not line.strip():
                entry, reason = None, None
            continue
        head = _POSTFIX_HEAD.match(line)
        if head is not None:
            flag = head["flag"]
            entry = out._add(
                QueueEntry(
                    head["id"],
                    head["sender"].strip(),
                    arrived=_yearless(head["when"], "%a %b %d %H:%M:%S", out.taken_at, zone),
                    size=int(head["size"]),
                    state={"*": "active", "!": "hold"}.get(flag, "deferred"),
                )
            )
            if entry is None:
                return
            reason = None
            continue
        stripped = line.strip()
        if entry is not None and stripped.startswith("(") and stripped.endswith(")"):
            reason = stripped[1:-1]
        elif entry is not None and line.startswith(" ") and " " not in stripped:
            entry.recipients.append(QueuedRecipient(stripped, reason))
        else:
            out.skipped += 1


# ---------------------------------------------------------------- Exim

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _exim(lines: list[str], out: QueueListing, _zone: tzinfo) -> None:
    """`exim -bp`: a head line per message, indented recipients (`D`: delivered)."""
    entry: QueueEntry | None = None
    for line in lines:
        if not line.strip():
            entry = None
            continue
        head = _EXIM_HEAD.match(line)
        if head is not None:
            age = int(head["age"][:-1]) * _AGE_UNITS[head["age"][-1]]
            size = head["size"]
            entry = out._add(
                QueueEntry(
                    head["id"],
                    head["sender"],
                    arrived=out.taken_at - age,
                    size=int(size) if size.isdigit() else None,
                    state="frozen" if "*** frozen ***" in head["rest"] else None,
                )
            )
            if entry is None:
                return
            continue
        parts = line.split()
        if entry is not None and line.startswith(" ") and parts:
            if parts[0] in ("D", "+D") and len(parts) == 2:
                continue  # delivered already: not waiting
            if len(parts) == 1:
                entry.recipients.append(QueuedRecipient(parts[0]))
                continue
        out.skipped += 1


# ---------------------------------------------------------------- Sendmail

_SENDMAIL_HEAD = re.compile(
    r"^(?P<id>[0-9A-Za-z]{8,20})(?P<flag>[*XQ-]?) +(?P<size>\d+) +"
    r"(?P<when>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d) +(?P<sender>.*)$"
)


def _sendmail(lines: list[str], out: QueueListing, zone: tzinfo) -> None:
    """Sendmail's `mailq`: per queue a title, a column head, then per message a head line,
    `(reason)` lines and recipient lines; `Total requests: N` ends each queue."""
    entry: QueueEntry | None = None
    reason: str | None = None
    for line in lines:
        stripped = line.strip()
        if (
            not stripped
            or line.startswith("-----Q-ID-----")
            or stripped.startswith(("Total requests:", "MSP Queue status", "MTA Queue status"))
            or re.match(r"^\S*(mqueue|clientmqueue)\S* (is empty|\(\d+ requests?\))$", stripped)
        ):
            continue
        head = _SENDMAIL_HEAD.match(line)
        if head is not None:
            entry = out._add(
                QueueEntry(
                    head["id"],
                    head["sender"].strip().strip("<>"),
                    arrived=_yearless(head["when"], "%a %b %d %H:%M", out.taken_at, zone),
                    size=int(head["size"]),
                    state="active" if head["flag"] == "*" else None,
                )
            )
            if entry is None:
                return
            reason = None
            continue
        if entry is not None and stripped.startswith("(") and stripped.endswith(")"):
            reason = stripped[1:-1]
        elif entry is not None and line[:1].isspace() and " " not in stripped:
            entry.recipients.append(QueuedRecipient(stripped.strip("<>"), reason))
        else:
            out.skipped += 1


# ---------------------------------------------------------------- OpenSMTPD


def _opensmtpd(lines: list[str], out: QueueListing, _zone: tzinfo) -> None:
    """`smtpctl show queue`: one envelope per line, `|`-separated: envelope id, origin
    (`local`, `inet4`), type (`mta`, `mda`, `bounce`), flags, sender, recipient, original
    recipient, creation time (POSIX seconds), ..., state (`pending`, `inflight`), ..., the
    last error. Envelopes of one message (the first 8 hex digits of the envelope id are
    its message id, as the log names it) make one entry."""
    by_id: dict[str, QueueEntry] = {}
    for line in lines:
        if not line.strip():
            continue
        fields = line.split("|")
        if not _SMTPD_LINE.match(line) or len(fields) < 12:
            out.skipped += 1
            continue
        msgid = fields[0][:8]
        entry = by_id.get(msgid)
        if entry is None:
            created = fields[7]
            entry = out._add(
                QueueEntry(
                    msgid,
                    fields[4],
                    arrived=float(created) if created.isdigit() else None,
                    state=fields[11][:32] or None,
                )
            )
            if entry is None:
                return
            by_id[msgid] = entry
        reason = fields[-1].strip() or None
        entry.recipients.append(QueuedRecipient(fields[5], reason))


_PARSERS = {
    "postfix-json": _postfix_json,
    "postfix-text": _postfix_text,
    "exim": _exim,
    "sendmail": _sendmail,
    "opensmtpd": _opensmtpd,
}


def _yearless(text: str, form: str, taken_at: float, zone: tzinfo) -> float | None:
    """A stamp without a year, in `zone`: the latest such moment not after the listing
    (plus a day of clock slack), since queued mail cannot have arrived after it."""
    try:
        parsed = datetime.strptime(" ".join(text.split()), form)
    except ValueError:
        return None
    limit = datetime.fromtimestamp(taken_at, zone) + timedelta(days=1)
    for year in (limit.year, limit.year - 1):
        try:
            moment = parsed.replace(year=year, tzinfo=zone)
        except ValueError:  # 29 February in a common year
            continue
        if moment <= limit:
            return moment.timestamp()
    return None


# ---------------------------------------------------------------- running the MTA


def run_queue_command(mtas: Iterable[str], timeout: float = 300.0) -> tuple[str, str]:
    """Ask the MTA for its queue now: (the command run, its output). The first MTA of
    `mtas` with a command that runs is asked, for at most `timeout` seconds (Sendmail's
    `mailq` alone took 120 s here on a host whose name does not resolve to a dotted one).
    Raises InputError."""
    tried: list[str] = []
    for mta in mtas:
        for command in QUEUE_COMMANDS.get(mta, ()):
            shown = " ".join(command)
            tried.append(shown)
            try:
                proc = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
            except FileNotFoundError:
                continue
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise InputError(shown, str(exc)) from None
            out = proc.stdout[:MAX_LISTING_BYTES].decode("utf-8", errors="replace")
            if proc.returncode != 0 and not out.strip():
                err = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
                raise InputError(shown, f"exit {proc.returncode}: {err[0] if err else ''}")
            return shown, out
    if not tried:
        raise InputError("--queue", "no MTA found in the log to ask for its queue")
    raise InputError("--queue", f"none of these commands is installed: {', '.join(tried)}")


def read_listing_file(path: str) -> tuple[str, float]:
    """A saved listing's text and its modification time (POSIX seconds). Raises
    InputError."""
    import os

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_LISTING_BYTES)
            mtime = os.fstat(fh.fileno()).st_mtime
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    return data.decode("utf-8", errors="replace"), mtime
