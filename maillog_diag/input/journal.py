"""The systemd journal: `journalctl -o json` records as syslog lines, and running
`journalctl` with mail filters (`--journal`).

Debian 12 and later log mail to the journal only, unless rsyslog is installed. Each JSON
record (one per line, journal export field names) becomes one line in the RFC 3339 shape
the grammars already read::

    2026-11-29T12:21:46.762232+00:00 mx1 postfix/smtp[123]: 4F2A31C02B9: to=<...>, ...

from these fields:

* `__REALTIME_TIMESTAMP`: microseconds since the epoch (UTC), when journald received it;
* `_HOSTNAME`; `SYSLOG_IDENTIFIER` (else `_COMM`); `SYSLOG_PID` (else `_PID`);
* `MESSAGE`: a string, or an array of byte values when the text is not valid UTF-8
  (decoded as UTF-8 with replacement characters), or null when journalctl left out a
  field larger than its size limit. Line breaks inside a message become spaces.

Every input line gives exactly one output line, so `file:line` references point at the
record in the JSON file. A line that is not a JSON object is passed on as it is (it will
be counted as unparsed); a record without a usable time or text gives a line the parser
will count as unparsed too, never a crash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from maillog_diag.errors import InputError

JOURNAL_KEYS = (b'"__REALTIME_TIMESTAMP"', b'"__CURSOR"', b'"MESSAGE"')

MAIL_FACILITY_MATCH = "SYSLOG_FACILITY=2"
"""The mail syslog facility: how MTAs log through syslog(3)."""


def mail_matches(units: Sequence[str]) -> list[str]:
    """journalctl matches for `--journal`: the mail facility, or any line of the MTAs' own
    systemd units (Postfix's `maillog_file = /dev/stdout` in a unit logs without a
    facility). `+` is journalctl's OR."""
    matches = [MAIL_FACILITY_MATCH]
    for unit in units:
        matches += ["+", f"_SYSTEMD_UNIT={unit}"]
    return matches


JOURNAL_LOOKBACK_SECONDS = 2 * 86400.0
"""With `--since`, `--journal` starts reading this much earlier, so that mail which arrived
before the window is known when it is still held inside it."""


def looks_like_journal(head: bytes) -> bool:
    """Whether the first bytes of an input are `journalctl -o json` (or `json-seq`) output."""
    first = head.lstrip(b"\x1e \t\r\n").split(b"\n", 1)[0]
    return first.startswith(b"{") and any(key in first for key in JOURNAL_KEYS)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", errors="replace")
    return None


def _field(record: dict[str, Any], *names: str) -> str | None:
    for name in names:
        text = _text(record.get(name))
        if text:
            return text
    return None


def record_line(record: dict[str, Any]) -> str | None:
    """One journal record as a syslog line with an RFC 3339 stamp (None without a time or
    a text)."""
    stamp = _field(record, "__REALTIME_TIMESTAMP")
    message = _text(record.get("MESSAGE"))
    if stamp is None or not stamp.isdigit() or message is None:
        return None
    micros = int(stamp)
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000
    )
    host = _field(record, "_HOSTNAME") or "localhost"
    ident = _field(record, "SYSLOG_IDENTIFIER", "_COMM") or "unknown"
    pid = _field(record, "SYSLOG_PID", "_PID")
    program = f"{ident}[{pid}]" if pid and pid.isdigit() else ident
    text = " ".join(message.splitlines()) if "\n" in message or "\r" in message else message
    return f"{moment.isoformat(timespec='microseconds')} {host} {program}: {text}"


def journal_lines(lines: Iterable[str]) -> Iterator[str]:
    """Each JSON record line as a syslog line (see the module docstring)."""
    for raw in lines:
        line = raw.lstrip("\x1e")
        try:
            record = json.loads(line)
        except ValueError:
            yield raw
            continue
        if not isinstance(record, dict):
            yield raw
            continue
        converted = record_line(record)
        if converted is None:
            converted = f"journal record without time or text: {raw[:200]}"
        yield converted


def journalctl_command(
    since: float | None,
    until: float | None,
    *,
    units: Sequence[str] = (),
    lookback: float = JOURNAL_LOOKBACK_SECONDS,
) -> list[str]:
    """The `journalctl` command line for `--journal` (times as POSIX seconds; `units`: the
    MTAs' systemd units, see `maillog_diag.mta.journal_units`)."""
    exe = shutil.which("journalctl")
    if exe is None:
        raise InputError("--journal", "journalctl is not installed (or not on PATH)")
    cmd = [exe, "-o", "json", "--no-pager"]
    if since is not None:
        cmd.append(f"--since=@{int(since - lookback)}")
    if until is not None:
        cmd.append(f"--until=@{int(until) + 1}")
    return [*cmd, *mail_matches(units)]


def run_journalctl(cmd: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start `journalctl`; its standard output is the JSON stream to read."""
    return subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_journalctl(proc: subprocess.Popen[bytes]) -> str | None:
    """Wait for `journalctl`; its error in one line when it failed, else None."""
    err: IO[bytes] | None = proc.stderr
    message = err.read().decode("utf-8", errors="replace").strip() if err is not None else ""
    code = proc.wait()
    if code == 0:
        return None
    first = message.splitlines()[0] if message else f"exit status {code}"
    return f"journalctl failed: {first}"
