#!/usr/bin/env python3
"""Seeded generator of a realistic Exim 4 ``mainlog`` for benchmarks.

The generator simulates the outbound relay ``mx1`` of a fictional company running Debian's
Exim 4.96 (``exim4-daemon-light``) over a few days: internal application servers, a staff mail
hub, newsletter campaigns and local users (``www-data``, cron mail to ``root``) hand mail to
Exim, which delivers it to Gmail, Microsoft, Yahoo, Apple, European providers and a long tail
of small domains (on Google Workspace, Microsoft 365, Mimecast or their own servers).  Internet
bots knock on port 25 and get rejected.  As in ``gen_postfix.py`` the simulation is event
driven: every line is pushed on one heap keyed by its time, so the file is written in time order
while retries, queue runs, delay warnings and frozen bounces are scheduled ahead.  Memory stays
flat: only messages still on the queue are held.

Exim's configuration, as the lines show it:

* ``log_selector = +smtp_connection +incoming_port +outgoing_port +queue_time
  +queue_time_overall +deliver_time +subject +received_recipients`` (plus the defaults:
  ``X=`` TLS cipher, ``CV=``, ``C=`` confirmation, ``retry_defer``), ``log_timezone`` false;
* a daemon started with ``-q30m`` (Debian's ``QUEUEINTERVAL``): ``Start queue run`` /
  ``End queue run`` every 30 minutes; new messages are delivered at once;
* Debian's retry rule ``* * F,2h,15m; G,16h,1h,1.5; F,4d,6h``, ``delay_warning = 24h``,
  ``ignore_bounce_errors_after = 2d``.

What the log contains (``--mix`` prints the measured shares of a file):

* arrivals ``<=`` from SMTP (``H=name [ip]:port P=esmtps X=... CV=no [A=plain:user]``) and
  local (``U=user P=local``), with ``S=``, ``id=``, ``T="subject"`` and ``for rcpt...``;
  bounces and delay warnings ``<= <> R=<id> U=Debian-exim P=local``;
* deliveries ``=>`` and ``->`` (further recipients of one SMTP transaction) with ``R=``, ``T=``,
  ``H=host [ip]:25`` (``*`` for a reused connection), ``X=``, ``CV=``, ``K`` (CHUNKING),
  ``C="250 ..."``, ``QT=``, ``DT=``; local deliveries ``=> admin <root@...> R=local_user
  T=mail_spool``;
* deferrals ``==``: ``defer (-44)`` after RCPT TO (greylisting in several dialects, Gmail 4.2.1
  rate and 4.2.2 quota, full mailboxes), ``defer (-45)`` after pipelined MAIL FROM (Microsoft
  ``S775``, Yahoo ``TSS04``, Apple ``HCM``), ``defer (-46)`` after end of data (Gmail 4.7.28,
  M365 ``S77719``), ``defer (0)`` at the greeting, ``defer (111)`` Connection refused, ``defer
  (110)`` Connection timed out (after per-host ``H=... Connection timed out`` notes), ``defer
  (-1)`` host lookup did not complete, and Exim's own back-off: ``routing defer (-52): retry
  time not reached`` and ``defer (-54): retry time not reached for any host for 'domain'`` (the
  numbers Exim 4.96 logs: see ``sample_logs/exim/mainlog``);
* failures ``**``: 5xx replies, ``Unrouteable address``, ``retry timeout exceeded`` and ``retry
  time not reached for any host after a long failure period`` (recipients and hosts that have
  been failing for longer than the 4-day cutoff);
* ``Completed QT=...``, ``Frozen (delivery error message)``, ``Unfrozen by errmsg timer``,
  ``Spool file ... is locked`` when a queue run meets a message being delivered;
* inbound noise: ``SMTP connection from ... (TCP/IP connection count = N)`` / ``closed by
  QUIT``, ``no host name found for IP address``, ``rejected RCPT`` (relay, RBL), authenticator
  failures, ``no MAIL in SMTP connection``, ``unexpected disconnection``, ``SMTP call from ...
  dropped``, ``SMTP protocol synchronization error``, TLS errors, a daily daemon restart.

Python 3.11 standard library only.  Deterministic for a given ``--seed`` and options.

Examples::

    python tools/bench/gen_exim.py --lines 1000000 --out bench-data/exim-1M.log
    python tools/bench/gen_exim.py --lines 20000 --long-ids
    python tools/bench/gen_exim.py --mix bench-data/exim-1M.log
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from random import Random
from typing import Any, TextIO

# The code shared with gen_postfix.py sits beside this script (also when loaded by file path).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import mailsim  # noqa: E402
from mailsim import DEFAULT_SEED, DEFAULT_START, ORG, RELAY_IP, SimBase  # noqa: E402

EXIM_VERSION = "4.96"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

QUEUE_INTERVAL = 1800.0  # -q30m
CUTOFF = 4 * 86400.0  # F,4d,6h: the retry rule gives up after four days
TLS_OUT_GOOGLE = "TLS1.3:ECDHE_X25519__ECDSA_SECP256R1_SHA256__AES_256_GCM:256"
TLS_OUT = "TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256"
TLS_OUT_OLD = "TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256"
TLS_IN = "TLS1.3:ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM:256"

FIRST = tuple(
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony "
    "emily andrew donna kevin michelle brian carol george amanda edward melissa ronald laura "
    "lukas sophie mathieu claire jan eva pieter anke marco giulia pablo lucia sven ingrid".split()
)
LAST = tuple(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris clark "
    "lewis robinson walker young allen king wright scott nguyen hill green adams baker hall "
    "muller schmidt fischer weber dubois moreau laurent rossi russo jansen bakker nielsen".split()
)
ROLES = tuple("info sales accounts support orders office billing admin contact hr ap".split())
WORDS = tuple(
    "alder amber anchor apex arbor atlas aurora basalt beacon birch bridge brook cedar cliff "
    "cloud coast copper coral crest delta dune echo elm ember falcon fern field fjord flint "
    "forge glen granite grove harbor hawk hazel heath helix iron isle ivy jade juniper kestrel "
    "lake larch ledge linden lotus maple marble meadow mesa mill moss oak ocean olive onyx "
    "orbit otter peak pine plum polar prairie quarry quartz raven reed ridge river rowan sage "
    "shore silver slate solar spruce stone summit swift teal thistle tide timber vale vista "
    "willow wolf yew zenith".split()
)
SUFFIXES = ("",) * 4 + tuple(
    "-group -labs -law -dental -consulting -logistics -foods -design -media -partners "
    "-health -realty -systems -travel -build -motors -print -clinic -energy tech works".split()
)
TLDS: tuple[tuple[str, int], ...] = (
    (".com", 40), (".net", 6), (".org", 5), (".co.uk", 8), (".de", 8), (".fr", 5), (".nl", 4),
    (".io", 2), (".ca", 3), (".it", 3), (".es", 3), (".ch", 2), (".se", 2),
)  # fmt: skip
# fmt: off
BOT_OCTETS = (
    5, 14, 27, 36, 37, 39, 42, 45, 49, 58, 59, 61, 77, 80, 89, 91, 94, 103, 106, 110, 111, 112,
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 125, 141, 147, 159, 171, 175, 176,
    177, 178, 180, 181, 182, 183, 185, 186, 187, 189, 190, 191, 193, 194, 195, 196, 197, 200,
)
PUBLIC_OCTETS = (
    31, 37, 46, 62, 64, 66, 69, 72, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92,
    93, 94, 95, 104, 107, 109, 141, 144, 145, 151, 162, 176, 178, 185, 188, 193, 194, 195, 212,
)
# fmt: on
SUBJECTS_APP = (
    "Your order #{n} has shipped",
    "Invoice {n} from Brightwater Supply",
    "Password reset request",
    "Your account statement for November",
    "Order confirmation {n}",
    "Action required: verify your email address",
    "Your delivery is on its way",
    "Receipt for payment {n}",
)
SUBJECTS_STAFF = (
    "Re: quote for the spring order",
    "Meeting notes",
    "RE: delivery schedule week 49",
    "Fwd: updated price list",
    "Re: Re: contract draft v{n}",
    "Samples",
    "Call tomorrow?",
    "Re: invoice {n}",
    "Out of office",
)


def b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        out.append(B62[n % 62])
        n //= 62
    return "".join(reversed(out))


def exim_time(seconds: float) -> str:
    """Exim's interval format (readconf_printtime): ``0s``, ``45s``, ``2m3s``, ``1d2h``."""
    s = int(seconds)
    if s <= 0:
        return "0s"
    out = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            out.append(f"{s // size}{unit}")
            s %= size
    return "".join(out)


class Provider:
    """Who runs the MX hosts; rate-limit episodes apply to all the domains it hosts."""

    __slots__ = ("name", "throttle_until", "throttle_p")

    def __init__(self, name: str) -> None:
        self.name = name
        self.throttle_until = -1.0
        self.throttle_p = 0.0


class Dest:
    """A recipient domain: MX hosts, health, and Exim's host retry record for it."""

    __slots__ = (
        "name",
        "kind",
        "provider",
        "mx",
        "tls",
        "greylist",
        "grey_style",
        "grey_secs",
        "grey_passes",
        "server",
        "broken",
        "outage_until",
        "outage_cause",
        "host_first_fail",
        "host_retry_at",
        "host_interval",
        "last_conn",
    )

    def __init__(self, name: str, kind: str, provider: Provider) -> None:
        self.name = name
        self.kind = kind
        self.provider = provider
        self.mx: list[tuple[str, str]] = []
        self.tls = TLS_OUT
        self.greylist = False
        self.grey_style = 0
        self.grey_secs = 300
        self.grey_passes = 0
        self.server = "postfix"
        self.broken = ""
        self.outage_until = -1.0
        self.outage_cause = ""
        self.host_first_fail = -1.0  # < 0: no host retry record
        self.host_retry_at = -1.0
        self.host_interval = 0.0
        self.last_conn = -100.0


class Rcpt:
    __slots__ = ("addr", "dest", "done", "cause", "resolve_at", "first_fail", "retry_at", "ival")

    def __init__(self, addr: str, dest: Dest) -> None:
        self.addr = addr
        self.dest = dest
        self.done = ""
        self.cause = ""
        self.resolve_at = 0.0
        self.first_fail = -1.0  # < 0: no address retry record
        self.retry_at = -1.0
        self.ival = 0.0


class Msg:
    __slots__ = (
        "mid",
        "sender",
        "size",
        "arrival",
        "rcpts",
        "kind",
        "warned",
        "frozen",
        "busy_until",
        "new_fail",
        "deferred",
    )

    def __init__(self, mid: str, sender: str, size: int, arrival: float, kind: str) -> None:
        self.mid = mid
        self.sender = sender
        self.size = size
        self.arrival = arrival
        self.rcpts: list[Rcpt] = []
        self.kind = kind
        self.warned = False
        self.frozen = False
        self.busy_until = 0.0
        self.new_fail = 0
        self.deferred = False


Batch = list[tuple[str, list[Dest], int, str, tuple[str, ...]]]
"""Messages of one SMTP session: sender, recipient domains, size, kind, subjects."""


def next_interval(first_fail: float, now: float, prev: float) -> float:
    """Debian's retry rule ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``."""
    age = now - first_fail
    if age < 2 * 3600:
        return 900.0
    if age < 16 * 3600:
        return max(3600.0, prev * 1.5)
    return 6 * 3600.0


class Generator(SimBase):
    """Event-driven simulation of the relay; ``run`` writes ``lines`` lines to ``out``."""

    pid_step = 40
    public_octets = PUBLIC_OCTETS
    first_names = FIRST
    last_names = LAST
    role_localparts = ROLES
    role_kinds = ("m365", "workspace", "own", "mimecast")
    local_forms = ((0.45, "first.last"), (0.6, "firstlastNN"), (0.75, "flast"), (0.9, "firstYYYY"))

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        start: str = DEFAULT_START,
        tz: str = "+00:00",
        rate: float = 2000.0,
        bots_per_hour: float = 400.0,
        long_ids: bool = False,
        delay_warning: float = 24 * 3600,
        warmup_hours: float = 0.0,
    ) -> None:
        self.rng = Random(seed)
        self.init_clock(start, tz, warmup_hours, rate, bots_per_hour)
        self.long_ids = long_ids
        self.delay_warning = delay_warning
        self.fqdn = f"mx1.{ORG}"
        self.heap: list[tuple[Any, ...]] = []
        self.seq = itertools.count()
        self.pid = self.rng.randrange(2000, 60000)
        self.queue: dict[str, Msg] = {}
        self.ids: set[str] = set()
        self.connections = 0
        self.port = self.rng.randrange(32768, 60999)
        self._stamp_sec = -1
        self._stamp_text = ""
        self.daemon_pid = self.new_pid()
        self._build_world()

    # ------------------------------------------------------------------ small helpers
    def new_port(self) -> int:
        self.port += self.rng.randint(1, 9)
        if self.port > 60999:
            self.port = 32768 + self.rng.randrange(100)
        return self.port

    def line(self, t: float, text: str) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), text))

    def new_id(self, t: float, pid: int) -> str:
        """An Exim message id: base-62 time, process id and fraction of the second (4.96),
        or the longer 4.97+ form with ``--long-ids``."""
        sec = int(self.epoch0 + t)
        usec = int((t % 1.0) * 1e6)
        while True:
            if self.long_ids:
                mid = f"{b62(sec, 6)}-{b62(pid, 11)}-{b62(usec, 4)}"
            else:
                mid = f"{b62(sec, 6)}-{b62(pid, 6)}-{b62(usec // 500, 2)}"
            if mid not in self.ids:
                self.ids.add(mid)
                return mid
            usec += 500
            if usec >= 1_000_000:
                usec -= 1_000_000
                sec += 1

    def stamp(self, t: float) -> str:
        sec = int(t)
        if sec != self._stamp_sec:
            self._stamp_sec = sec
            d = datetime.fromtimestamp(self.epoch0 + sec, self.tzinfo)
            self._stamp_text = d.strftime("%Y-%m-%d %H:%M:%S ")
        return self._stamp_text

    # ------------------------------------------------------------------ the world
    def _build_world(self) -> None:
        rng = self.rng
        names = "google microsoft yahoo apple gmx orange internal typo mimecast m365".split()
        prov = {n: Provider(n) for n in names}
        self.providers = prov
        dests: list[tuple[Dest, float]] = []

        def add(name: str, kind: str, p: str, w: float, mx: list[tuple[str, str]]) -> Dest:
            d = Dest(name, kind, prov[p])
            d.mx = mx
            dests.append((d, w))
            return d

        def google_mx(prefix: str) -> list[tuple[str, str]]:
            hosts = [f"{prefix}.l.google.com"] + [f"alt{i}.{prefix}.l.google.com" for i in (1, 2)]
            return [(h, f"142.250.{rng.randrange(96, 160)}.{rng.choice((26, 27))}") for h in hosts]

        gmx_ = google_mx("gmail-smtp-in")
        for name, w in (("gmail.com", 27.0), ("googlemail.com", 0.5)):
            add(name, "gmail", "google", w, gmx_).tls = TLS_OUT_GOOGLE
        for name, w in (("outlook.com", 3.5), ("hotmail.com", 5.0), ("live.com", 1.0)):
            mx = name.replace(".", "-") + ".olc.protection.outlook.com"
            add(name, "msconsumer", "microsoft", w, [(mx, f"52.101.{rng.randrange(256)}.3")])
        ymx = [(f"mta{i}.am0.yahoodns.net", f"67.195.204.{rng.randrange(72, 80)}") for i in (5, 6)]
        add("yahoo.com", "yahoo", "yahoo", 5.0, ymx)
        add("aol.com", "yahoo", "yahoo", 1.0, [("mx-aol.mail.gm0.yahoodns.net", "67.195.204.77")])
        amx = [("mx01.mail.icloud.com", "17.57.155.23"), ("mx02.mail.icloud.com", "17.42.251.41")]
        for name, w in (("icloud.com", 3.0), ("me.com", 0.6)):
            add(name, "apple", "apple", w, amx)
        add("gmx.de", "gmx", "gmx", 0.8, [("mx00.emig.gmx.net", "212.227.17.4")])
        add("web.de", "gmx", "gmx", 0.8, [("mx-ha03.web.de", "212.227.15.41")])
        add("orange.fr", "orange", "orange", 0.6, [("smtp-in.orange.fr", "193.252.22.75")])
        self.internal = add(ORG, "internal", "internal", 3.0, [(f"mailhub.int.{ORG}", "10.20.0.5")])
        self.internal.tls = ""
        for name in ("gmai.com", "gmial.com", "hotmial.com", "yahooo.com", "outlok.com"):
            add(name, "typo", "typo", 0.03, [])

        tcum = list(itertools.accumulate(w for _, w in TLDS))
        seen: set[str] = set()
        small: list[Dest] = []
        while len(small) < 2500:
            name = self.domain_name(WORDS, SUFFIXES, TLDS, tcum)
            if name in seen:
                continue
            seen.add(name)
            r = rng.random()
            if r < 0.30:
                d = Dest(name, "workspace", prov["google"])
                d.mx = google_mx("aspmx")
                d.tls = TLS_OUT_GOOGLE
            elif r < 0.64:
                d = Dest(name, "m365", prov["m365"])
                mx = name.replace(".", "-") + ".mail.protection.outlook.com"
                d.mx = [(mx, f"52.101.{rng.randrange(256)}.{rng.randrange(1, 255)}")]
            elif r < 0.69:
                d = Dest(name, "mimecast", prov["mimecast"])
                d.mx = [
                    ("eu-smtp-inbound-1.mimecast.com", "195.130.217.221"),
                    ("eu-smtp-inbound-2.mimecast.com", "91.220.42.211"),
                ]
            else:
                d = Dest(name, "own", Provider(name))
                if rng.random() < 0.5:
                    d.mx = [(f"mx1.{name}", self.public_ip()), (f"mx2.{name}", self.public_ip())]
                else:
                    d.mx = [(f"mail.{name}", self.public_ip())]
                d.server = rng.choice(("postfix", "postfix", "exim", "exim", "exchange"))
                d.tls = rng.choice((TLS_OUT, TLS_OUT, TLS_OUT_OLD, ""))
                if self.maybe_greylist(d):
                    d.grey_passes = rng.randrange(12)  # some know the relay already
                if rng.random() < 0.02:
                    d.broken = rng.choice(("timeout", "timeout", "refused", "greeting"))
                    # Dead for weeks already: the host retry record is older than the cutoff.
                    d.host_first_fail = -CUTOFF - rng.uniform(3600, 20 * 86400)
                    d.host_retry_at = rng.uniform(0, 6 * 3600)
                    d.host_interval = 6 * 3600
            small.append(d)
        zipf = [1.0 / rank**0.9 for rank in range(1, len(small) + 1)]
        norm = 39.0 / sum(zipf)
        for rank, (d, z) in enumerate(zip(small, zipf, strict=True)):
            if rank < 100 and d.broken:
                d.broken = ""  # the busy partners' servers work
                d.host_first_fail = d.host_retry_at = -1.0
            dests.append((d, z * norm))
        self.set_dests(dests, ("workspace", "m365", "own", "mimecast"))
        self.staff = [f"{self.pick(FIRST)}.{self.pick(LAST)}@{ORG}" for _ in range(180)]
        # Mailboxes that have been full for weeks: their address retry records time out.
        self.stale_full: set[str] = set()
        self.clients = [
            (f"app0{i}.int.{ORG}", f"10.20.0.{10 + i}", f"app0{i}") for i in range(1, 7)
        ] + [(f"web0{i}.int.{ORG}", f"10.20.1.{20 + i}", "") for i in range(1, 4)]

    # ------------------------------------------------------------------ main loop
    def run(self, lines: int, out: TextIO) -> int:
        """Write ``lines`` log lines to ``out``; returns the number written."""
        rng = self.rng
        self.line(
            0.0,
            f"exim {EXIM_VERSION} daemon started: pid={self.daemon_pid}, -q30m, listening for "
            f"SMTP on [{RELAY_IP}]:25 [10.20.0.2]:25 [10.20.0.2]:587",
        )
        self.call(0.001, self.ev_arrival)
        self.call(rng.random() * 20, self.ev_bot)
        self.call(rng.random() * QUEUE_INTERVAL, self.ev_queue_run)
        self.call(3600 * (2 + rng.random() * 6), self.ev_campaign)
        self.call(rng.random() * 3600, self.ev_cron)
        self.call(self.next_daily(0.0), self.ev_restart)
        for name, mean in (("google", 8), ("microsoft", 8), ("m365", 10), ("yahoo", 8)):
            self.call(rng.expovariate(1.0 / (mean * 3600)), self.ev_throttle, name, mean)
        for name, mean in (("apple", 30), ("orange", 40), ("gmx", 50)):
            self.call(rng.expovariate(1.0 / (mean * 3600)), self.ev_throttle, name, mean)

        stamp = self.stamp
        return self.drain(lines, out, lambda t, text: stamp(t) + text)

    # ------------------------------------------------------------------ arrivals
    def ev_arrival(self, t: float) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.50:
            self.session_app(t)
        elif r < 0.88:
            self.session_staff(t)
        else:
            self.local_submission(t)
        rate = self.peak_rate * max(self.rate_factor(t), 0.03)
        self.call(t + rng.expovariate(rate), self.ev_arrival)

    def subject(self, pool: tuple[str, ...]) -> str:
        text: str = self.pick(pool)
        return text.format(n=self.rng.randrange(10000, 99999))

    def session_app(self, t: float) -> None:
        rng = self.rng
        host, ip, user = self.pick(self.clients)
        k = 1 if rng.random() < 0.35 else min(2 + int(rng.expovariate(0.45)), 12)
        msgs: Batch = []
        for _ in range(k):
            sender = self.pick(
                (f"noreply@{ORG}", f"orders@shop.{ORG}", f"billing@{ORG}", f"support@{ORG}")
            )
            x = rng.random()
            n = 1 if x < 0.6 else (rng.randint(2, 3) if x < 0.85 else rng.randint(4, 8))
            dests = [self.pick_dest() for _ in range(n)]
            msgs.append((sender, dests, int(rng.lognormvariate(9.0, 0.6)), "app", SUBJECTS_APP))
        auth = f" A=plain:{user}" if user else ""
        self.smtp_session(t, host, ip, msgs, auth)

    def session_staff(self, t: float) -> None:
        rng = self.rng
        k = 1 if rng.random() < 0.5 else rng.randint(2, 4)
        msgs: Batch = []
        for _ in range(k):
            kind = "staff"
            if rng.random() < 0.05:
                # The hub forwards mail of outside senders (aliases, list replies): its
                # bounces go back out, and some of those senders do not exist.
                sender = self.address(self.pick_dest())
                kind = "forward"
            else:
                sender = self.pick(self.staff)
            r = rng.random()
            n = 1 if r < 0.35 else (2 if r < 0.55 else (3 if r < 0.7 else rng.randint(4, 9)))
            main = self.pick_dest(business=rng.random() < 0.75)
            dests = []
            for i in range(n):
                x = rng.random()
                if i == 0 or x < 0.45:
                    dests.append(main)
                elif x < 0.62:
                    dests.append(self.internal)
                else:
                    dests.append(self.pick_dest(business=rng.random() < 0.5))
            size = int(rng.lognormvariate(10.3, 1.3))
            msgs.append((sender, dests, size, kind, SUBJECTS_STAFF))
        self.smtp_session(t, f"mailhub.int.{ORG}", "10.20.0.5", msgs, "")

    def smtp_session(
        self,
        t: float,
        host: str,
        ip: str,
        msgs: Batch,
        auth: str,
    ) -> None:
        rng = self.rng
        pid = self.new_pid()
        port = self.new_port()
        client = f"{host} [{ip}]:{port}"
        self.connections += 1
        self.line(
            t,
            f"SMTP connection from {client} (TCP/IP connection count = "
            f"{min(self.connections, 1 + int(rng.expovariate(0.5)))})",
        )
        t += 0.02 + rng.random() * 0.05
        for sender, dests, size, kind, subjects in msgs:
            t += 0.02 + size / 4e6 + rng.random() * 0.08
            mid = self.new_id(t, pid)
            msg = Msg(mid, sender, size, t, kind)
            for d in dests:
                msg.rcpts.append(Rcpt(self.address(d), d))
            msgid = f"{self.hex(64)}@{ORG}" if kind == "app" else f"{self.hex(96)}@{ORG}"
            self.line(
                t,
                f"{mid} <= {sender} H={client} P=esmtps X={TLS_IN} CV=no{auth} S={size} "
                f'id={msgid} T="{self.subject(subjects)}" for '
                + " ".join(r.addr for r in msg.rcpts),
            )
            self.queue[mid] = msg
            self.call(t + 0.01 + rng.random() * 0.05, self.ev_deliver, msg)
        t += 0.01 + rng.random() * 0.02
        self.line(t, f"SMTP connection from {client} closed by QUIT")
        self.connections -= 1

    def local_submission(self, t: float, user: str = "") -> None:
        rng = self.rng
        if not user:
            user = "www-data" if rng.random() < 0.8 else "deploy"
        pid = self.new_pid()
        mid = self.new_id(t, pid)
        sender = f"{user}@{self.fqdn}"
        if user == "root":
            dest = self.internal
            rcpt = Rcpt(f"root@{self.fqdn}", dest)
            kind, subject, size = "local", "Cron <root@mx1> /usr/local/bin/backup-check", 900
        else:
            dest = self.pick_dest() if user == "www-data" else self.internal
            rcpt = Rcpt(self.address(dest), dest)
            kind = "app"
            subject = self.subject(SUBJECTS_APP)
            size = int(rng.lognormvariate(7.8, 0.5))
        msg = Msg(mid, sender, size, t, kind)
        msg.rcpts.append(rcpt)
        self.line(
            t,
            f"{mid} <= {sender} U={user} P=local S={size} id={self.hex(40)}@{self.fqdn} "
            f'T="{subject}" for {rcpt.addr}',
        )
        self.queue[mid] = msg
        self.call(t + 0.01 + rng.random() * 0.03, self.ev_deliver, msg)

    def ev_cron(self, t: float) -> None:
        self.local_submission(t, "root")
        self.call(t + self.rng.choice((900, 1800, 3600)) + self.rng.random() * 5, self.ev_cron)

    def ev_campaign(self, t: float) -> None:
        rng = self.rng
        hour = datetime.fromtimestamp(self.epoch0 + t, self.tzinfo).hour
        if not 8 <= hour < 19:
            self.call(t + 3600 * rng.uniform(1, 3), self.ev_campaign)
            return
        n = rng.randint(800, 4000)
        for name, p in (("google", 0.35), ("microsoft", 0.25), ("yahoo", 0.35)):
            if rng.random() < p:
                self.start_throttle(t + rng.uniform(60, 600), name)
        self.call(t, self.ev_campaign_batch, n, rng.uniform(0.2, 0.6), rng.randrange(100, 999))
        self.call(t + 3600 * rng.uniform(5, 14), self.ev_campaign)

    def ev_campaign_batch(self, t: float, left: int, spacing: float, cid: int) -> None:
        rng = self.rng
        k = min(left, 50)
        pid = self.new_pid()
        port = self.new_port()
        client = f"lists.int.{ORG} [10.20.2.9]:{port}"
        self.line(t, f"SMTP connection from {client} (TCP/IP connection count = 1)")
        for _ in range(k):
            t += spacing * rng.uniform(0.2, 1.8)
            d = self.pick_dest()
            if d.kind == "internal":
                d = self.dests[0]
            mid = self.new_id(t, pid)
            size = int(rng.lognormvariate(10.8, 0.2))
            msg = Msg(mid, f"newsletter@news.{ORG}", size, t, "news")
            msg.rcpts.append(Rcpt(self.address(d), d))
            self.line(
                t,
                f"{mid} <= newsletter@news.{ORG} H={client} P=esmtps X={TLS_IN} CV=no "
                f"S={size} id={cid}.{self.hex(40)}@news.{ORG} "
                f'T="Winter deals {cid}: up to 30% off" for {msg.rcpts[0].addr}',
            )
            self.queue[mid] = msg
            self.call(t + 0.01 + rng.random() * 0.05, self.ev_deliver, msg)
        self.line(t + 0.01, f"SMTP connection from {client} closed by QUIT")
        if left > k:
            self.call(t + rng.random(), self.ev_campaign_batch, left - k, spacing, cid)

    # ------------------------------------------------------------------ delivery
    def ev_deliver(self, t: float, msg: Msg) -> None:
        """One delivery process for ``msg``: every pending recipient, grouped by domain."""
        end = t
        for d, rcpts in mailsim.by_dest(msg.rcpts):
            end = self.deliver(end, msg, d, rcpts)
        msg.busy_until = end + 0.01
        self.call(end + 0.001, self.ev_after, msg)

    def d_line(self, t: float, msg: Msg, first: bool, r: Rcpt, rest: str, dt: float) -> None:
        flag = "=>" if first else "->"
        self.line(
            t,
            f"{msg.mid} {flag} {r.addr} {rest} QT={exim_time(t - msg.arrival)} DT={exim_time(dt)}",
        )

    def defer(self, t: float, msg: Msg, r: Rcpt, text: str, host_level: bool = False) -> None:
        self.line(t, f"{msg.mid} == {r.addr} {text}")
        msg.deferred = True
        if not host_level:
            if r.first_fail < 0:
                r.first_fail = t
            r.ival = next_interval(r.first_fail, t, r.ival)
            r.retry_at = t + r.ival

    def fail(self, t: float, msg: Msg, r: Rcpt, text: str) -> None:
        self.line(t, f"{msg.mid} ** {r.addr} {text}")
        r.done = "failed"
        msg.new_fail += 1

    def host_failed(self, t: float, dest: Dest) -> None:
        if dest.host_first_fail < 0 or dest.host_retry_at < 0:
            dest.host_first_fail = t
        dest.host_interval = next_interval(dest.host_first_fail, t, dest.host_interval)
        dest.host_retry_at = t + dest.host_interval

    def deliver(self, t: float, msg: Msg, dest: Dest, rcpts: list[Rcpt]) -> float:
        """Log one attempt at ``rcpts`` (all at ``dest``); returns the time it ended."""
        rng = self.rng
        t += rng.expovariate(1 / 0.01)
        if msg.kind == "local":
            r = rcpts[0]
            dt = 0.01 + rng.random() * 0.05
            self.d_line(t + dt, msg, True, r, f"<{r.addr}> R=local_user T=mail_spool", dt)
            # Debian's /etc/aliases sends root's mail to the admin's mailbox.
            r.done = "sent"
            return t + dt
        if dest.kind == "typo":
            # No router accepts a domain that does not resolve: no R= on the line.
            for r in rcpts:
                self.line(t, f"{msg.mid} ** {r.addr}: Unrouteable address DT=0s")
                r.done = "failed"
                msg.new_fail += 1
            return t + 0.01
        rt = "R=dnslookup T=remote_smtp"
        if dest.kind == "internal":
            rt = "R=hub_route T=remote_smtp"
        # Exim's own back-off: address retry records, then host retry records.
        pending: list[Rcpt] = []
        for r in rcpts:
            if r.first_fail >= 0 and r.retry_at > t:
                if t - r.first_fail > CUTOFF:
                    self.fail(t, msg, r, ": retry timeout exceeded")
                else:
                    self.defer(t, msg, r, "routing defer (-52) DT=0s: retry time not reached", True)
            else:
                pending.append(r)
        if not pending:
            return t + 0.005
        if dest.host_retry_at > t:
            if t - dest.host_first_fail > CUTOFF:
                # delay_after_cutoff: hosts dead past the cutoff bounce without a new try.
                for r in pending:
                    self.fail(
                        t,
                        msg,
                        r,
                        f"{rt}: retry time not reached for any host after a long failure "
                        "period DT=0s",
                    )
            else:
                for r in pending:
                    self.defer(
                        t,
                        msg,
                        r,
                        f"{rt} defer (-54) DT=0s: retry time not reached for any host for "
                        f"'{dest.name}'",
                        True,
                    )
            return t + 0.005
        cause = dest.broken
        if not cause and dest.kind == "own":
            if dest.outage_until > t:
                cause = dest.outage_cause
            elif rng.random() < 0.001:
                dest.outage_until = t + min(rng.lognormvariate(math.log(2400), 1.3), 3 * 86400)
                dest.outage_cause = rng.choice(("timeout", "refused", "refused", "greeting", "dns"))
                cause = dest.outage_cause
        if cause:
            return self.site_failure(t, msg, dest, pending, cause, rt)
        prov = dest.provider
        mx_host, mx_ip = dest.mx[0] if len(dest.mx) == 1 or rng.random() < 0.9 else dest.mx[1]
        reuse = t - dest.last_conn < 2.0 and dest.kind not in ("own",)
        dest.last_conn = t
        c = 0.0 if reuse else 0.08 + rng.lognormvariate(-1.5, 0.6)
        hfield = f"H={mx_host} [{mx_ip}]:25{'*' if reuse else ''}"
        if prov.throttle_until > t and rng.random() < prov.throttle_p and dest.kind != "workspace":
            return self.throttled(t + c, msg, dest, pending, rt, hfield)
        # The host answered: Exim deletes its host retry record.
        dest.host_first_fail = dest.host_retry_at = -1.0
        d = 0.05 + msg.size / rng.uniform(2e6, 2e7) + rng.random() * 0.3
        t_rcpt = t + c + d * 0.3
        t_end = t + c + d
        if rng.random() < 0.002:
            # A temporary failure after the data: the whole transaction is deferred.
            text = self.transient_text(dest)
            err = f"SMTP error from remote mail server after end of data: {text}"
            self.line(t_end, f"{msg.mid} {hfield}: {err}")
            for r in pending:
                self.defer(t_end, msg, r, f"{rt} defer (-46) {hfield} DT={exim_time(d)}: {err}")
            return t_end
        tls = f" X={dest.tls} CV={'yes' if dest.tls != TLS_OUT_OLD else 'no'}" if dest.tls else ""
        chunking = " K" if dest.kind in ("gmail", "workspace") else ""
        sent: list[Rcpt] = []
        for r in pending:
            if r.cause:
                if r.resolve_at > t_rcpt:
                    self.rcpt_defer(t_rcpt, msg, r, rt, hfield, d)
                    continue
                if r.cause == "grey":
                    dest.grey_passes += 1
                r.cause = ""
            else:
                x = rng.random()
                if x < 0.006 and dest.kind != "internal" and msg.kind != "bounce":
                    self.fail(
                        t_rcpt,
                        msg,
                        r,
                        f"{rt} {hfield}: SMTP error from remote mail server after RCPT "
                        f"TO:<{r.addr}>: {self.bounce_text(dest, r)} DT={exim_time(d * 0.3)}",
                    )
                    continue
                if msg.kind == "bounce" and msg.sender == "" and r.resolve_at < 0:
                    # The outside sender of a forwarded message does not exist.
                    self.fail(
                        t_rcpt,
                        msg,
                        r,
                        f"{rt} {hfield}: SMTP error from remote mail server after RCPT "
                        f"TO:<{r.addr}>: {self.bounce_text(dest, r)} DT={exim_time(d * 0.3)}",
                    )
                    continue
                cause = self.new_rcpt_cause(dest, x - 0.006, r)
                if cause:
                    r.cause = cause
                    r.resolve_at = self.resolve_time(t_rcpt, dest, cause)
                    self.rcpt_defer(t_rcpt, msg, r, rt, hfield, d)
                    continue
            sent.append(r)
        if sent:
            reply = self.sent_text(dest, msg, t_end)
            for i, r in enumerate(sent):
                self.d_line(t_end, msg, i == 0, r, f'{rt} {hfield}{tls}{chunking} C="{reply}"', d)
                r.done = "sent"
        return t_end

    def rcpt_defer(self, t: float, msg: Msg, r: Rcpt, rt: str, hfield: str, d: float) -> None:
        text = self.rcpt_defer_text(r.dest, r, t)
        if r.addr in self.stale_full and r.first_fail < 0:
            # The address retry record is weeks old: Exim gives up at once.
            self.fail(
                t,
                msg,
                r,
                f"{rt} {hfield}: SMTP error from remote mail server after RCPT TO:<{r.addr}>: "
                f"{text}: retry timeout exceeded DT={exim_time(d * 0.3)}",
            )
            return
        self.defer(
            t,
            msg,
            r,
            f"{rt} defer (-44) {hfield} DT={exim_time(d * 0.3)}: SMTP error from remote mail "
            f"server after RCPT TO:<{r.addr}>: {text}",
        )

    def site_failure(
        self, t: float, msg: Msg, dest: Dest, rcpts: list[Rcpt], cause: str, rt: str
    ) -> float:
        rng = self.rng
        t0 = t
        if cause == "dns":
            t += 0.5 + rng.random() * 4
            for r in rcpts:
                self.defer(t, msg, r, "R=dnslookup defer (-1): host lookup did not complete")
            return t
        text = ""
        for host, ip in dest.mx:
            if cause == "timeout":
                t += 300.0  # Exim's connect_timeout
                self.line(t, f"{msg.mid} H={host} [{ip}]:25 Connection timed out")
                text = "defer (110): Connection timed out"
            elif cause == "refused":
                t += 0.05 + rng.random() * 0.2
                self.line(t, f"{msg.mid} H={host} [{ip}]:25 Connection refused")
                text = "defer (111): Connection refused"
            else:
                t += 0.3 + rng.random() * 2
                err = (
                    "SMTP error from remote mail server after initial connection: 421 "
                    f"{host} Service not available - too busy"
                )
                self.line(t, f"{msg.mid} H={host} [{ip}]:25: {err}")
                text = f"defer (0) H={host} [{ip}]:25 DT={exim_time(t - t0)}: {err}"
        if cause != "greeting":
            text += f" DT={exim_time(t - t0)}"
        for r in rcpts:
            self.defer(t, msg, r, f"{rt} {text}", True)
        self.host_failed(t, dest)
        return t

    def throttled(
        self, t: float, msg: Msg, dest: Dest, rcpts: list[Rcpt], rt: str, hfield: str
    ) -> float:
        rng = self.rng
        name = dest.provider.name
        if name in ("google",):
            err = f"SMTP error from remote mail server after end of data: {self.gmail_428()}"
            code, dt = "-46", 0.3 + rng.random()
        elif name in ("m365",):
            err = (
                "SMTP error from remote mail server after end of data: "
                f"{mailsim.ms_s77719(self.ms_host())}"
            )
            code, dt = "-46", 0.3 + rng.random()
        else:
            pipe = f"pipelined MAIL FROM:<{msg.sender}> SIZE={msg.size + 1200}"
            if name == "microsoft":
                text = f"{mailsim.MS_S775} [{self.ms_host()}]"
            elif name == "yahoo":
                text = mailsim.YAHOO_TSS04
            elif name == "apple":
                text = mailsim.APPLE_HCM1
            elif name == "gmx":
                text = (
                    "421-gmx.net (mxgmx017) Nemesis ESMTP Service not available 421-Service "
                    "unavailable 421 Reject due to policy restrictions."
                )
            else:
                text = (
                    "421 mwinf5c40 ME Service refuse. Veuillez essayer plus tard. Service "
                    "refused, please try later. OFR004_104 [104]"
                )
            err = f"SMTP error from remote mail server after {pipe}: {text}"
            code, dt = "-45", 0.05
        t += dt
        self.line(t, f"{msg.mid} {hfield}: {err}")
        for r in rcpts:
            self.defer(t, msg, r, f"{rt} defer ({code}) {hfield} DT={exim_time(dt)}: {err}", True)
        if code == "-45" and rng.random() < 0.3:
            # Every MX host refused the sender: host retry records for all of them.
            self.host_failed(t, dest)
        return t

    def gmail_428(self) -> str:
        return (
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating "
            "421-4.7.28 from your IP address. To protect our users from spam, mail sent from "
            "421-4.7.28 your IP address has been temporarily rate limited. For more "
            "421 4.7.28 information, go to https://support.google.com/mail/?p=UnsolicitedRateLimitError "
            f"{self.gsmtp_id()} - gsmtp"
        )

    def new_rcpt_cause(self, dest: Dest, x: float, r: Rcpt) -> str:
        """Per-recipient temporary failures (``x`` is uniform in [-0.006, 0.994))."""
        kind = dest.kind
        if x < 0:
            return ""
        if dest.greylist:
            # postgrey's auto-whitelist: after ten passes the relay is let through.
            return "grey" if x < 0.7 and dest.grey_passes < 10 else ""
        if kind == "mimecast":
            return "grey" if x < 0.18 else ""
        if kind == "gmail":
            return "rate" if x < 0.045 else ("quota" if x < 0.052 else "")
        if kind in ("yahoo", "msconsumer", "apple", "gmx"):
            return "quota" if x < 0.006 else ("rate" if x < 0.03 else "")
        if kind == "own":
            return "quota" if x < 0.008 else ("local" if x < 0.03 else "")
        if kind in ("workspace", "m365"):
            return "quota" if x < 0.008 else ""
        return ""

    def resolve_time(self, t: float, dest: Dest, cause: str) -> float:
        rng = self.rng
        if cause == "grey":
            return t + (dest.grey_secs if dest.kind != "mimecast" else rng.uniform(60, 1200))
        if cause == "rate":
            return t + rng.lognormvariate(math.log(1500), 0.9)
        if cause == "local":
            return t + rng.lognormvariate(math.log(900), 1.0)
        # quota: most mailboxes are emptied within a day; some were full long before.
        x = rng.random()
        if x < 0.12:
            return t + 30 * 86400
        return t + (rng.lognormvariate(math.log(5 * 3600), 1.0) if x < 0.9 else 8 * 86400)

    def rcpt_defer_text(self, dest: Dest, r: Rcpt, t: float) -> str:
        kind = dest.kind
        cause = r.cause
        if cause == "grey":
            left = max(1, int(r.resolve_at - t))
            if kind == "mimecast":
                return (
                    "451 Internal resource temporarily unavailable - "
                    "https://community.mimecast.com/docs/DOC-1369#451 "
                    f"[{self.hex(64)[:22]}.uk{self.rng.randrange(100, 400)}]"
                )
            style = dest.grey_style
            if style == 0:
                return mailsim.postgrey(r.addr, dest.name)
            if style == 1:
                return mailsim.greylisted_for(r.addr, left)
            if style == 2:
                return mailsim.greylisting_hms(left)
            if style == 3:
                return mailsim.greylisted_retry(left)
            return (
                "451 4.7.1 Sender address rejected: Greylisted, try again in "
                f"{max(1, left // 60)} minutes"
            )
        if cause == "rate":
            if kind == "gmail":
                return (
                    "450-4.2.1 The user you are trying to contact is receiving mail too quickly. "
                    "Please 450-4.2.1 resend your message at a later time. If the user is able "
                    "to receive 450 4.2.1 mail at that time, your message will be delivered. "
                    f"https://support.google.com/mail/?p=ReceivingRate {self.gsmtp_id()} - gsmtp"
                )
            if kind == "yahoo":
                return "451 Message temporarily deferred - [170]"
            if kind == "msconsumer":
                return mailsim.ms_mailbox_full(r.addr, self.ms_host())
            return mailsim.TOO_QUICKLY
        if cause == "quota":
            if r.resolve_at - t > 20 * 86400:
                self.stale_full.add(r.addr)
            if kind in ("gmail", "workspace"):
                return (
                    "452-4.2.2 The recipient's inbox is out of storage space. Please direct the "
                    "452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp "
                    f"{self.gsmtp_id()} - gsmtp"
                )
            if kind in ("m365", "msconsumer"):
                return mailsim.ms_mailbox_full(r.addr, self.ms_host())
            return mailsim.mailbox_full(r.addr)
        if dest.server == "exim":
            return mailsim.EXIM_TEMP_LOCAL
        return mailsim.temp_lookup_failure(r.addr)

    def transient_text(self, dest: Dest) -> str:
        kind = dest.kind
        if kind in ("gmail", "workspace"):
            return (
                "421-4.3.0 Temporary System Problem.  Try again later (10). 421 4.3.0 "
                f"https://support.google.com/a/answer/3221692 {self.gsmtp_id()} - gsmtp"
            )
        if kind in ("m365", "msconsumer"):
            return mailsim.ms_temp_error(self.ms_host())
        return mailsim.QUEUE_WRITE_ERROR

    def bounce_text(self, dest: Dest, r: Rcpt) -> str:
        kind = dest.kind
        if kind in ("gmail", "workspace"):
            return (
                "550-5.1.1 The email account that you tried to reach does not exist. Please try "
                "550-5.1.1 double-checking the recipient's email address for typos or "
                "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser "
                f"{self.gsmtp_id()} - gsmtp"
            )
        if kind == "msconsumer":
            return mailsim.ms_unavailable(self.ms_host())
        if kind == "m365":
            return mailsim.m365_access_denied(self.ms_host())
        if kind == "yahoo":
            return "554 5.7.9 Message not accepted for policy reasons."
        if dest.server == "exim":
            return mailsim.EXIM_NO_SUCH_USER
        if dest.server == "exchange":
            return "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP lookup"
        return f"550 5.1.1 <{r.addr}>: Recipient address rejected: User unknown in local table"

    def gsmtp_id(self) -> str:
        return f"{self.hex(48)}{self.gsmtp_tail()}"

    def ms_host(self) -> str:
        return self.ms_host_of(20, ("eurprd04", "namprd03"))

    def sent_text(self, dest: Dest, msg: Msg, t: float) -> str:
        kind = dest.kind
        rng = self.rng
        if kind in ("gmail", "workspace"):
            return mailsim.gmail_sent(int(self.epoch0 + t), self.gsmtp_id())
        if kind in ("m365", "msconsumer"):
            return mailsim.ms_queued(
                f"<{self.hex(64)}@{ORG}>",
                rng.randrange(10**12, 10**13),
                self.ms_host(),
                msg.size + 3000,
                rng.uniform(0.05, 0.9),
                rng.uniform(20, 900),
                "",
            )
        if kind == "yahoo":
            return mailsim.YAHOO_SENT
        if kind == "apple":
            return f"250 2.0.0 Ok: queued as {self.hex(40)}"
        if kind == "gmx":
            return mailsim.gmx_sent(self.hex(40))
        if kind == "mimecast":
            return mailsim.mimecast_sent(self.hex(64), self.hex(16))
        if kind == "internal":
            return f"250 2.0.0 Ok: queued as {self.hex(44).upper()}"
        if dest.server == "exim":
            return mailsim.exim_sent(self.hex(24), self.hex(24), self.hex(8))
        if dest.server == "exchange":
            return f"250 2.6.0 <{self.hex(64)}@{ORG}> Queued mail for delivery"
        return f"250 2.0.0 Ok: queued as {self.hex(40).upper()}"

    # ------------------------------------------------------------------ after an attempt
    def ev_after(self, t: float, msg: Msg) -> None:
        if msg.new_fail:
            msg.new_fail = 0
            if msg.sender:
                self.notify(t, msg, "bounce")
                t += 0.01
            elif not all(r.done == "sent" for r in msg.rcpts if r.done):
                # A bounce that cannot be delivered is frozen.
                if not msg.frozen:
                    msg.frozen = True
                    self.line(t, f"{msg.mid} Frozen (delivery error message)")
                    self.call(t + 2 * 86400 + self.rng.random() * 60, self.ev_unfreeze, msg)
                    return
        if all(r.done for r in msg.rcpts):
            self.line(t, f"{msg.mid} Completed QT={exim_time(t - msg.arrival)}")
            self.queue.pop(msg.mid, None)
            self.ids.discard(msg.mid)
            return
        if (
            self.delay_warning
            and not msg.warned
            and msg.sender
            and t - msg.arrival >= self.delay_warning
        ):
            msg.warned = True
            self.notify(t, msg, "warning")

    def ev_unfreeze(self, t: float, msg: Msg) -> None:
        # ignore_bounce_errors_after = 2d: one more try, then the bounce is discarded.
        self.line(t, f"{msg.mid} Unfrozen by errmsg timer")
        msg.frozen = False
        for r in msg.rcpts:
            if r.done == "failed":
                r.done = ""
        end = t + 0.01
        for r in msg.rcpts:
            if not r.done:
                self.fail(end, msg, r, f"R=dnslookup T=remote_smtp: {self.bounce_text(r.dest, r)}")
        self.line(end + 0.01, f"{msg.mid} Completed QT={exim_time(end - msg.arrival)}")
        self.queue.pop(msg.mid, None)
        self.ids.discard(msg.mid)

    def notify(self, t: float, msg: Msg, what: str) -> None:
        """A bounce or delay warning to the sender: a new message of its own."""
        rng = self.rng
        pid = self.new_pid()
        mid = self.new_id(t, pid)
        if what == "bounce":
            subject = "Mail delivery failed: returning message to sender"
            size = rng.randrange(1800, 4000) + min(msg.size, 60000)
        else:
            subject = f"Warning: message {msg.mid} delayed 24 hours"
            size = rng.randrange(1700, 2600)
        dest = self.internal if msg.sender.endswith(ORG) else self.dest_of(msg.sender)
        bmsg = Msg(mid, "", size, t, "bounce")
        r = Rcpt(msg.sender, dest)
        if msg.kind == "forward" and rng.random() < 0.35:
            r.resolve_at = -1.0  # a made-up sender: the bounce fails
        bmsg.rcpts.append(r)
        self.line(
            t,
            f'{mid} <= <> R={msg.mid} U=Debian-exim P=local S={size} T="{subject}" '
            f"for {msg.sender}",
        )
        self.queue[mid] = bmsg
        self.call(t + 0.01 + rng.random() * 0.05, self.ev_deliver, bmsg)

    def dest_of(self, addr: str) -> Dest:
        domain = addr.rpartition("@")[2]
        for d in self.dests:
            if d.name == domain:
                return d
        return self.dests[0]

    # ------------------------------------------------------------------ queue runs
    def ev_queue_run(self, t: float) -> None:
        pid = self.new_pid()
        self.line(t, f"Start queue run: pid={pid}")
        ids = list(self.queue)
        self.rng.shuffle(
            ids
        )  # queue_run_in_order is false: Exim goes sub-directory by sub-directory
        self.call(t + 0.01, self.ev_queue_step, pid, ids, 0)
        self.call(t + QUEUE_INTERVAL, self.ev_queue_run)

    def ev_queue_step(self, t: float, pid: int, ids: list[str], i: int) -> None:
        while i < len(ids):
            msg = self.queue.get(ids[i])
            i += 1
            if msg is None or msg.frozen:
                continue
            if msg.busy_until > t:
                self.line(
                    t,
                    f"{msg.mid} Spool file for {msg.mid} is locked (another process is handling "
                    "this message)",
                )
                continue
            if msg.arrival > t - 1:
                continue
            self.ev_deliver(t, msg)
            self.call(msg.busy_until + 0.002, self.ev_queue_step, pid, ids, i)
            return
        self.line(t + 0.001, f"End queue run: pid={pid}")

    # ------------------------------------------------------------------ episodes and noise
    def start_throttle(self, t: float, name: str) -> None:
        rng = self.rng
        p = self.providers[name]
        p.throttle_until = max(p.throttle_until, t + rng.lognormvariate(math.log(2400), 0.9))
        p.throttle_p = rng.uniform(0.1, 0.4) if name != "m365" else rng.uniform(0.05, 0.2)

    def ev_restart(self, t: float) -> None:
        self.daemon_pid = self.new_pid()
        self.line(
            t,
            f"exim {EXIM_VERSION} daemon started: pid={self.daemon_pid}, -q30m, listening for "
            f"SMTP on [{RELAY_IP}]:25 [10.20.0.2]:25 [10.20.0.2]:587",
        )
        self.call(self.next_daily(t + 3600), self.ev_restart)

    def ev_bot(self, t: float) -> None:
        rng = self.rng
        ip = self.public_ip(BOT_OCTETS)
        port = rng.randrange(1024, 65535)
        named = rng.random() < 0.3
        host = f"{ip.replace('.', '-')}.dynamic.isp{rng.randrange(1, 40)}.net " if named else ""
        helo = rng.choice((f"WIN-{self.hex(40)[:10].upper()}", f"[{ip}]", "User", "ylmf-pc"))
        hh = f"{host}({helo}) [{ip}]:{port}"
        r = rng.random()
        self.line(t, f"SMTP connection from [{ip}]:{port} (TCP/IP connection count = 1)")
        if not named:
            self.line(t + 0.05, f"no host name found for IP address {ip}")
        t += 0.2 + rng.random() * 0.5
        if r < 0.40:
            victim = self.address(self.pick_dest())
            spoof = self.address(self.pick_dest())
            if rng.random() < 0.55:
                why = "relay not permitted"
            else:
                why = (
                    f"JunkMail rejected - {ip} is listed at zen.spamhaus.org (127.0.0.4: "
                    f"https://www.spamhaus.org/query/ip/{ip})"
                )
            self.line(t, f"H={hh} F=<{spoof}> rejected RCPT <{victim}>: {why}")
            t += 0.1 + rng.random()
            if rng.random() < 0.5:
                self.line(
                    t,
                    f"unexpected disconnection while reading SMTP command from {hh} D={int(t) % 7}s",
                )
            else:
                self.line(t, f"SMTP connection from {hh} closed by QUIT")
        elif r < 0.62:
            n = rng.randint(1, 3)
            user = rng.choice(("admin", "info", "test", f"sales@{ORG}", "postmaster"))
            for _ in range(n):
                self.line(
                    t,
                    f"plain authenticator failed for ({helo}) [{ip}]:{port}: 535 Incorrect "
                    f"authentication data (set_id={user})",
                )
                t += 1.5 + rng.random() * 3
            self.line(t, f"SMTP connection from ({helo}) [{ip}]:{port} closed by QUIT")
        elif r < 0.82:
            self.line(
                t,
                f"no MAIL in SMTP connection from ({helo}) [{ip}]:{port} D={1 + int(t) % 20}s "
                "C=EHLO,STARTTLS,QUIT",
            )
        elif r < 0.90:
            self.line(
                t,
                f"TLS error on connection from ({helo}) [{ip}]:{port} (recv): The TLS connection "
                "was non-properly terminated.",
            )
        elif r < 0.95:
            self.line(
                t,
                f"SMTP protocol synchronization error (input sent without waiting for greeting): "
                f'rejected connection from H=[{ip}]:{port} input="GET / HTTP/1.1"',
            )
        else:
            self.line(
                t,
                f"SMTP call from ({helo}) [{ip}]:{port} dropped: too many unrecognized commands "
                '(last was "\\001\\002")',
            )
        rate = self.bot_rate * (0.7 + 0.6 * self.rate_factor(t))
        self.call(t + rng.expovariate(rate), self.ev_bot)


# ---------------------------------------------------------------------- line mix of a file
def _kind(rest: str) -> str:
    """What an Exim line is (``rest`` is the text after the time stamp)."""
    if len(rest) > 20 and rest[6] == "-" and " " in rest[15:26]:
        sp = rest.find(" ", 15)
        body = rest[sp + 1 :]
        flag = body[:2]
        if flag == "<=":
            if body.startswith("<= <>"):
                return "<= bounce/warning"
            return "<= local" if " P=local " in body else "<= smtp"
        if flag in ("=>", "->"):
            return flag
        if flag == "==":
            if "retry time not reached" in body:
                return "== retry time not reached"
            if "SMTP error" in body:
                return "== smtp error"
            return "== connection/dns"
        if flag == "**":
            return "**"
        if body.startswith("Completed"):
            return "Completed"
        if body.startswith(("Frozen", "Unfrozen")):
            return "Frozen/Unfrozen"
        if body.startswith("Spool file"):
            return "spool file locked"
        return "host note"
    if rest.startswith(("Start queue run", "End queue run")):
        return "queue run"
    if rest.startswith("SMTP connection from"):
        return "SMTP connection"
    if rest.startswith("exim "):
        return "daemon"
    return "inbound reject/noise"


def line_mix(lines: Iterable[str]) -> dict[str, Any]:
    """Measure what an Exim mainlog is made of: shares per line kind, and messages.

    ``delivery_share`` counts the delivery verdict lines (``=>``, ``->``, ``==``, ``**``);
    ``deferred_message_share`` is the share of messages (``<=`` lines) whose id has at least
    one ``==`` line.
    """
    kinds: Counter[str] = Counter()
    deferred: set[str] = set()
    messages = 0
    total = 0
    for line in lines:
        total += 1
        rest = line[20:]
        k = _kind(rest)
        kinds[k] += 1
        if k[0] == "<":
            messages += 1
        elif k[0] == "=" and k[1] == "=":
            deferred.add(rest[: rest.find(" ")])
    delivery = sum(n for k, n in kinds.items() if k[:2] in ("=>", "->", "==", "**"))
    return {
        "lines": total,
        "kinds": {k: [v, round(v / total, 4)] for k, v in kinds.most_common()},
        "delivery_share": round(delivery / total, 4) if total else 0.0,
        "delivery_label": "=> -> == **",
        "messages": messages,
        "deferred_messages": len(deferred),
        "deferred_message_share": round(len(deferred) / messages, 4) if messages else 0.0,
    }


def format_mix(mix: dict[str, Any]) -> str:
    out = [f"lines: {mix['lines']}", "line kind                        lines   share"]
    for k, (n, s) in mix["kinds"].items():
        out.append(f"  {k:<30}{n:>8}  {100 * s:5.1f}%")
    out.append(f"delivery verdict lines (=> -> == **): {100 * mix['delivery_share']:.1f}%")
    out.append(mailsim.format_messages(mix))
    return "\n".join(out)


parse_duration = mailsim.parse_duration


def main(argv: list[str] | None = None) -> int:
    ap = mailsim.new_parser(__doc__ or "")
    mailsim.add_clock_args(ap)
    ap.add_argument("--long-ids", action="store_true", help="Exim 4.97+ message ids (6-11-4)")
    mailsim.add_load_args(ap, rate=2000.0, bots_per_hour=400.0)
    ap.add_argument("--delay-warning", default="24h", help="delay_warning, 0 = off (default 24h)")
    ap.add_argument(
        "--warmup-hours",
        type=float,
        default=0.0,
        help="simulate this long before the first written line (default 0)",
    )
    mailsim.add_mix_args(ap)
    args = ap.parse_args(argv)

    if args.mix:
        mailsim.print_mix(args.mix, args.json, line_mix, format_mix)
        return 0

    gen = Generator(
        seed=args.seed,
        start=args.start,
        tz=args.tz,
        rate=args.rate,
        bots_per_hour=args.bots_per_hour,
        long_ids=args.long_ids,
        delay_warning=parse_duration(args.delay_warning),
        warmup_hours=args.warmup_hours,
    )
    done = mailsim.write_log(gen.run, args.out, args.lines)
    if done is None:  # stdout closed early, e.g. piped into head
        return 0
    n, secs = done
    if not args.quiet:
        print(
            f"gen_exim: wrote {n} lines in {secs:.1f} s (seed {args.seed})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
