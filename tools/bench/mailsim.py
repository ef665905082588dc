"""What the benchmark log generators ``gen_postfix.py`` and ``gen_exim.py`` share.

Both simulate the same fictional company's outbound relay ``mx1`` and the same receivers, so
they share the company, the daily traffic curve, the random helpers of the simulation
(``SimBase``: event heap, picks, addresses of the world, rate-limit episodes), the reply texts
that Postfix and Exim log alike, and the pieces of their command lines.

The generators' output must not change when this module does: every helper here draws from the
generator's ``rng`` in exactly the order the code it replaced did.  What the two generators do
in a different order (or with other tables) stays in each of them.

Python 3.11 standard library only.  The generators import this module from their own folder
(they put that folder on ``sys.path`` first, so that they also load by file path).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import sys
import time
from bisect import bisect
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from random import Random
from typing import Any, TextIO

DEFAULT_SEED = 20261126
DEFAULT_START = "2026-11-26T06:25:00"  # Debian's cron.daily rotates the logs at 06:25
ORG = "brightwater-supply.com"
RELAY_IP = "203.0.113.25"

# Messages per hour by hour of day (weekday), relative to the peak.
# fmt: off
HOURLY = (
    0.10, 0.07, 0.06, 0.06, 0.07, 0.12, 0.25, 0.50, 0.80, 0.95, 1.00, 1.00,
    0.92, 0.95, 1.00, 0.97, 0.90, 0.75, 0.55, 0.45, 0.40, 0.32, 0.22, 0.14,
)
# fmt: on
WEEKEND = 0.45

MS_SITES = ("AM", "DB", "VI", "PA", "BN", "CH")


def parse_tz(tz: str) -> timezone:
    """``+01:00`` / ``-05:30`` as a fixed-offset time zone."""
    sign = -1 if tz.startswith("-") else 1
    hh, mm = tz.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def by_dest(rcpts: Iterable[Any]) -> list[tuple[Any, list[Any]]]:
    """The recipients not yet done, grouped by destination, in order of first appearance."""
    groups: dict[int, list[Any]] = {}
    order: list[tuple[Any, list[Any]]] = []
    for r in rcpts:
        if not r.done:
            g = groups.get(id(r.dest))
            if g is None:
                groups[id(r.dest)] = g = []
                order.append((r.dest, g))
            g.append(r)
    return order


class SimBase:
    """The random helpers and the world of both simulations.

    A subclass sets ``rng``, ``heap``, ``seq`` and calls ``init_clock`` in its ``__init__``, and
    ``set_dests`` when it has built its destinations.  ``pid_step`` is how far process ids move
    on; ``public_octets`` the default first octets of ``public_ip``.
    """

    pid_step = 60
    public_octets: tuple[int, ...] = ()
    # Recipient addresses: role mailboxes (``info@``) at companies of ``role_kinds``, else a
    # name; ``local_forms`` maps the upper bounds of a uniform draw to the form of the name.
    first_names: tuple[str, ...] = ()
    last_names: tuple[str, ...] = ()
    role_localparts: tuple[str, ...] = ()
    role_kinds: tuple[str, ...] = ()
    local_forms: tuple[tuple[float, str], ...] = ()

    rng: Random
    heap: list[tuple[Any, ...]]
    seq: itertools.count[int]
    pid: int
    tzinfo: timezone
    start_dt: datetime
    epoch0: float
    emit_from: float
    peak_rate: float
    bot_rate: float
    providers: dict[str, Any]
    dests: list[Any]
    dest_cum: list[float]
    biz: list[Any]
    biz_cum: list[float]

    def init_clock(
        self, start: str, tz: str, warmup_hours: float, rate: float, bots_per_hour: float
    ) -> None:
        self.tzinfo = parse_tz(tz)
        self.start_dt = datetime.fromisoformat(start).replace(tzinfo=self.tzinfo)
        self.epoch0 = self.start_dt.timestamp() - warmup_hours * 3600.0
        self.emit_from = warmup_hours * 3600.0
        self.peak_rate = rate / 3600.0
        self.bot_rate = bots_per_hour / 3600.0

    # ------------------------------------------------------------------ small helpers
    def new_pid(self) -> int:
        self.pid += self.rng.randint(1, self.pid_step)
        if self.pid > 4194000:
            self.pid = 300 + self.rng.randrange(100)
        return self.pid

    def call(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), fn, args))

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def pick(self, items: tuple[Any, ...] | list[Any]) -> Any:
        return items[int(self.rng.random() * len(items))]

    def public_ip(self, octets: tuple[int, ...] | None = None) -> str:
        r = self.rng.getrandbits(24)
        first = self.pick(octets or self.public_octets)
        return f"{first}.{r >> 16}.{(r >> 8) & 255}.{(r & 253) + 1}"

    def rate_factor(self, t: float) -> float:
        d = datetime.fromtimestamp(self.epoch0 + t, self.tzinfo)
        h = d.hour + d.minute / 60.0
        i = int(h)
        f = HOURLY[i] + (HOURLY[(i + 1) % 24] - HOURLY[i]) * (h - i)
        return f * (WEEKEND if d.weekday() >= 5 else 1.0)

    def next_daily(self, t: float) -> float:
        """A certificate-renewal hook reloads or restarts the MTA once a day around 06:40."""
        d = datetime.fromtimestamp(self.epoch0 + t, self.tzinfo)
        nxt = d.replace(hour=6, minute=40, second=0, microsecond=0)
        if nxt <= d:
            nxt += timedelta(days=1)
        return nxt.timestamp() - self.epoch0 + self.rng.random() * 600

    # ------------------------------------------------------------------ the world
    def domain_name(
        self,
        words: tuple[str, ...],
        suffixes: tuple[str, ...],
        tlds: tuple[tuple[str, int], ...],
        tcum: list[int],
    ) -> str:
        """A made-up small company's domain: one or two words, a suffix, a weighted TLD."""
        base = self.pick(words) + (self.pick(words) if self.rng.random() < 0.35 else "")
        return base + self.pick(suffixes) + tlds[bisect(tcum, self.rng.random() * tcum[-1])][0]

    def maybe_greylist(self, d: Any) -> bool:
        """Three small servers in ten greylist; sets ``d``'s dialect and interval."""
        rng = self.rng
        if rng.random() < 0.3:
            d.greylist = True
            d.grey_style = rng.randrange(5)
            d.grey_secs = rng.choice((60, 300, 300, 300, 600, 900))
            return True
        return False

    def set_dests(self, dests: list[tuple[Any, float]], biz_kinds: tuple[str, ...]) -> None:
        """The weighted destinations, and those of business contacts (``biz_kinds``)."""
        self.dests = [d for d, _ in dests]
        self.dest_cum = list(itertools.accumulate(w for _, w in dests))
        # Business contacts of the staff lean to the long tail.
        biz = [(d, w) for d, w in dests if d.kind in biz_kinds]
        self.biz = [d for d, _ in biz]
        self.biz_cum = list(itertools.accumulate(w for _, w in biz))

    def address(self, dest: Any) -> str:
        rng = self.rng
        r = rng.random()
        if dest.kind in self.role_kinds and r < 0.25:
            return f"{self.pick(self.role_localparts)}@{dest.name}"
        f, last = self.pick(self.first_names), self.pick(self.last_names)
        form = "last.first"
        for upper, name in self.local_forms:
            if r < upper:
                form = name
                break
        if form == "first.last":
            local = f"{f}.{last}"
        elif form == "firstlastNN":
            local = f"{f}{last}{rng.randrange(1, 99)}"
        elif form == "flast":
            local = f"{f[0]}{last}"
        elif form == "first_last":
            local = f"{f}_{last}"
        elif form == "firstYYYY":
            local = f"{f}{rng.randrange(1950, 2010)}"
        else:
            local = f"{last}.{f}"
        return f"{local}@{dest.name}"

    def pick_dest(self, business: bool = False) -> Any:
        if business:
            return self.biz[bisect(self.biz_cum, self.rng.random() * self.biz_cum[-1])]
        return self.dests[bisect(self.dest_cum, self.rng.random() * self.dest_cum[-1])]

    # ------------------------------------------------------------------ main loop
    def drain(self, lines: int, out: TextIO, render: Callable[[float, str], str]) -> int:
        """Pop the event heap in time order until ``lines`` lines are written to ``out``: run
        the events, and write each line as ``render(t, text)`` (lines before ``emit_from``,
        the warm-up, are dropped).  Returns the number written."""
        heap = self.heap
        pop = heapq.heappop
        emit_from = self.emit_from
        buf: list[str] = []
        written = 0
        while written < lines:
            item = pop(heap)
            if len(item) == 3:
                t = item[0]
                if t < emit_from:
                    continue
                buf.append(render(t, item[2]))
                written += 1
                if len(buf) >= 8192:
                    out.write("\n".join(buf))
                    out.write("\n")
                    buf.clear()
            else:
                item[2](item[0], *item[3])
        if buf:
            out.write("\n".join(buf))
            out.write("\n")
        return written

    # ------------------------------------------------------------------ episodes
    def start_throttle(self, t: float, name: str) -> None:
        raise NotImplementedError

    def ev_throttle(self, t: float, name: str, mean_hours: float) -> None:
        """A rate-limit episode of provider ``name``, and the next one (Poisson)."""
        self.start_throttle(t, name)
        nxt = t + self.rng.expovariate(1.0 / (mean_hours * 3600))
        self.call(nxt, self.ev_throttle, name, mean_hours)

    # ------------------------------------------------------------------ receivers' ids
    def gsmtp_tail(self) -> str:
        """The end of a Gmail transaction id, after its hex part."""
        rng = self.rng
        return (
            f"si{rng.randrange(1000000, 9999999)}"
            f"{chr(97 + rng.randrange(26))}{rng.randrange(10, 99)}.{rng.randrange(1, 999)}"
        )

    def ms_host_of(self, bits: int, regions: tuple[str, ...]) -> str:
        """An Exchange Online front-end host name, as Microsoft's replies end."""
        rng = self.rng
        return (
            f"{rng.choice(MS_SITES)}{rng.randrange(1, 9)}"
            f"PEPF0000{self.hex(bits).upper()}.{rng.choice(regions)}.prod.outlook.com"
        )


# ---------------------------------------------------------------------- reply texts
# Replies both MTAs quote word for word.  The random parts are arguments, drawn by the caller.
YAHOO_TSS04 = (
    f"421 4.7.0 [TSS04] Messages from {RELAY_IP} temporarily deferred due to "
    "unexpected volume or user complaints - 4.16.55.1; see "
    "https://postmaster.yahooinc.com/error-codes"
)
APPLE_HCM1 = f"421 4.7.0 [HCM1] Your mail from {RELAY_IP} was deferred."
MS_S775 = (
    f"451 4.7.650 The mail server [{RELAY_IP}] has been temporarily rate limited due to IP "
    "reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)"
)
TOO_QUICKLY = "450 User is receiving mail too quickly"
EXIM_TEMP_LOCAL = "451 Temporary local problem - please try later"
QUEUE_WRITE_ERROR = "451 4.3.0 Error: queue file write error"
EXIM_NO_SUCH_USER = "550 No Such User Here"
YAHOO_SENT = "250 ok dirdel"


def ms_s77719(host: str) -> str:
    return f"451 4.7.500 Server busy. Please try again later from [{RELAY_IP}]. (S77719) [{host}]"


def ms_temp_error(host: str) -> str:
    return f"451 4.3.2 Temporary server error. Please try again later ATTR17 [{host}]"


def ms_mailbox_full(addr: str, host: str) -> str:
    return f"452 4.2.2 Mailbox full ({addr}) [{host}]"


def ms_unavailable(host: str) -> str:
    return f"550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [{host}]"


def m365_access_denied(host: str) -> str:
    return (
        "550 5.4.1 Recipient address rejected: Access denied. For more information see "
        f"https://aka.ms/EXOSmtpErrors [{host}]"
    )


def mailbox_full(addr: str) -> str:
    return f"452 4.2.2 <{addr}>: Recipient address rejected: Mailbox full"


def temp_lookup_failure(addr: str) -> str:
    return f"451 4.3.0 <{addr}>: Temporary lookup failure"


def postgrey(addr: str, domain: str) -> str:
    return (
        f"450 4.2.0 <{addr}>: Recipient address rejected: Greylisted, see "
        f"http://postgrey.schweikert.ch/help/{domain}.html"
    )


def greylisted_for(addr: str, left: int) -> str:
    return f"450 4.2.0 <{addr}>: Recipient address rejected: Greylisted for {left} seconds"


def greylisting_hms(left: int) -> str:
    """milter-greylist's ``hh:mm:ss``."""
    h, m, s = left // 3600, left % 3600 // 60, left % 60
    return f"451 4.7.1 Greylisting in action, please come back in {h:02}:{m:02}:{s:02}"


def greylisted_retry(left: int) -> str:
    return f"451 Greylisted, please try again in {left} seconds"


def gmail_sent(epoch_secs: int, gsmtp_id: str) -> str:
    return f"250 2.0.0 OK  {epoch_secs} {gsmtp_id} - gsmtp"


def gmx_sent(hex40: str) -> str:
    return f"250 Requested mail action okay, completed: id=1M{hex40}"


def mimecast_sent(hex64: str, hex16: str) -> str:
    return f"250 {hex64[:22]}-{hex16} Message accepted"


def exim_sent(hex24a: str, hex24b: str, hex8: str) -> str:
    return f"250 OK id=1{hex24a[:5]}-{hex24b[:6]}-{hex8}"


def ms_queued(
    msgid: str, internal_id: int, host: str, size: int, secs: float, kbs: float, tail: str
) -> str:
    """Exchange Online's 250 after the data; ``tail`` ends it (`` -> 250 2.1.5`` or empty)."""
    return (
        f"250 2.6.0 {msgid} [InternalId={internal_id}, Hostname={host}] {size} bytes in "
        f"{secs:.3f}, {kbs:.3f} KB/sec Queued mail for delivery{tail}"
    )


# ---------------------------------------------------------------------- command line
def new_parser(doc: str) -> argparse.ArgumentParser:
    """The parser with ``--lines`` and ``--out``; ``doc``'s first paragraph describes it."""
    ap = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines to write (default 1000000)")
    ap.add_argument("--out", default="-", help="output file (default stdout)")
    return ap


def add_clock_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--start", default=DEFAULT_START, help="local time of the first line")
    ap.add_argument("--tz", default="+00:00", help="UTC offset of the host's local time")


def add_load_args(ap: argparse.ArgumentParser, rate: float, bots_per_hour: float) -> None:
    ap.add_argument(
        "--rate",
        type=float,
        default=rate,
        help=f"messages per hour at the weekday peak (default {rate:g})",
    )
    ap.add_argument(
        "--bots-per-hour",
        type=float,
        default=bots_per_hour,
        help=f"bot connections per hour (default {bots_per_hour:g})",
    )


def add_mix_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--mix", metavar="FILE", help="print the line mix of an existing log and exit")
    ap.add_argument("--json", action="store_true", help="with --mix: print JSON")
    ap.add_argument("--quiet", action="store_true")


def print_mix(
    path: str,
    as_json: bool,
    line_mix: Callable[[Iterable[str]], dict[str, Any]],
    format_mix: Callable[[dict[str, Any]], str],
) -> None:
    with open(path, encoding="utf-8", errors="replace") as f:
        mix = line_mix(f)
    print(json.dumps(mix, indent=1) if as_json else format_mix(mix))


def format_messages(mix: dict[str, Any]) -> str:
    """The last line of a printed mix: messages, and how many were deferred."""
    return (
        f"messages: {mix['messages']}, deferred at least once: {mix['deferred_messages']} "
        f"({100 * mix['deferred_message_share']:.1f}%)"
    )


def write_log(run: Callable[[int, TextIO], int], out: str, lines: int) -> tuple[int, float] | None:
    """``run(lines, file)`` into ``out`` (``-``: stdout): lines written and seconds taken, or
    None when stdout was closed early (e.g. piped into ``head``)."""
    t0 = time.perf_counter()
    if out == "-":
        try:
            n = run(lines, sys.stdout)
        except BrokenPipeError:
            sys.stderr.close()
            return None
    else:
        with open(out, "w", encoding="utf-8", buffering=1 << 20) as f:
            n = run(lines, f)
    return n, time.perf_counter() - t0
