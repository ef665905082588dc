"""Turning log time stamps into POSIX seconds, and back into ISO 8601 text.

Three stamp shapes reach us:

* traditional syslog, `Nov 29 12:21:46` (optionally with a fraction, as Postfix's own
  `maillog_file` writes): no year and no zone. The zone is the one the user names with
  `--tz`, else the machine's local zone. The year is inferred (see `YearInference`).
* RFC 3339, `2026-11-29T12:21:46.762232+00:00` (rsyslog's default on Debian 12): complete.
* Exim's `2026-11-29 12:21:46` with an optional zone: complete but for the zone.

Everything inside the tool is POSIX seconds (`float`, UTC based), so durations are plain
subtractions and do not care about DST. Output is ISO 8601 with the offset of the report
zone.
"""

from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from dateutil import tz as _dtz

MONTHS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "May": 5,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}


class BadTimestamp(ValueError):
    """A time stamp that matched the grammar but names no real moment (e.g. `Feb 31`)."""


EARLIEST = datetime(1, 1, 2, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
"""The moments (POSIX seconds) a stamp may name: a day inside years 1 and 9999 either way,
so that every moment the tool accepts can be written back in any zone (Python's dates end
at years 1 and 9999). A stamp outside is refused as impossible."""


def checked(seconds: float, stamp: str) -> float:
    """`seconds`, if a moment the tool can show (`EARLIEST` to `LATEST`)."""
    if not EARLIEST <= seconds <= LATEST:
        raise BadTimestamp(stamp)
    return seconds


def resolve_zone(name: str | None) -> tzinfo:
    """The zone for stamps without one: an IANA name, `UTC`, or None for the local zone."""
    if name is None:
        return _dtz.tzlocal()
    if not _ZONE_NAME.fullmatch(name) or ".." in name.split("/"):
        # dateutil also reads a zone from any file named by a path: never let it.
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
    try:
        zone = _dtz.gettz(name)
    except Exception:  # dateutil raises several types for a file that is not a zone
        zone = None
    if zone is None:
        raise ValueError(f"unknown time zone {name!r}")
    return zone


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
"""What an IANA zone name (`UTC`, `Europe/Berlin`, `Etc/GMT+5`) looks like: no absolute
path, no `..`."""


@dataclass(slots=True)
class YearInference:
    """Chooses the year of yearless syslog stamps, one input stream at a time.

    The first stamp takes the year of the reference moment (the file's modification time,
    or now for a pipe), less one if its month and day lie after the reference: a file
    written in January that starts in December began last year. After that the year moves
    forward only when the month jumps back by more than half a year (December to January),
    so a file that runs over New Year does not jump back twelve months, and a few
    out-of-order lines around a month boundary do not move it; a December line that
    straggles in after the roll-over keeps the old year. `fixed` (from `--year`)
    sets the year of the first stamp instead.
    """

    reference: float | None = None
    fixed: int | None = None
    year: int | None = None
    last_month: int = 0
    rolled_over: bool = False
    trail: list[tuple[int, int]] | None = None
    """When a list: each (month, day) whose month differs from the previous call's is
    appended (capped at `TRAIL_LIMIT`), so that a slice's years can be checked against the
    state the slice before it ended in (see `replays_alike`)."""

    def state(self) -> tuple[int | None, int, bool]:
        """What decides the next years: (year, last month, rolled over)."""
        return (self.year, self.last_month, self.rolled_over)

    def year_for(self, month: int, day: int, zone: tzinfo) -> int:
        """The year of a stamp in `month`/`day`, updating the running state."""
        trail = self.trail
        if trail is not None and (not trail or trail[-1][0] != month):
            if len(trail) < TRAIL_LIMIT:
                trail.append((month, day))
            else:
                self.trail = None  # too many to check: the merge will not trust it
        if self.year is None:
            if self.fixed is not None:
                self.year = self.fixed
            else:
                ref = datetime.fromtimestamp(
                    self.reference if self.reference is not None else _time.time(), zone
                )
                self.year = ref.year - 1 if (month, day) > (ref.month, ref.day + 1) else ref.year
            self.last_month = month
            return self.year
        if month < self.last_month - 6:
            self.year += 1
            self.last_month = month
            self.rolled_over = True
        elif month > self.last_month + 6 and self.rolled_over:
            # A line from before New Year after the roll-over: belongs to the old year.
            return self.year - 1
        elif month > self.last_month:
            self.last_month = month
        return self.year


TRAIL_LIMIT = 256
"""Month changes a slice records at most (a log has about one a month)."""


def replays_alike(
    earlier: YearInference, later_start: YearInference, trail: list[tuple[int, int]], zone: tzinfo
) -> bool:
    """Whether a slice that began in state `later_start` and met the month changes `trail`
    chose the same years as it would have starting from `earlier` (the state the slice
    before it ended in), and ended in the same state. (A slice that placed no yearless
    stamp chose nothing.)"""
    if not trail:
        return True
    a = YearInference(earlier.reference, earlier.fixed, *earlier.state())
    b = YearInference(later_start.reference, later_start.fixed, *later_start.state())
    for month, day in trail:
        if a.year_for(month, day, zone) != b.year_for(month, day, zone):
            return False
    return a.state() == b.state()


class TimeParser:
    """Parses the stamps of one input stream into POSIX seconds.

    Parsing a stamp with dateutil costs about 22 microseconds; a log has few distinct
    hours, so the start of each hour is computed once (with the zone's rules, DST
    included) and minutes and seconds are added by slicing.
    """

    __slots__ = ("zone", "years", "_hours")

    def __init__(self, zone: tzinfo, years: YearInference | None = None) -> None:
        self.zone = zone
        self.years = years if years is not None else YearInference()
        self._hours: dict[tuple[int, str], float] = {}

    def bsd(self, stamp: str) -> float:
        """`Nov 29 12:21:46` or `Nov  2 01:02:03.123456` to POSIX seconds.

        Some syslog daemons drop the padding of one-digit days (`Mar 7 02:09:33`).
        """
        if stamp[5] == " ":
            stamp = f"{stamp[:4]} {stamp[4:]}"
        month = MONTHS.get(stamp[:3])
        if month is None:
            raise BadTimestamp(stamp)
        day = int(stamp[4:6])
        year = self.years.year_for(month, day, self.zone)
        key = (year, stamp[:9])
        base = self._hours.get(key)
        if base is None:
            try:
                base = datetime(year, month, day, int(stamp[7:9]), tzinfo=self.zone).timestamp()
            except ValueError as exc:
                raise BadTimestamp(stamp) from exc
            if len(self._hours) > 4096:
                self._hours.clear()
            self._hours[key] = base
        minutes, secs = int(stamp[10:12]), int(stamp[13:15])
        if minutes > 59 or secs > 59:
            raise BadTimestamp(stamp)  # `23:61:61` is not the next day
        seconds = minutes * 60 + secs
        if len(stamp) > 15:
            return checked(base + seconds + float("0" + stamp[15:]), stamp)
        return checked(base + seconds, stamp)

    def iso(self, stamp: str) -> float:
        """RFC 3339 / ISO 8601 (`T` or space between date and time) to POSIX seconds."""
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError as exc:
            raise BadTimestamp(stamp) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        try:
            return checked(moment.timestamp(), stamp)
        except (OverflowError, ValueError) as exc:
            raise BadTimestamp(stamp) from exc


def format_time(seconds: float | None, zone: tzinfo) -> str | None:
    """POSIX seconds as ISO 8601 with the zone's offset; whole seconds unless a fraction."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, zone)
    spec = "seconds" if seconds == int(seconds) else "milliseconds"
    return moment.isoformat(timespec=spec)


def format_duration(seconds: float | None) -> str:
    """A compact human duration: `45s`, `12m05s`, `4h12m`, `2d03h`."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"
