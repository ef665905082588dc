"""Time windows (`--since`, `--until`) and which mail a windowed report counts.

The times people type (`parse_moment`): `now`, `today`, `yesterday`, `tomorrow` (midnight
in the report zone), `-24h`, `-30m`, `-2d`, `-1w` and `3 days ago`, `90 minutes ago`
(that many seconds before now), and absolute dates and times through python-dateutil:
`2026-11-28` (midnight), `2026-11-28 06:00`, ISO 8601 with or without a zone (without one:
the report zone). A bare span such as `1h` or `90` is refused with a hint: dateutil would
read it as 01:00 today or as the 90th of nothing, never as "an hour ago".

What a report over the window [since, until) counts (`MessageFilter.clip`); the README's
"Time windows" section says the same:

* The whole log is read, so mail that arrived before the window is known (state carried
  in from earlier lines); only the counting is restricted.
* A recipient is *in the window* when it was in the queue at some moment of it: it
  arrived before `until`, and its final outcome (delivery, bounce, expiry, the removal of
  its message) came at or after `since` (still-held mail: the log's end is at or after
  `since`). Each recipient is counted once in a report.
* Its *outcome* is the one known at `until`: an outcome logged at or after `until` is not
  known yet, so the recipient counts as *held* (still queued at the end of the window).
* Its *held time* runs from its arrival (even before the window) to its final outcome, or
  to `until` (or the end of the log, when that comes first) if it is held.
* It is *delayed* when it was deferred before `until` — inside the window, or before it
  and still queued when the window began (carried in). *Deferrals*, reasons and causes
  count the deferred attempts logged inside the window only, so that consecutive windows
  (daily reports) add up without counting an attempt twice.
"""

from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from maillog_diag.core.model import Message, Outcome, Recipient, Status
from maillog_diag.input.timestamps import BadTimestamp, checked

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
}

_OFFSET = re.compile(r"^\s*-\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+?)s?\s*$")
_AGO = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+?)s?\s+ago\s*$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*?)s?\s*$")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `4h`, `2d`, `1w` (also `4 hours`) as seconds; ValueError else."""
    m = _DURATION.match(text.lower())
    if m is None or (m[2] and m[2] not in _UNITS):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 4h, 2d)")
    return float(m[1]) * _UNITS[m[2] or "s"]


def _midnight(moment: datetime, zone: tzinfo, days: int = 0) -> float:
    day = moment.date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def parse_moment(text: str, zone: tzinfo, now: float | None = None) -> float:
    """A moment typed by a user, as POSIX seconds (see the module docstring).

    `now` is injected by tests; default: the current time. Raises ValueError with a
    one-line message when the text is not understood.
    """
    moment = _parse_moment(text, zone, now)
    try:
        return checked(moment, text)
    except BadTimestamp:
        raise ValueError(f"the time {text!r} is out of range (years 1 to 9999)") from None


def _parse_moment(text: str, zone: tzinfo, now: float | None) -> float:
    current = _time.time() if now is None else now
    word = text.strip().lower()
    here = datetime.fromtimestamp(current, zone)
    if word == "now":
        return current
    named = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if word in named:
        return _midnight(here, zone, named[word])
    for pattern in (_OFFSET, _AGO):
        m = pattern.match(word)
        if m is not None:
            unit = m[2]
            if unit not in _UNITS:
                raise ValueError(f"unknown unit {unit!r} in {text!r} (use s, m, h, d or w)")
            return current - float(m[1]) * _UNITS[unit]  # checked by the caller
    bare = _DURATION.match(word)
    if bare is not None and (bare[2] in _UNITS or (not bare[2] and len(bare[1]) < 8)):
        raise ValueError(
            f"{text!r} is ambiguous as a moment (a time of day? a date? a span?): write "
            f"-{text.strip()} or '{text.strip()} ago' for that long before now, or a clock time "
            "such as 06:00"
        )
    default = datetime(here.year, here.month, here.day, tzinfo=zone)
    from dateutil import parser as _dateparser  # here: only a window's free text needs it

    try:
        moment = _dateparser.parse(text, default=default)
    except (_dateparser.ParserError, OverflowError, ValueError):
        raise ValueError(
            f"cannot read the time {text!r} (try yesterday, today, -24h, '3 days ago', "
            "2026-11-28, '2026-11-28 06:00' or ISO 8601)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise ValueError(f"the time {text!r} is out of range (years 1 to 9999)") from None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which mail a report counts: a time window and destination domains left out.

    Times are POSIX seconds; None is open. A domain is left out with its subdomains.
    """

    since: float | None = None
    until: float | None = None
    exclude_domains: frozenset[str] = field(default_factory=frozenset)
    held_until: float | None = None
    """When the window ends now: now (POSIX seconds). Mail still queued at the end of the
    log is then taken to be held until now, not until the log's last line: an MTA logs
    nothing for mail that only waits, so a log that went quiet hours ago says nothing
    about the mail in the queue since (`check` on a stale log must not report it young)."""

    @property
    def is_open(self) -> bool:
        """Whether this filter keeps everything as it is."""
        return self.since is None and self.until is None and not self.exclude_domains

    def excluded(self, domain: str) -> bool:
        """Whether mail to `domain` is left out (`example.org` also leaves out
        `lists.example.org`)."""
        if not self.exclude_domains:
            return False
        if domain in self.exclude_domains:
            return True
        parts = domain.split(".")
        return any(".".join(parts[i:]) in self.exclude_domains for i in range(1, len(parts)))

    def touches(self, msg: Message) -> bool:
        """Whether a message was in the queue during the window (for `messages`, `trace`)."""
        if self.since is None and self.until is None:
            return True
        return self.clip(msg) is not None

    def clip(self, msg: Message) -> tuple[Message, frozenset[str]] | None:
        """The message as a report over the window sees it, and the addresses of its
        recipients that carried a deferral into the window; None when nothing of it is in
        the window. The message itself is not changed."""
        if self.is_open:
            return msg, frozenset()
        since = self.since if self.since is not None else float("-inf")
        until = self.until if self.until is not None else float("inf")
        start = msg.arrived if msg.arrived is not None else msg.first_seen
        if not msg.recipients:
            if msg.hold_started is not None and msg.first_seen < until:
                return msg, frozenset()  # held before any delivery: on hold in the window
            return (msg, frozenset()) if since <= msg.first_seen < until else None
        if start >= until:
            return None
        kept: dict[str, Recipient] = {}
        carried: set[str] = set()
        any_held = False
        for address, rcpt in msg.recipients.items():
            if self.excluded(rcpt.domain):
                continue
            outcome = rcpt.outcome
            if outcome is Outcome.HELD or outcome is None:
                end = msg.log_end
                if self.held_until is not None and (end is None or end < self.held_until):
                    end = self.held_until
            elif outcome is Outcome.UNKNOWN:
                end = msg.removed_at if msg.removed_at is not None else msg.last_seen
            else:
                end = rcpt.final_time
            if end is not None and end < since:
                continue
            if self.since is None and self.until is None:
                kept[address] = rcpt
                continue
            attempts = [a for a in rcpt.attempts if since <= a.time < until]
            deferred_before = [
                a.time for a in rcpt.attempts if a.status is Status.DEFERRED and a.time < since
            ]
            first = rcpt.first_deferred
            if deferred_before:
                carried.add(address)
                first = since
            elif first is not None and first >= until:
                first = None
            known = end is not None and end < until and outcome is not Outcome.HELD
            kept[address] = replace(
                rcpt,
                attempts=attempts,
                outcome=outcome if known else Outcome.HELD,
                final_time=rcpt.final_time if known else None,
                deferrals=sum(1 for a in attempts if a.status is Status.DEFERRED),
                first_deferred=first,
            )
            any_held = any_held or not known
        if not kept:
            return None
        log_end = msg.log_end
        if any_held:
            if self.held_until is not None and (log_end is None or log_end < self.held_until):
                log_end = self.held_until
            log_end = until if log_end is None else min(log_end, until)
        clipped = replace(
            msg,
            recipients=kept,
            log_end=log_end,
            expired_at=msg.expired_at if (msg.expired_at or 0.0) < until else None,
            removed_at=msg.removed_at if (msg.removed_at or 0.0) < until else None,
        )
        return clipped, frozenset(carried)


COVERAGE_SLACK_SECONDS = 900.0
"""How far the first (last) log line may lie after the start (before the end) of the
window before the report warns that the logs do not cover it: a quiet server logs
nothing for minutes."""


def coverage_warnings(
    window: MessageFilter, first: float | None, last: float | None, fmt: object
) -> list[str]:
    """Warnings when the log read does not cover the window (`fmt` turns POSIX seconds
    into text)."""
    show = fmt if callable(fmt) else str
    out: list[str] = []
    if window.since is None and window.until is None:
        return out
    if first is None or last is None:
        return ["the logs have no dated mail line, so they do not cover the window"]
    if window.since is not None and first > window.since + COVERAGE_SLACK_SECONDS:
        out.append(
            f"the logs start at {show(first)}, after the window starts ({show(window.since)}):"
            " older rotated files missing? (--rotated)"
        )
    if window.until is not None and last < window.until - COVERAGE_SLACK_SECONDS:
        out.append(f"the logs end at {show(last)}, before the window ends ({show(window.until)})")
    if window.until is not None and first >= window.until:
        out.append("the logs start after the window ends: nothing in them is in the window")
    return out


STALE_LOG_SECONDS = 6 * 3600.0
"""How long before the end of the window (now, for `check`) the log may end before the
report says it is stale. A quiet server logs nothing for an hour or two; six hours without
a line is a logging or MTA failure more often than silence, and the figures of a report
that ends there say nothing about the present."""


def rough_age(seconds: float) -> str:
    """An age in its largest unit, rounded down: `2d`, `7h`, `45m`, `30s`."""
    s = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def stale_log_warning(last: float | None, end: float, now: float, fmt: object) -> str | None:
    """The one-line warning when the log read ends more than `STALE_LOG_SECONDS` before
    `end` (POSIX seconds: the window's end, or now), else None. `fmt` turns POSIX seconds
    into text; the age is counted to `now`."""
    if last is None:
        return "the input has no dated log line: is the MTA logging there?"
    if end - last <= STALE_LOG_SECONDS:
        return None
    show = fmt if callable(fmt) else str
    return f"log ends {show(last)}, {rough_age(now - last)} ago: is the MTA still logging?"
