#!/usr/bin/env python3
"""Seeded generator of a realistic Postfix ``mail.log`` for benchmarks.

The generator simulates an outbound relay host (``mx1`` of a fictional company) over a few days:
internal application servers, a staff mail hub and local cron jobs hand mail to Postfix, which
delivers it to Gmail, Microsoft, Yahoo, Apple, European providers and a long tail of small domains
(hosted on Google Workspace, Microsoft 365 or their own servers).  Internet bots knock on port 25
and get rejected.  The simulation is event driven: every line is pushed on one heap keyed by its
time stamp, so the output is written in time order while retries, delay warnings and expiries are
scheduled hours or days ahead.  Memory stays flat: it holds only the messages still in the queue.

What the log contains (see ``--mix`` for the measured shares of a file):

* ``smtpd``: connect / client= / TLS / disconnect with command counts, relay-access, RBL and HELO
  rejects (``NOQUEUE: reject: RCPT from ...``), SASL brute force, port scanners, lost connections;
* ``pickup``, ``cleanup`` (message-id), ``qmgr`` (``from=..., size=..., nrcpt=N (queue active)`` at
  every queue run of a message, ``removed``, ``status=expired, returned to sender``);
* ``smtp``: TLS lines, ``status=sent|deferred|bounced`` per recipient with ``delay=``/``delays=``,
  per-session ``host X said: ... (in reply to MAIL FROM command)`` lines without ``to=``,
  ``connect to X:25: Connection timed out`` lines without a queue id, lost greetings;
* ``error``: ``delivery temporarily suspended: ...`` for destinations that qmgr marked dead;
* ``bounce`` (non-delivery and delay notifications, whose new messages are delivered too),
  ``local``, ``anvil``, ``scache``, ``tlsmgr``, ``master``/``postfix-script`` (a daily reload), and
  ``opendkim`` signing lines as a milter would add them.

Deferrals follow what receivers really say: Gmail 4.2.1 / 4.7.28, Microsoft ``(S775)`` /
``(S77719)``, Yahoo ``[TSS04]``, Apple volume deferrals, greylisting in several dialects with
intervals, connection time-outs and refusals.  Rate-limit episodes of the large providers cluster
in time (newsletter campaigns trigger them).  Deferred recipients are retried on Postfix's
schedule (queue runs every 300 s, back-off between 300 s and 4000 s, doubling with the age of
the message); messages still deferred after ``--queue-lifetime`` expire and are returned.

Python 3.11 standard library only.  Deterministic for a given ``--seed`` and options.

Examples::

    python tools/bench/gen_postfix.py --lines 1000000 --out bench-data/postfix-1M.log
    python tools/bench/gen_postfix.py --lines 20000 --start 2026-12-31T20:00 --format rfc3339
    python tools/bench/gen_postfix.py --mix bench-data/postfix-1M.log
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import re
import sys
from collections import Counter, deque
from collections.abc import Iterable
from datetime import UTC, datetime
from random import Random
from typing import Any, TextIO

# The code shared with gen_exim.py sits beside this script (also when loaded by file path).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import mailsim  # noqa: E402
from mailsim import DEFAULT_SEED, DEFAULT_START, ORG, RELAY_IP, SimBase  # noqa: E402

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

POSTFIX_VERSION = "3.7.11"

QUEUE_RUN_DELAY = 300.0
MIN_BACKOFF = 300.0
MAX_BACKOFF = 4000.0
CONNECTION_CACHE_TIME = 2.0

FIRST = tuple(
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony "
    "betty mark sandra paul ashley steven emily andrew donna kevin michelle brian carol george "
    "amanda edward melissa ronald deborah timothy stephanie jason rebecca jeffrey laura ryan "
    "sharon jacob cynthia gary kathleen nicolas amy eric angela jonathan anna stephen ruth "
    "larry brenda justin pamela scott nicole lukas sophie mathieu claire jan eva pieter anke "
    "marco giulia pablo lucia sven ingrid olaf freya".split()
)
LAST = tuple(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres "
    "nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts "
    "muller schmidt schneider fischer weber dubois moreau laurent bernard rossi russo ferrari "
    "jansen devries bakker visser nielsen hansen larsen novak kowalski silva".split()
)
ROLE_LOCALPARTS = tuple(
    "info sales accounts support orders office billing admin contact purchasing hr invoices "
    "reception hello team service ap finance".split()
)
WORDS = tuple(
    "alder amber anchor apex arbor atlas aurora basalt bay beacon birch blue bridge brook cedar "
    "clear cliff cloud coast copper coral crest delta dune east echo elm ember falcon fern "
    "field fjord flint forge fox gale glen gold granite green grove harbor hawk hazel heath "
    "helix hill iron isle ivy jade juniper kestrel lake larch lark ledge lime linden lotus "
    "maple marble meadow mesa mill mint moss north oak ocean olive onyx orbit orchid otter peak "
    "pine pixel plum polar prairie quarry quartz rain raven reed ridge river rock rose rowan "
    "sage salt sand shore silver slate snow solar south spruce star stone summit swift teal "
    "thistle tide timber trail vale valley vista west willow wind wolf yew zenith".split()
)
SUFFIXES = ("",) * 4 + tuple(
    "-group -labs -law -dental -consulting -logistics -foods -design -media -partners "
    "-engineering -health -realty -systems -tech -travel -build -motors -print -bakery -clinic "
    "-capital -energy tech works soft net ware line point".split()
)
# fmt: off
TLDS = (
    (".com", 40), (".net", 6), (".org", 5), (".co.uk", 8), (".de", 8), (".fr", 5), (".nl", 4),
    (".io", 2), (".com.au", 2), (".ca", 3), (".it", 3), (".es", 3), (".ch", 2), (".be", 2),
    (".at", 1), (".se", 2), (".ie", 1), (".pl", 1), (".co", 1)
)
PUBLIC_FIRST_OCTETS = (
    5, 31, 37, 46, 62, 64, 66, 69, 72, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92,
    93, 94, 95, 104, 107, 109, 141, 144, 145, 151, 154, 157, 159, 162, 164, 176, 178, 185, 188,
    193, 194, 195, 198, 199, 207, 208, 209, 212, 213, 216, 217,
)
BOT_FIRST_OCTETS = (
    5, 14, 27, 36, 37, 39, 42, 45, 49, 58, 59, 61, 77, 80, 89, 91, 94, 103, 106, 110, 111, 112,
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 125, 141, 147, 159, 171, 175, 176,
    177, 178, 180, 181, 182, 183, 185, 186, 187, 189, 190, 191, 193, 194, 195, 196, 197, 200,
    201, 202, 211, 212, 218, 220, 221, 222, 223,
)
# fmt: on
GREETING_REFUSALS = ("gmx", "comcast", "orange", "free")
# enable_long_queue_ids: base-52 time (digits and consonants), 'z', base-51 inode (no 'z').
LONG_ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

TLS_OUT = {
    "google": "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature ECDSA (P-256) server-digest SHA256",
    "microsoft": "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
    "yahoo": "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256",
    "default": "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256",
    "old": "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
}
TLS_IN = (
    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256"
)


def fmt_delay(x: float) -> str:
    """Format a delay the way Postfix logs ``delay=`` and ``delays=`` (two significant digits)."""
    if x >= 10:
        return str(int(x))
    if x >= 1:
        s = f"{x:.1f}"
        return s[:-2] if s.endswith(".0") else s
    if x >= 0.01:
        s = f"{x:.2f}".rstrip("0")
        return s[:-1] if s.endswith(".") else s
    return "0"


class Pool:
    """A set of worker processes of one Postfix service, each retired after ``max_use`` uses."""

    __slots__ = ("gen", "pids", "uses", "max_use")

    def __init__(self, gen: Generator, size: int, max_use: int) -> None:
        self.gen = gen
        self.pids = [gen.new_pid() for _ in range(size)]
        self.uses = [gen.rng.randrange(max_use) for _ in range(size)]
        self.max_use = max_use

    def get(self) -> int:
        i = int(self.gen.rng.random() * len(self.pids))
        self.uses[i] += 1
        if self.uses[i] > self.max_use:
            self.pids[i] = self.gen.new_pid()
            self.uses[i] = 1
        return self.pids[i]


class Provider:
    """Who runs the MX hosts; rate-limit episodes apply to all the domains it hosts."""

    __slots__ = ("name", "throttle_until", "throttle_p", "throttle_kind", "last_conn")

    def __init__(self, name: str) -> None:
        self.name = name
        self.throttle_until = -1.0
        self.throttle_p = 0.0
        self.throttle_kind = ""
        self.last_conn = -100.0


class Dest:
    """A recipient domain with its MX hosts and its current health."""

    __slots__ = (
        "name",
        "kind",
        "provider",
        "mx",
        "ips",
        "greylist",
        "grey_style",
        "grey_secs",
        "outage_until",
        "outage_cause",
        "dead_until",
        "dead_reason",
        "last_conn",
        "tls",
        "server",
        "broken",
    )

    def __init__(self, name: str, kind: str, provider: Provider) -> None:
        self.name = name
        self.kind = kind
        self.provider = provider
        self.mx: list[str] = []
        self.ips: list[list[str]] = []
        self.greylist = False
        self.grey_style = 0
        self.grey_secs = 300
        self.outage_until = -1.0
        self.outage_cause = ""
        self.dead_until = -1.0
        self.dead_reason = ""
        self.last_conn = -100.0
        self.tls = "Trusted"
        self.server = "postfix"
        self.broken = ""


class Rcpt:
    __slots__ = ("addr", "dest", "done", "cause", "resolve_at", "orig")

    def __init__(self, addr: str, dest: Dest, orig: str = "") -> None:
        self.addr = addr
        self.dest = dest
        self.done = ""
        self.cause = ""
        self.resolve_at = 0.0
        self.orig = orig


class Msg:
    __slots__ = (
        "qid",
        "sender",
        "size",
        "arrival",
        "rcpts",
        "msgid",
        "warned",
        "new_bounces",
        "kind",
        "queue_sender",
    )

    def __init__(
        self, qid: str, sender: str, size: int, arrival: float, msgid: str, kind: str
    ) -> None:
        self.qid = qid
        self.sender = sender
        self.queue_sender = sender
        self.size = size
        self.arrival = arrival
        self.rcpts: list[Rcpt] = []
        self.msgid = msgid
        self.warned = False
        self.new_bounces = 0
        self.kind = kind


class Generator(SimBase):
    """Event-driven simulation of the relay; ``run`` writes ``lines`` lines to ``out``."""

    pid_step = 60
    public_octets = PUBLIC_FIRST_OCTETS
    first_names = FIRST
    last_names = LAST
    role_localparts = ROLE_LOCALPARTS
    role_kinds = ("m365", "workspace", "own", "mimecast", "proofpoint")
    local_forms = (
        (0.45, "first.last"),
        (0.6, "firstlastNN"),
        (0.72, "flast"),
        (0.82, "first_last"),
        (0.9, "firstYYYY"),
    )

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        start: str = DEFAULT_START,
        fmt: str = "bsd",
        hostname: str = "mx1",
        long_queue_ids: bool = False,
        tz: str = "+00:00",
        rate: float = 1000.0,
        queue_lifetime: float = 2 * 86400,
        delay_warning: float = 4 * 3600,
        warmup_hours: float = 0.0,
        bots_per_hour: float = 250.0,
    ) -> None:
        self.rng = Random(seed)
        self.fmt = fmt
        self.hostname = hostname
        self.fqdn = f"{hostname}.{ORG}"
        self.long_ids = long_queue_ids
        self.init_clock(start, tz, warmup_hours, rate, bots_per_hour)
        self.lifetime = queue_lifetime
        self.delay_warning = delay_warning
        self.heap: list[tuple[Any, ...]] = []
        self.seq = itertools.count()
        self.pid = self.rng.randrange(2000, 60000)
        self.inode_base = self.rng.randrange(0x100000, 0x2F0000)
        self.active: dict[str, Msg] = {}
        self.recent_removed: deque[tuple[float, str]] = deque(maxlen=512)
        self.queue_phase = self.rng.random() * QUEUE_RUN_DELAY
        self.anvil_counts: Counter[str] = Counter()
        self.anvil_first: dict[str, float] = {}
        self.smtp_used = 0
        self._stamp_sec = -1
        self._stamp_text = ""
        self._tz_suffix = ""
        self.anvil_pid = 0
        self.scache_pid = 0

        self.qmgr_pid = self.new_pid()
        self.pickup_pid = self.new_pid()
        self.tlsmgr_pid = self.new_pid()
        self.master_pid = self.rng.randrange(700, 1500)
        self.opendkim_pid = self.rng.randrange(600, 1400)
        self.smtp = Pool(self, 24, 100)
        self.smtpd = Pool(self, 8, 100)
        self.cleanup = Pool(self, 4, 100)
        self.errorp = Pool(self, 3, 100)
        self.bounce = Pool(self, 2, 100)
        self.local = Pool(self, 2, 100)

        self._build_world()

    # ------------------------------------------------------------------ small helpers
    def line(self, t: float, prog: str, pid: int, text: str) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), f"{prog}[{pid}]: {text}"))

    def bsd_at(self, t: float) -> str:
        d = datetime.fromtimestamp(int(self.epoch0 + t), self.tzinfo)
        return f"{MONTHS[d.month - 1]} {d.day:>2} {d.hour:02}:{d.minute:02}:{d.second:02}"

    def iso_utc(self, t: float) -> str:
        d = datetime.fromtimestamp(self.epoch0 + t, UTC)
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"

    def new_qid(self, t: float) -> str:
        rng = self.rng
        if self.recent_removed and rng.random() < 0.002:
            # The spool inode was freed and handed out again: a queue id comes back.
            removed_at, qid = self.recent_removed[0]
            if t - removed_at > 120 and qid not in self.active:
                self.recent_removed.popleft()
                return qid
        while True:
            if self.long_ids:
                secs = int(self.epoch0 + t)
                usec = int((t % 1.0) * 1e6)
                a = LONG_ID_ALPHABET
                s = []
                for _ in range(6):
                    s.append(a[secs % 52])
                    secs //= 52
                u = []
                for _ in range(4):
                    u.append(a[usec % 52])
                    usec //= 52
                inode = self.inode_base + rng.randrange(0x4000)
                i = []
                while inode:
                    i.append(a[inode % 51])
                    inode //= 51
                qid = "".join(reversed(s)) + "".join(reversed(u)) + "z" + "".join(reversed(i))
            else:
                usec = int((t % 1.0) * 1e6)
                qid = f"{usec:05X}{self.inode_base + rng.randrange(0x4000):X}"
            if qid not in self.active:
                return qid
            t += 0.000001

    def reply(self, dest: Dest, mx_i: int, text: str, cmd: str) -> str:
        host = f"{dest.mx[mx_i]}[{self.mx_ip(dest, mx_i)}]"
        return f"host {host} said: {text} (in reply to {cmd} command)"

    def mx_ip(self, dest: Dest, mx_i: int) -> str:
        ips = dest.ips[mx_i]
        return ips[int(self.rng.random() * len(ips))]

    # ------------------------------------------------------------------ the world
    def _build_world(self) -> None:
        rng = self.rng
        prov = {
            n: Provider(n)
            for n in (
                "google",
                "microsoft",
                "yahoo",
                "apple",
                "gmx",
                "comcast",
                "orange",
                "free",
                "proton",
                "mailru",
                "yandex",
                "internal",
                "typo",
                "mimecast",
                "proofpoint",
                "m365",
            )
        }
        self.providers = prov
        dests: list[tuple[Dest, float]] = []

        def ips_google() -> list[str]:
            out = [f"142.250.{rng.randrange(96, 160)}.{rng.choice((26, 27))}" for _ in range(6)]
            out += [f"74.125.{rng.randrange(0, 256)}.{rng.choice((26, 27))}" for _ in range(3)]
            out += [
                f"2a00:1450:40{rng.randrange(10, 30):02x}:c0{rng.randrange(0, 16):x}::1b"
                for _ in range(2)
            ]
            return out

        def add(
            name: str,
            kind: str,
            p: str,
            w: float,
            mx: list[str],
            ips: list[list[str]] | None = None,
        ) -> Dest:
            d = Dest(name, kind, prov[p])
            d.mx = mx
            d.ips = ips or [[self.public_ip()] for _ in mx]
            dests.append((d, w))
            return d

        gmx = ["gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com"]
        add("gmail.com", "gmail", "google", 27.0, gmx, [ips_google(), ips_google()])
        add("googlemail.com", "gmail", "google", 0.5, gmx, [ips_google(), ips_google()])
        for name, w in (
            ("outlook.com", 3.5),
            ("hotmail.com", 5.0),
            ("live.com", 1.0),
            ("msn.com", 0.4),
            ("hotmail.co.uk", 0.5),
            ("hotmail.fr", 0.5),
            ("outlook.de", 0.3),
        ):
            mx = [name.replace(".", "-") + ".olc.protection.outlook.com"]
            ips = [
                [f"52.101.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}" for _ in range(4)]
                + [f"40.92.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}" for _ in range(2)]
            ]
            add(name, "msconsumer", "microsoft", w, mx, ips)
        yips = [
            [f"67.195.204.{rng.randrange(72, 80)}" for _ in range(3)],
            [f"98.136.96.{rng.randrange(74, 78)}" for _ in range(3)],
            [f"67.195.228.{rng.randrange(94, 112)}" for _ in range(3)],
        ]
        yahoo_mx = ["mta5.am0.yahoodns.net", "mta6.am0.yahoodns.net", "mta7.am0.yahoodns.net"]
        add("yahoo.com", "yahoo", "yahoo", 5.0, yahoo_mx, yips)
        add("ymail.com", "yahoo", "yahoo", 0.3, yahoo_mx, yips)
        for name in ("yahoo.co.uk", "yahoo.fr", "yahoo.de"):
            add(
                name,
                "yahoo",
                "yahoo",
                0.4,
                ["mx-eu.mail.am0.yahoodns.net"],
                [[f"188.125.72.{rng.randrange(73, 75)}", f"188.125.72.{rng.randrange(73, 75)}"]],
            )
        add(
            "aol.com",
            "yahoo",
            "yahoo",
            1.0,
            ["mx-aol.mail.gm0.yahoodns.net"],
            [[f"67.195.204.{rng.randrange(72, 80)}" for _ in range(3)]],
        )
        aips = [
            [f"17.57.155.{rng.randrange(1, 40)}" for _ in range(3)],
            [f"17.42.251.{rng.randrange(1, 70)}" for _ in range(3)],
        ]
        for name, w in (("icloud.com", 3.0), ("me.com", 0.6), ("mac.com", 0.3)):
            add(name, "apple", "apple", w, ["mx01.mail.icloud.com", "mx02.mail.icloud.com"], aips)
        gips = [["212.227.17.4", "212.227.17.5"], ["212.227.15.9", "212.227.15.10"]]
        add("gmx.de", "gmx", "gmx", 0.8, ["mx00.emig.gmx.net", "mx01.emig.gmx.net"], gips)
        add("gmx.net", "gmx", "gmx", 0.4, ["mx00.emig.gmx.net", "mx01.emig.gmx.net"], gips)
        add(
            "web.de",
            "gmx",
            "gmx",
            0.8,
            ["mx-ha03.web.de", "mx-ha02.web.de"],
            [["212.227.15.41"], ["212.227.17.11"]],
        )
        add(
            "comcast.net",
            "comcast",
            "comcast",
            0.8,
            ["mx1a1.comcast.net", "mx2c1.comcast.net"],
            [["96.114.157.80"], ["96.102.18.146"]],
        )
        add(
            "orange.fr",
            "orange",
            "orange",
            0.6,
            ["smtp-in.orange.fr"],
            [["193.252.22.75", "80.12.242.10", "193.252.22.83"]],
        )
        add(
            "free.fr",
            "free",
            "free",
            0.4,
            ["mx1.free.fr", "mx2.free.fr"],
            [["212.27.48.6"], ["212.27.48.7"]],
        )
        for name in ("protonmail.com", "proton.me"):
            add(
                name,
                "proton",
                "proton",
                0.25,
                ["mail.protonmail.ch", "mailsec.protonmail.ch"],
                [["185.70.42.128"], ["185.70.42.137"]],
            )
        add(
            "mail.ru",
            "mailru",
            "mailru",
            0.3,
            ["mxs.mail.ru"],
            [["94.100.180.31", "217.69.139.150"]],
        )
        add(
            "yandex.ru",
            "yandex",
            "yandex",
            0.3,
            ["mx.yandex.ru"],
            [["77.88.21.249", "5.255.255.80"]],
        )
        internal = add(ORG, "internal", "internal", 3.0, [f"mailhub.int.{ORG}"], [["10.20.0.5"]])
        self.internal = internal
        for name in (
            "gmai.com",
            "gmial.com",
            "hotmial.com",
            "yahooo.com",
            "outlok.com",
            "gnail.com",
            "icloud.co",
        ):
            add(name, "typo", "typo", 0.03, [name])

        # The long tail: small domains on Google Workspace, Microsoft 365 or their own servers.
        tcum = list(itertools.accumulate(w for _, w in TLDS))
        seen: set[str] = set()
        small: list[Dest] = []
        while len(small) < 3000:
            name = self.domain_name(WORDS, SUFFIXES, TLDS, tcum)
            if name in seen:
                continue
            seen.add(name)
            r = rng.random()
            if r < 0.30:
                d = Dest(name, "workspace", prov["google"])
                d.mx = ["aspmx.l.google.com", "alt1.aspmx.l.google.com", "alt2.aspmx.l.google.com"]
                d.ips = [ips_google(), ips_google(), ips_google()]
            elif r < 0.64:
                d = Dest(name, "m365", prov["m365"])
                d.mx = [name.replace(".", "-") + ".mail.protection.outlook.com"]
                d.ips = [
                    [
                        f"52.101.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}",
                        f"104.47.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}",
                    ]
                ]
            elif r < 0.69:
                d = Dest(name, "mimecast", prov["mimecast"])
                d.mx = ["eu-smtp-inbound-1.mimecast.com", "eu-smtp-inbound-2.mimecast.com"]
                d.ips = [["195.130.217.221", "195.130.217.211"], ["91.220.42.211", "91.220.42.221"]]
            elif r < 0.72:
                n = rng.randrange(100000, 999999)
                d = Dest(name, "proofpoint", prov["proofpoint"])
                d.mx = [f"mx0a-00{n}.pphosted.com", f"mx0b-00{n}.pphosted.com"]
                d.ips = [[self.public_ip()], [self.public_ip()]]
            else:
                d = Dest(name, "own", Provider(name))
                style = rng.random()
                if style < 0.5:
                    d.mx = [f"mx1.{name}", f"mx2.{name}"]
                elif style < 0.8:
                    d.mx = [f"mail.{name}"]
                else:
                    d.mx = [
                        f"{name.split('.')[0]}-{rng.choice(('mx', 'smtp', 'mail'))}.hostedmail.net"
                    ]
                d.ips = [[self.public_ip()] for _ in d.mx]
                d.server = rng.choice(("postfix", "postfix", "exim", "exim", "exchange"))
                d.tls = rng.choice(("Trusted", "Trusted", "Untrusted", "Untrusted", "Verified", ""))
                self.maybe_greylist(d)
                if rng.random() < 0.02:
                    d.broken = rng.choice(("timeout", "timeout", "refused", "dns", "greeting"))
            small.append(d)
        zipf = [1.0 / rank**0.9 for rank in range(1, len(small) + 1)]
        norm = 39.0 / sum(zipf)
        for rank, (d, z) in enumerate(zip(small, zipf, strict=True)):
            if rank < 100:
                d.broken = ""  # the busy partners' servers work
            dests.append((d, z * norm))
        self.set_dests(dests, ("workspace", "m365", "own", "mimecast", "proofpoint", "internal"))

        self.staff = [f"{self.pick(FIRST)}.{self.pick(LAST)}@{ORG}" for _ in range(180)]
        self.clients = (
            [(f"app0{i}.int.{ORG}[10.20.0.{10 + i}]", f"app0{i}") for i in range(1, 7)]
            + [(f"web0{i}.int.{ORG}[10.20.1.{20 + i}]", f"web0{i}") for i in range(1, 4)]
            + [(f"crm.int.{ORG}[10.20.2.7]", "crm")]
        )
        self.mailhub_client = f"mailhub.int.{ORG}[10.20.0.5]"

    # ------------------------------------------------------------------ main loop
    def run(self, lines: int, out: TextIO) -> int:
        """Write ``lines`` log lines to ``out``; returns the number written."""
        rng = self.rng
        self.call(0.0, self.ev_arrival)
        self.call(rng.random() * 20, self.ev_bot)
        self.call(rng.random() * 600, self.ev_anvil)
        self.call(rng.random() * 600, self.ev_scache)
        self.call(3600 * (2 + rng.random() * 6), self.ev_campaign)
        self.call(rng.random() * 3600, self.ev_cron)
        for name, mean in (
            ("google", 8),
            ("microsoft", 5),
            ("m365", 10),
            ("yahoo", 4),
            ("apple", 30),
            ("comcast", 40),
            ("orange", 40),
            ("free", 60),
            ("gmx", 50),
        ):
            self.call(rng.expovariate(1.0 / (mean * 3600)), self.ev_throttle, name, mean)
        self.call(self.next_daily(0.0), self.ev_reload)

        host = " " + self.hostname + " postfix/"
        host_plain = " " + self.hostname + " "
        stamp = self.stamp_bsd if self.fmt == "bsd" else self.stamp_rfc3339

        def render(t: float, text: str) -> str:
            # "!prog" lines are not Postfix's own (opendkim): no "postfix/" before the name.
            return stamp(t) + (host_plain if text[0] == "!" else host) + text.lstrip("!")

        return self.drain(lines, out, render)

    def stamp_bsd(self, t: float) -> str:
        sec = int(t)
        if sec != self._stamp_sec:
            self._stamp_sec = sec
            d = datetime.fromtimestamp(self.epoch0 + sec, self.tzinfo)
            self._stamp_text = (
                f"{MONTHS[d.month - 1]} {d.day:>2} {d.hour:02}:{d.minute:02}:{d.second:02}"
            )
        return self._stamp_text

    def stamp_rfc3339(self, t: float) -> str:
        sec = int(t)
        if sec != self._stamp_sec:
            self._stamp_sec = sec
            d = datetime.fromtimestamp(self.epoch0 + sec, self.tzinfo)
            self._stamp_text = d.strftime("%Y-%m-%dT%H:%M:%S")
            off = d.strftime("%z")
            self._tz_suffix = off[:3] + ":" + off[3:]
        return f"{self._stamp_text}.{int((t - sec) * 1e6):06d}{self._tz_suffix}"

    # ------------------------------------------------------------------ arrivals
    def ev_arrival(self, t: float) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.52:
            self.session_app(t)
        elif r < 0.88:
            self.session_staff(t)
        else:
            self.pickup(t)
        rate = self.peak_rate * max(self.rate_factor(t), 0.03)
        self.call(t + rng.expovariate(rate), self.ev_arrival)

    def n_rcpts_staff(self) -> int:
        r = self.rng.random()
        if r < 0.30:
            return 1
        if r < 0.48:
            return 2
        if r < 0.62:
            return 3
        if r < 0.72:
            return 4
        return self.rng.randint(5, 10)

    def session_app(self, t: float) -> None:
        rng = self.rng
        client, user = self.pick(self.clients)
        k = 1 if rng.random() < 0.3 else min(2 + int(rng.expovariate(0.4)), 15)
        msgs = []
        for _ in range(k):
            sender = rng.choice(
                (
                    f"noreply@{ORG}",
                    f"orders@shop.{ORG}",
                    f"billing@{ORG}",
                    f"no-reply@accounts.{ORG}",
                    f"alerts@{ORG}",
                    f"support@{ORG}",
                )
            )
            x = rng.random()
            n = 1 if x < 0.55 else (rng.randint(2, 3) if x < 0.8 else rng.randint(4, 10))
            rcpts = [self.pick_dest() for _ in range(n)]
            size = int(rng.lognormvariate(9.0, 0.6))
            msgid = f"<{self.msgid_time(t)}.{self.hex(64)}@{ORG}>"
            msgs.append((sender, rcpts, size, msgid, "app"))
        self.smtpd_session(t, client, msgs, sasl=user if user.startswith("app") else "")

    def session_staff(self, t: float) -> None:
        rng = self.rng
        k = 1 if rng.random() < 0.5 else rng.randint(2, 5)
        msgs = []
        for _ in range(k):
            sender = self.pick(self.staff)
            n = self.n_rcpts_staff()
            # A conversation with one organisation, with copies to colleagues and others.
            main = self.pick_dest(business=rng.random() < 0.75)
            rcpts = []
            for i in range(n):
                r = rng.random()
                if i == 0 or r < 0.45:
                    rcpts.append(main)
                elif r < 0.62:
                    rcpts.append(self.internal)
                else:
                    rcpts.append(self.pick_dest(business=rng.random() < 0.5))
            size = int(rng.lognormvariate(10.3, 1.3))
            msgid = (
                f"<{self.hex(32)}-{self.hex(16)}-{self.hex(16)}-{self.hex(16)}-"
                f"{self.hex(48)}@{ORG}>"
            )
            msgs.append((sender, rcpts, size, msgid, "staff"))
        self.smtpd_session(t, self.mailhub_client, msgs, sasl="")

    def msgid_time(self, t: float) -> str:
        return datetime.fromtimestamp(self.epoch0 + t, self.tzinfo).strftime("%Y%m%d%H%M%S")

    def smtpd_session(
        self, t: float, client: str, msgs: list[tuple[str, list[Dest], int, str, str]], sasl: str
    ) -> None:
        rng = self.rng
        pid = self.smtpd.get()
        ip = client[client.index("[") + 1 : -1]
        self.anvil_hit(t, ip)
        self.line(t, "smtpd", pid, f"connect from {client}")
        t += 0.005 + rng.random() * 0.05
        tls = rng.random() < 0.5
        if tls:
            self.line(
                t, "smtpd", pid, f"Anonymous TLS connection established from {client}: {TLS_IN}"
            )
        nrcpt_total = 0
        for sender, dests, size, msgid, kind in msgs:
            t += 0.01 + rng.random() * 0.08
            qid = self.new_qid(t)
            extra = f", sasl_method=PLAIN, sasl_username={sasl}" if sasl else ""
            self.line(t, "smtpd", pid, f"{qid}: client={client}{extra}")
            msg = Msg(qid, sender, size, t, msgid, kind)
            self.active[qid] = msg
            for d in dests:
                msg.rcpts.append(Rcpt(self.address(d), d))
            nrcpt_total += len(dests)
            t += 0.02 + size / 4e6 + rng.random() * 0.05
            self.accept(t, msg)
        t += 0.002 + rng.random() * 0.02
        auth = " auth=1" if sasl else ""
        stls = " starttls=1" if tls else ""
        ehlo = 2 if tls else 1
        nm = len(msgs)
        cmds = ehlo + (1 if tls else 0) + (1 if sasl else 0) + 2 * nm + nrcpt_total + 1
        self.line(
            t,
            "smtpd",
            pid,
            f"disconnect from {client} ehlo={ehlo}{stls}{auth} mail={nm} "
            f"rcpt={nrcpt_total} data={nm} quit=1 commands={cmds}",
        )

    def accept(self, t: float, msg: Msg, cleanup_delay: float = 0.0) -> None:
        """Cleanup, optional DKIM signing, and the first queue run of a new message."""
        rng = self.rng
        t += cleanup_delay
        self.line(t, "cleanup", self.cleanup.get(), f"{msg.qid}: message-id={msg.msgid}")
        if msg.kind in ("app", "news"):  # the staff mail hub signs its own mail
            self.line(
                t + 0.001,
                "!opendkim",
                self.opendkim_pid,
                f"{msg.qid}: DKIM-Signature field added (s=mail2026, d={ORG})",
            )
        tq = t + 0.002 + rng.expovariate(1 / 0.03)
        self.qmgr_active(tq, msg)

    def qmgr_active(self, t: float, msg: Msg) -> None:
        self.line(
            t,
            "qmgr",
            self.qmgr_pid,
            f"{msg.qid}: from=<{msg.queue_sender}>, size={msg.size}, "
            f"nrcpt={len(msg.rcpts)} (queue active)",
        )
        self.call(t, self.ev_attempt, msg)

    def pickup(self, t: float) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            uid, user = 33, "www-data"
            dests = [self.pick_dest()]
        elif r < 0.85:
            uid, user = 1001, "deploy"
            dests = [self.internal]
        else:
            uid, user = 0, "root"
            dests = []
        qid = self.new_qid(t)
        self.line(t, "pickup", self.pickup_pid, f"{qid}: uid={uid} from=<{user}>")
        msg = Msg(
            qid,
            f"{user}@{self.fqdn}",
            int(rng.lognormvariate(7.5, 0.5)),
            t,
            f"<{self.msgid_time(t)}.{qid}@{self.fqdn}>",
            "pickup",
        )
        self.active[qid] = msg
        if dests:
            for d in dests:
                msg.rcpts.append(Rcpt(self.address(d), d))
        else:
            msg.rcpts.append(Rcpt(f"root@{self.fqdn}", self.internal, orig="root"))
            msg.kind = "local"
        self.accept(t, msg, cleanup_delay=0.01 + rng.random() * 0.05)

    def ev_cron(self, t: float) -> None:
        # cron mails root every few hours; these are delivered locally.
        rng = self.rng
        qid = self.new_qid(t)
        self.line(t, "pickup", self.pickup_pid, f"{qid}: uid=0 from=<root>")
        msg = Msg(
            qid,
            f"root@{self.fqdn}",
            rng.randrange(700, 4000),
            t,
            f"<{self.msgid_time(t)}.{qid}@{self.fqdn}>",
            "local",
        )
        msg.rcpts.append(Rcpt(f"root@{self.fqdn}", self.internal, orig="root"))
        self.active[qid] = msg
        self.accept(t, msg, cleanup_delay=0.02)
        self.call(t + rng.choice((900, 1800, 3600)) + rng.random() * 5, self.ev_cron)

    def ev_campaign(self, t: float) -> None:
        rng = self.rng
        hour = datetime.fromtimestamp(self.epoch0 + t, self.tzinfo).hour
        if not 8 <= hour < 19:
            self.call(t + 3600 * rng.uniform(1, 3), self.ev_campaign)
            return
        n = rng.randint(600, 3500)
        spacing = rng.uniform(0.3, 0.8)
        for name, p in (("google", 0.35), ("microsoft", 0.25), ("yahoo", 0.35)):
            if rng.random() < p:
                self.start_throttle(t + rng.uniform(60, 600), name)
        self.call(t, self.ev_campaign_batch, n, spacing, rng.randrange(10000, 99999))
        self.call(t + 3600 * rng.uniform(5, 14), self.ev_campaign)

    def ev_campaign_batch(self, t: float, left: int, spacing: float, cid: int) -> None:
        rng = self.rng
        k = min(left, 50)
        msgs = []
        for _ in range(k):
            d = self.pick_dest()
            if d.kind == "internal":
                d = self.dests[0]
            msgid = f"<{cid}.{self.hex(40)}@news.{ORG}>"
            msgs.append(
                (f"newsletter@news.{ORG}", [d], int(rng.lognormvariate(10.8, 0.2)), msgid, "news")
            )
        # One SMTP session per batch from the mailing-list server.
        pid = self.smtpd.get()
        client = f"lists.int.{ORG}[10.20.2.9]"
        self.anvil_hit(t, "10.20.2.9")
        self.line(t, "smtpd", pid, f"connect from {client}")
        tt = t + 0.01
        self.line(tt, "smtpd", pid, f"Anonymous TLS connection established from {client}: {TLS_IN}")
        for sender, dests, size, msgid, kind in msgs:
            tt += spacing * rng.uniform(0.2, 1.8)
            qid = self.new_qid(tt)
            self.line(tt, "smtpd", pid, f"{qid}: client={client}")
            msg = Msg(qid, sender, size, tt, msgid, kind)
            msg.rcpts.append(Rcpt(self.address(dests[0]), dests[0]))
            self.active[qid] = msg
            tt += 0.03 + rng.random() * 0.05
            self.accept(tt, msg)
        tt += 0.01
        self.line(
            tt,
            "smtpd",
            pid,
            f"disconnect from {client} ehlo=2 starttls=1 mail={k} rcpt={k} "
            f"data={k} quit=1 commands={2 * k + k + 4}",
        )
        if left > k:
            self.call(tt + rng.random(), self.ev_campaign_batch, left - k, spacing, cid)

    # ------------------------------------------------------------------ delivery
    def ev_attempt(self, t: float, msg: Msg) -> None:
        end = t
        for d, rcpts in mailsim.by_dest(msg.rcpts):
            e = self.deliver(t, msg, d, rcpts)
            if e > end:
                end = e
        self.call(end + 0.001 + self.rng.random() * 0.01, self.ev_after_attempt, msg)

    def status(
        self,
        t: float,
        prog: str,
        pid: int,
        msg: Msg,
        r: Rcpt,
        relay: str,
        b: float,
        c: float,
        d: float,
        dsn: str,
        status: str,
        text: str,
    ) -> None:
        total = t - msg.arrival
        a = max(total - b - c - d, 0.0)
        orig = f", orig_to=<{r.orig}>" if r.orig else ""
        self.line(
            t,
            prog,
            pid,
            f"{msg.qid}: to=<{r.addr}>{orig}, relay={relay}, "
            f"delay={fmt_delay(total)}, delays={fmt_delay(a)}/{fmt_delay(b)}/"
            f"{fmt_delay(c)}/{fmt_delay(d)}, dsn={dsn}, status={status} ({text})",
        )

    def deliver(self, t: float, msg: Msg, dest: Dest, rcpts: list[Rcpt]) -> float:
        """Log one delivery attempt of ``rcpts`` (all at ``dest``); returns the time of its end."""
        rng = self.rng
        b = rng.expovariate(1 / 0.02) if rng.random() < 0.9 else rng.uniform(0.1, 3)
        ts = t + b
        if msg.kind == "local":
            d = 0.01 + rng.random() * 0.05
            r = rcpts[0]
            self.status(
                ts + d,
                "local",
                self.local.get(),
                msg,
                r,
                "local",
                b,
                0,
                d,
                "2.0.0",
                "sent",
                "delivered to mailbox",
            )
            r.done = "sent"
            return ts + d
        kind = dest.kind
        # qmgr has marked this destination dead: the error agent defers without trying.
        if dest.dead_until > ts:
            pid = self.errorp.get()
            for r in rcpts:
                self.status(
                    ts,
                    "error",
                    pid,
                    msg,
                    r,
                    "none",
                    b,
                    0,
                    0,
                    "4.4.1",
                    "deferred",
                    f"delivery temporarily suspended: {dest.dead_reason}",
                )
            return ts
        pid = self.smtp.get()
        if kind == "typo":
            c = 0.05 + rng.random() * 0.2
            for r in rcpts:
                self.status(
                    ts + c,
                    "smtp",
                    pid,
                    msg,
                    r,
                    "none",
                    b,
                    c,
                    0,
                    "5.4.4",
                    "bounced",
                    f"Host or domain name not found. Name service error for name={dest.name} "
                    f"type=A: Host not found",
                )
                r.done = "bounced"
                msg.new_bounces += 1
            return ts + c
        # Site-level failures: an outage of a small domain or a chronically broken one.
        cause = dest.broken
        if not cause and kind == "own":
            if dest.outage_until > ts:
                cause = dest.outage_cause
            elif rng.random() < 0.004:
                dest.outage_until = ts + min(rng.lognormvariate(math.log(2400), 1.3), 6 * 86400)
                dest.outage_cause = rng.choice(("timeout", "timeout", "refused", "greeting", "dns"))
                cause = dest.outage_cause
        if cause:
            return self.site_failure(ts, b, pid, msg, dest, rcpts, cause)
        prov = dest.provider
        # Rate-limit episodes of Gmail hit consumer mailboxes, not Workspace customers.
        throttled = (
            prov.throttle_until > ts and rng.random() < prov.throttle_p and kind != "workspace"
        )
        # A rare hiccup of any receiver: the greeting is lost, the next MX takes the mail.
        mx_i = 0 if len(dest.mx) == 1 or rng.random() < 0.85 else 1
        if rng.random() < 0.004 and len(dest.mx) > 1:
            ip = self.mx_ip(dest, 0)
            c0 = 0.2 + rng.random()
            self.line(
                ts + c0,
                "smtp",
                pid,
                f"{msg.qid}: lost connection with {dest.mx[0]}[{ip}] "
                f"while receiving the initial server greeting",
            )
            ts += c0
            mx_i = 1
        relay_host = dest.mx[mx_i]
        relay_ip = self.mx_ip(dest, mx_i)
        relay = f"{relay_host}[{relay_ip}]:25"
        refused = throttled and prov.throttle_kind in GREETING_REFUSALS
        reuse = (
            ts - prov.last_conn < CONNECTION_CACHE_TIME
            and kind not in ("own", "proofpoint")
            and not refused
        )
        prov.last_conn = ts
        if reuse:
            c = 0.0
        else:
            c = 0.08 + rng.lognormvariate(-1.5, 0.6)
            if not refused:
                self.tls_line(ts + c * 0.9, pid, dest, relay)
        if throttled:
            return self.throttled(ts, b, c, pid, msg, dest, rcpts, mx_i, relay)
        if rng.random() < 0.0025:
            # Session-level temporary failure after DATA.
            tdsn, ttext, tcmd = self.transient_text(dest)
            d = 0.1 + rng.random()
            for r in rcpts:
                self.status(
                    ts + c + d,
                    "smtp",
                    pid,
                    msg,
                    r,
                    relay,
                    b,
                    c,
                    d,
                    tdsn,
                    "deferred",
                    self.reply(dest, mx_i, ttext, tcmd),
                )
            return ts + c + d
        d = 0.03 + msg.size / rng.uniform(2e6, 2e7) + rng.random() * 0.3
        t_rcpt = ts + c + d * 0.2
        t_end = ts + c + d
        sent_reply = ""
        for r in rcpts:
            if r.cause:
                if r.resolve_at > t_rcpt:
                    dsn, text, cmd = self.rcpt_defer_text(dest, r, t_rcpt)
                    self.status(
                        t_rcpt,
                        "smtp",
                        pid,
                        msg,
                        r,
                        relay,
                        b,
                        c,
                        d * 0.2,
                        dsn,
                        "deferred",
                        self.reply(dest, mx_i, text, cmd),
                    )
                    continue
                r.cause = ""
            else:
                x = rng.random()
                if msg.kind != "dsn" and x < 0.006 and kind != "internal":
                    self.status(
                        t_rcpt,
                        "smtp",
                        pid,
                        msg,
                        r,
                        relay,
                        b,
                        c,
                        d * 0.2,
                        *self.bounce_text(dest, r, mx_i),
                    )
                    r.done = "bounced"
                    msg.new_bounces += 1
                    continue
                cause = self.new_rcpt_cause(dest, x - 0.006)
                if cause:
                    r.cause = cause
                    r.resolve_at = self.resolve_time(t_rcpt, dest, cause)
                    dsn, text, cmd = self.rcpt_defer_text(dest, r, t_rcpt)
                    self.status(
                        t_rcpt,
                        "smtp",
                        pid,
                        msg,
                        r,
                        relay,
                        b,
                        c,
                        d * 0.2,
                        dsn,
                        "deferred",
                        self.reply(dest, mx_i, text, cmd),
                    )
                    continue
            if not sent_reply:
                sent_reply = self.sent_text(dest, msg, t_end)
            self.status(t_end, "smtp", pid, msg, r, relay, b, c, d, "2.0.0", "sent", sent_reply)
            r.done = "sent"
        return t_end

    def tls_line(self, t: float, pid: int, dest: Dest, relay: str) -> None:
        if dest.tls:
            name = dest.provider.name
            cipher = TLS_OUT.get(name) or (
                TLS_OUT["default"] if self.rng.random() < 0.7 else TLS_OUT["old"]
            )
            self.line(t, "smtp", pid, f"{dest.tls} TLS connection established to {relay}: {cipher}")

    def new_rcpt_cause(self, dest: Dest, x: float) -> str:
        """Per-recipient temporary failures (``x`` is uniform in [-0.006, 0.994))."""
        kind = dest.kind
        if x < 0:
            return ""
        if dest.greylist:
            return "grey" if x < 0.7 else ""
        if kind == "mimecast":
            return "grey" if x < 0.18 else ""
        if kind == "gmail":
            if x < 0.04:
                return "rate"
            if x < 0.046:
                return "quota"
            return ""
        if kind in ("yahoo", "msconsumer", "apple", "gmx", "comcast"):
            return "quota" if x < 0.006 else ("rate" if x < 0.02 else "")
        if kind == "own":
            return "quota" if x < 0.006 else ("local" if x < 0.02 else "")
        if kind in ("workspace", "m365"):
            return "quota" if x < 0.004 else ""
        return ""

    def resolve_time(self, t: float, dest: Dest, cause: str) -> float:
        rng = self.rng
        if cause == "grey":
            return t + (dest.grey_secs if dest.kind != "mimecast" else rng.uniform(60, 1200))
        if cause == "rate":
            return t + rng.lognormvariate(math.log(1500), 0.9)
        if cause == "local":
            return t + rng.lognormvariate(math.log(600), 1.0)
        # quota: most mailboxes are emptied within a day, some never are.
        return t + (rng.expovariate(1 / 36000) if rng.random() < 0.7 else 30 * 86400)

    def rcpt_defer_text(self, dest: Dest, r: Rcpt, t: float) -> tuple[str, str, str]:
        """(dsn, reply text, SMTP command) for a recipient-level deferral."""
        kind = dest.kind
        cause = r.cause
        if cause == "grey":
            left = max(int(r.resolve_at - t), 1)
            if kind == "mimecast":
                return (
                    "4.0.0",
                    f"451 Internal resource is temporarily unavailable - "
                    f"https://community.mimecast.com/docs/DOC-1369#451 [{self.hex(64)[:22]}.eu12]",
                    "RCPT TO",
                )
            s = dest.grey_style
            if s == 0:
                return ("4.2.0", mailsim.postgrey(r.addr, dest.name), "RCPT TO")
            if s == 1:
                return ("4.2.0", mailsim.greylisted_for(r.addr, left), "RCPT TO")
            if s == 2:
                return (
                    "4.7.1",
                    f"450 4.7.1 <{r.addr}>: Recipient address rejected: Greylisted for "
                    f"{max(dest.grey_secs // 60, 1)} minutes",
                    "RCPT TO",
                )
            if s == 3:
                return ("4.7.1", mailsim.greylisting_hms(left), "RCPT TO")
            return ("4.0.0", mailsim.greylisted_retry(left), "RCPT TO")
        if cause == "rate":
            if kind == "gmail":
                return (
                    "4.2.1",
                    "450-4.2.1 The user you are trying to contact is receiving mail too "
                    "quickly. Please 450-4.2.1 resend your message at a later time. If the user is "
                    "able to receive 450-4.2.1 mail at that time, your message will be delivered. "
                    "For more 450-4.2.1 information, go to 450 4.2.1  "
                    f"https://support.google.com/mail/?p=ReceivingRate {self.gsmtp_id()} - gsmtp",
                    "RCPT TO",
                )
            if kind == "apple":
                return (
                    "4.7.1",
                    f"421 4.7.1 Messages to {r.addr} deferred due to excessive volume. "
                    "Try again later - https://support.apple.com/en-us/HT204137",
                    "RCPT TO",
                )
            if kind == "yahoo":
                return ("4.0.0", mailsim.TOO_QUICKLY, "RCPT TO")
            return ("4.2.1", f"450 4.2.1 <{r.addr}>: Recipient temporarily unavailable", "RCPT TO")
        if cause == "quota":
            if kind in ("gmail", "workspace"):
                return (
                    "4.2.2",
                    "452-4.2.2 The recipient's inbox is out of storage space. Please "
                    "direct the 452-4.2.2 recipient to 452 4.2.2  "
                    f"https://support.google.com/mail/?p=OverQuotaTemp {self.gsmtp_id()} - gsmtp",
                    "RCPT TO",
                )
            if kind in ("m365", "msconsumer"):
                return ("4.2.2", mailsim.ms_mailbox_full(r.addr, self.ms_host()), "RCPT TO")
            return ("4.2.2", mailsim.mailbox_full(r.addr), "RCPT TO")
        # "local": a small server's own trouble.
        if dest.server == "exim":
            return ("4.0.0", mailsim.EXIM_TEMP_LOCAL, "RCPT TO")
        return ("4.3.0", mailsim.temp_lookup_failure(r.addr), "RCPT TO")

    def transient_text(self, dest: Dest) -> tuple[str, str, str]:
        kind = dest.kind
        if kind in ("gmail", "workspace"):
            return (
                "4.3.0",
                "421-4.3.0 Temporary System Problem.  Try again later (10). For more information, "
                "421-4.3.0 go to 421 4.3.0  https://support.google.com/a/answer/3221692 "
                f"{self.gsmtp_id()} - gsmtp",
                "end of DATA",
            )
        if kind in ("m365", "msconsumer"):
            return ("4.3.2", mailsim.ms_temp_error(self.ms_host()), "end of DATA")
        if kind == "yahoo":
            return ("4.3.2", "451 4.3.2 Internal error reading data", "MAIL FROM")
        return ("4.3.0", mailsim.QUEUE_WRITE_ERROR, "end of DATA")

    def bounce_text(self, dest: Dest, r: Rcpt, mx_i: int) -> tuple[str, str, str]:
        kind = dest.kind
        if kind in ("gmail", "workspace"):
            text = (
                "550-5.1.1 The email account that you tried to reach does not exist. Please try "
                "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
                "unnecessary spaces. For more information, go to 550 5.1.1  "
                f"https://support.google.com/mail/?p=NoSuchUser {self.gsmtp_id()} - gsmtp"
            )
            return ("5.1.1", "bounced", self.reply(dest, mx_i, text, "RCPT TO"))
        if kind == "msconsumer":
            text = mailsim.ms_unavailable(self.ms_host())
            return ("5.5.0", "bounced", self.reply(dest, mx_i, text, "RCPT TO"))
        if kind == "m365":
            text = mailsim.m365_access_denied(self.ms_host())
            return ("5.4.1", "bounced", self.reply(dest, mx_i, text, "RCPT TO"))
        if kind == "yahoo":
            text = (
                f"554 delivery error: dd This user doesn't have a {dest.name} account "
                f"({r.addr}) [0] - mta{self.rng.randrange(1000, 9999)}.mail.gq1.yahoo.com"
            )
            return ("5.0.0", "bounced", self.reply(dest, mx_i, text, "end of DATA"))
        if dest.server == "exim":
            return (
                "5.0.0",
                "bounced",
                self.reply(dest, mx_i, mailsim.EXIM_NO_SUCH_USER, "RCPT TO"),
            )
        if dest.server == "exchange":
            text = (
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
                "Recipient not found by SMTP address lookup"
            )
            return ("5.1.10", "bounced", self.reply(dest, mx_i, text, "RCPT TO"))
        text = (
            f"550 5.1.1 <{r.addr}>: Recipient address rejected: "
            "User unknown in virtual mailbox table"
        )
        return ("5.1.1", "bounced", self.reply(dest, mx_i, text, "RCPT TO"))

    def gsmtp_id(self) -> str:
        return f"{self.hex(52)}-{self.hex(48)}{self.gsmtp_tail()}"

    def ms_host(self) -> str:
        return self.ms_host_of(16, ("eurprd04", "eurprd02", "namprd03"))

    def sent_text(self, dest: Dest, msg: Msg, t: float) -> str:
        kind = dest.kind
        rng = self.rng
        if kind in ("gmail", "workspace"):
            return mailsim.gmail_sent(int(self.epoch0 + t), self.gsmtp_id())
        if kind in ("m365", "msconsumer"):
            return mailsim.ms_queued(
                msg.msgid,
                rng.randrange(10**12, 10**13),
                self.ms_host(),
                msg.size + 3000,
                rng.uniform(0.05, 0.9),
                rng.uniform(20, 900),
                " -> 250 2.1.5",
            )
        if kind == "yahoo":
            return mailsim.YAHOO_SENT
        if kind == "gmx":
            return mailsim.gmx_sent(self.hex(40))
        if kind in ("comcast", "orange"):
            return f"250 2.0.0 {self.hex(48)} mail accepted for delivery"
        if kind == "mimecast":
            return mailsim.mimecast_sent(self.hex(64), self.hex(16))
        if kind == "proofpoint":
            pp_id = f"{self.hex(32)[:8]}{rng.randrange(10000, 99999)}"
            return f"250 2.0.0 {pp_id} Message accepted for delivery"
        if kind == "internal":
            return f"250 2.0.0 Ok: queued as {self.hex(48)[:11].upper()}"
        if kind == "own" and dest.server == "exim":
            return mailsim.exim_sent(self.hex(24), self.hex(24), self.hex(8))
        if kind == "own" and dest.server == "exchange":
            return (
                f"250 2.6.0 {msg.msgid} [InternalId={rng.randrange(10**11, 10**12)}, "
                f"Hostname=EXCH01.{dest.name}] Queued mail for delivery"
            )
        return f"250 2.0.0 Ok: queued as {self.hex(48)[:10].upper()}"

    def site_failure(
        self, ts: float, b: float, pid: int, msg: Msg, dest: Dest, rcpts: list[Rcpt], cause: str
    ) -> float:
        rng = self.rng
        if cause == "dns":
            c = 0.05 + rng.random() * 0.5
            reason = (
                f"Host or domain name not found. Name service error for name={dest.name} "
                f"type=MX: Host not found, try again"
            )
            for r in rcpts:
                self.status(
                    ts + c, "smtp", pid, msg, r, "none", b, c, 0, "4.4.3", "deferred", reason
                )
            dest.dead_until = ts + c + MIN_BACKOFF
            dest.dead_reason = reason
            return ts + c
        t = ts
        n = len(dest.mx)
        reason = ""
        dsn = "4.4.1"
        relay = "none"
        for i in range(n):
            ip = self.mx_ip(dest, i)
            if cause == "timeout":
                t += 30.0
                reason = f"connect to {dest.mx[i]}[{ip}]:25: Connection timed out"
            elif cause == "refused":
                t += 0.05 + rng.random() * 0.2
                reason = f"connect to {dest.mx[i]}[{ip}]:25: Connection refused"
            else:  # greeting
                t += 0.3 + rng.random() * 2
                reason = (
                    f"lost connection with {dest.mx[i]}[{ip}] "
                    "while receiving the initial server greeting"
                )
                dsn = "4.4.2"
                relay = f"{dest.mx[i]}[{ip}]:25"
            if i < n - 1:
                if cause == "greeting":
                    self.line(t, "smtp", pid, f"{msg.qid}: {reason}")
                else:
                    self.line(t, "smtp", pid, reason)
        c = t - ts
        for r in rcpts:
            self.status(t, "smtp", pid, msg, r, relay, b, c, 0, dsn, "deferred", reason)
        dest.dead_until = t + MIN_BACKOFF * (0.5 + rng.random())
        dest.dead_reason = reason
        return t

    def throttled(
        self,
        ts: float,
        b: float,
        c: float,
        pid: int,
        msg: Msg,
        dest: Dest,
        rcpts: list[Rcpt],
        mx_i: int,
        relay: str,
    ) -> float:
        rng = self.rng
        kind = dest.provider.throttle_kind
        ip = relay[relay.index("[") + 1 : relay.index("]")]
        if kind == "gmail":
            text = (
                "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating "
                "421-4.7.28 from your IP address. To protect our users from spam, mail sent "
                "421-4.7.28 from your IP address has been temporarily rate limited. For more "
                "421-4.7.28 information, go to 421-4.7.28  "
                "https://support.google.com/mail/?p=UnsolicitedRateLimitError 421 4.7.28 To learn "
                "more about Gmail requirements for bulk senders, visit  "
                f"https://support.google.com/a/answer/81126. {self.gsmtp_id()} - gsmtp"
            )
            dsn, cmd = "4.7.28", "end of DATA"
        elif kind == "ms775":
            text = (
                f"{mailsim.MS_S775} [Name=Protocol Filter Agent][AGT=PFA][MxId={self.hex(64).upper()}] "
                f"[{self.ms_host()} {self.iso_utc(ts)} {self.hex(64).upper()}]"
            )
            dsn, cmd = "4.7.650", "MAIL FROM"
        elif kind == "ms77719":
            text = mailsim.ms_s77719(self.ms_host())
            dsn, cmd = "4.7.500", "end of DATA"
        elif kind == "yahoo":
            text = mailsim.YAHOO_TSS04
            dsn, cmd = "4.7.0", "MAIL FROM"
        elif kind == "apple":
            text = mailsim.APPLE_HCM1
            dsn, cmd = "4.7.0", "MAIL FROM"
        elif kind == "gmx":
            text = (
                "421-gmx.net (mxgmx017) Nemesis ESMTP Service not available 421-Service "
                "unavailable 421-Reject due to policy restrictions."
            )
            dsn, cmd = "4.0.0", "greeting"
        elif kind == "comcast":
            text = "421 - [Too many sessions opened]"
            dsn, cmd = "4.0.0", "greeting"
        elif kind == "orange":
            text = (
                f"550 mwinf5c{rng.randrange(10, 99)} ME Adresse IP source bloquee pour incident de "
                "spam. Client host blocked for spamming issues. OFR006_102 Ref "
                f"http://csi.cloudmark.com/reset-request/?ip={RELAY_IP} [102]"
            )
            dsn, cmd = "4.0.0", "greeting"
        else:  # free
            text = "421 Refused. Your reverse DNS entry does not resolve to an IP."
            dsn, cmd = "4.0.0", "greeting"
        if cmd == "greeting":
            reason = f"host {dest.mx[mx_i]}[{ip}] refused to talk to me: {text}"
            t = ts + c
        else:
            if cmd == "MAIL FROM" and len(dest.mx) > 1:
                # The first MX says no for the whole session; Postfix tries the next one.
                self.line(
                    ts + c,
                    "smtp",
                    pid,
                    f"{msg.qid}: host {dest.mx[mx_i]}[{ip}] said: {text} "
                    f"(in reply to {cmd} command)",
                )
                mx_i = (mx_i + 1) % len(dest.mx)
                ip = self.mx_ip(dest, mx_i)
                relay = f"{dest.mx[mx_i]}[{ip}]:25"
                c += 0.1 + rng.random() * 0.3
                self.tls_line(ts + c, pid, dest, relay)
            reason = f"host {dest.mx[mx_i]}[{ip}] said: {text} (in reply to {cmd} command)"
            t = ts + c + (0.2 + rng.random() * 0.5 if cmd == "end of DATA" else 0.05)
        for r in rcpts:
            self.status(t, "smtp", pid, msg, r, relay, b, c, t - ts - c, dsn, "deferred", reason)
        return t

    # ------------------------------------------------------------------ after an attempt
    def ev_after_attempt(self, t: float, msg: Msg) -> None:
        rng = self.rng
        if msg.new_bounces:
            msg.new_bounces = 0
            self.notify(t, msg, "non-delivery")
            t += 0.01
        if all(r.done for r in msg.rcpts):
            self.remove(t, msg)
            return
        age = t - msg.arrival
        if age >= self.lifetime:
            self.line(
                t,
                "qmgr",
                self.qmgr_pid,
                f"{msg.qid}: from=<{msg.queue_sender}>, status=expired, returned to sender",
            )
            self.notify(t + 0.01, msg, "non-delivery")
            self.remove(t + 0.02, msg)
            return
        if self.delay_warning and not msg.warned and age >= self.delay_warning:
            msg.warned = True
            self.notify(t, msg, "delay")
        backoff = min(max(age, MIN_BACKOFF), MAX_BACKOFF)
        eligible = t + backoff
        runs = math.ceil((eligible - self.queue_phase) / QUEUE_RUN_DELAY)
        nxt = self.queue_phase + runs * QUEUE_RUN_DELAY + rng.expovariate(1 / 1.5)
        self.call(nxt, self.ev_retry, msg)

    def ev_retry(self, t: float, msg: Msg) -> None:
        self.qmgr_active(t, msg)

    def remove(self, t: float, msg: Msg) -> None:
        self.line(t, "qmgr", self.qmgr_pid, f"{msg.qid}: removed")
        if self.active.get(msg.qid) is msg:
            del self.active[msg.qid]
        self.recent_removed.append((t, msg.qid))

    def notify(self, t: float, msg: Msg, what: str) -> None:
        """A bounce or delay notification to the sender: a new message of its own."""
        if msg.queue_sender == "":
            return
        rng = self.rng
        qid = self.new_qid(t)
        bmsg = Msg(
            qid,
            "",
            rng.randrange(3500, 9000)
            + (msg.size if what == "non-delivery" and msg.size < 60000 else 0),
            t,
            f"<{self.msgid_time(t)}.{qid}@{self.fqdn}>",
            "dsn",
        )
        bmsg.queue_sender = ""
        sender = msg.queue_sender
        if sender.endswith("@" + self.fqdn):
            bmsg.rcpts.append(Rcpt(sender, self.internal))
            bmsg.kind = "local"
        else:
            bmsg.rcpts.append(Rcpt(sender, self.internal))
        self.active[qid] = bmsg
        self.line(t, "cleanup", self.cleanup.get(), f"{qid}: message-id={bmsg.msgid}")
        self.line(
            t + 0.001, "bounce", self.bounce.get(), f"{msg.qid}: sender {what} notification: {qid}"
        )
        self.qmgr_active(t + 0.003 + rng.random() * 0.01, bmsg)

    # ------------------------------------------------------------------ episodes and noise
    def start_throttle(self, t: float, name: str) -> None:
        rng = self.rng
        p = self.providers[name]
        p.throttle_until = max(p.throttle_until, t + rng.lognormvariate(math.log(2400), 0.9))
        p.throttle_p = rng.uniform(0.1, 0.45)
        if name == "google":
            p.throttle_kind = "gmail"
        elif name == "microsoft":
            p.throttle_kind = "ms775"
        elif name == "m365":
            p.throttle_kind = "ms77719"
            p.throttle_p = rng.uniform(0.05, 0.25)
        else:
            p.throttle_kind = name

    def anvil_hit(self, t: float, ip: str) -> None:
        self.anvil_counts[ip] += 1
        if ip not in self.anvil_first:
            self.anvil_first[ip] = t

    def ev_anvil(self, t: float) -> None:
        if self.anvil_counts:
            ip, n = self.anvil_counts.most_common(1)[0]
            at = self.bsd_at(self.anvil_first[ip])
            if not self.anvil_pid:
                self.anvil_pid = self.new_pid()
            pid = self.anvil_pid
            rate = max(1, min(n, int(n / 10 * (1 + self.rng.random()))))
            self.line(
                t,
                "anvil",
                pid,
                f"statistics: max connection rate {rate}/60s for (smtp:{ip}) at {at}",
            )
            self.line(
                t,
                "anvil",
                pid,
                f"statistics: max connection count {max(1, rate // 3)} for (smtp:{ip}) at {at}",
            )
            self.line(
                t, "anvil", pid, f"statistics: max cache size {len(self.anvil_counts)} at {at}"
            )
            self.anvil_counts.clear()
            self.anvil_first.clear()
            if self.rng.random() < 0.15:
                self.anvil_pid = 0  # anvil went idle and exited; the next one is a new process
        self.call(t + 600.0, self.ev_anvil)

    def ev_scache(self, t: float) -> None:
        rng = self.rng
        if rng.random() < 0.3 or not self.scache_pid:
            self.scache_pid = self.new_pid()
        pid = self.scache_pid
        hits = rng.randrange(0, 400)
        miss = rng.randrange(50, 600)
        self.line(t, "scache", pid, f"statistics: start interval {self.bsd_at(t - 600)}")
        self.line(
            t,
            "scache",
            pid,
            f"statistics: domain lookup hits={hits} miss={miss} "
            f"success={100 * hits // (hits + miss)}%",
        )
        ahits = hits // 3
        self.line(
            t,
            "scache",
            pid,
            f"statistics: address lookup hits={ahits} miss={miss + hits - ahits} "
            f"success={100 * ahits // (hits + miss)}%",
        )
        self.line(
            t,
            "scache",
            pid,
            f"statistics: max simultaneous domains={rng.randrange(1, 12)} "
            f"addresses={rng.randrange(1, 14)} connection={rng.randrange(1, 16)}",
        )
        self.call(t + 600.0 + rng.random() * 60, self.ev_scache)

    def ev_reload(self, t: float) -> None:
        rng = self.rng
        self.line(t, "postfix-script", self.new_pid(), "refreshing the Postfix mail system")
        self.line(
            t + 0.01,
            "master",
            self.master_pid,
            f"reload -- version {POSTFIX_VERSION}, configuration /etc/postfix",
        )
        self.qmgr_pid = self.new_pid()
        self.pickup_pid = self.new_pid()
        self.tlsmgr_pid = self.new_pid()
        self.line(
            t + 0.5 + rng.random(),
            "tlsmgr",
            self.tlsmgr_pid,
            "warning: request to update table btree:/var/lib/postfix/smtp_scache in "
            "non-postfix directory /var/lib/postfix",
        )
        self.call(self.next_daily(t + 3600), self.ev_reload)

    def ev_bot(self, t: float) -> None:
        rng = self.rng
        ip = self.public_ip(BOT_FIRST_OCTETS)
        pid = self.smtpd.get()
        host = (
            "unknown"
            if rng.random() < 0.7
            else f"{ip.replace('.', '-')}.dynamic.isp{rng.randrange(1, 40)}.net"
        )
        client = f"{host}[{ip}]"
        self.anvil_hit(t, ip)
        r = rng.random()
        self.line(t, "smtpd", pid, f"connect from {client}")
        t += 0.1 + rng.random() * 0.5
        if r < 0.35:
            victim = self.address(self.pick_dest())
            spoof = self.address(self.pick_dest())
            helo = rng.choice(
                (f"WIN-{self.hex(40)[:10].upper()}", ip, "User", host, f"[{ip}]", "localhost")
            )
            if rng.random() < 0.5:
                text = f"554 5.7.1 <{victim}>: Relay access denied"
            else:
                text = (
                    f"554 5.7.1 Service unavailable; Client host [{ip}] blocked using "
                    f"zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}"
                )
            self.line(
                t,
                "smtpd",
                pid,
                f"NOQUEUE: reject: RCPT from {client}: {text}; from=<{spoof}> "
                f"to=<{victim}> proto=ESMTP helo=<{helo}>",
            )
            t += 0.1 + rng.random()
            if rng.random() < 0.4:
                self.line(t, "smtpd", pid, f"lost connection after RCPT from {client}")
                self.line(
                    t, "smtpd", pid, f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 commands=2/3"
                )
            else:
                self.line(
                    t,
                    "smtpd",
                    pid,
                    f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
                )
        elif r < 0.6:
            n = rng.randint(1, 3)
            for _ in range(n):
                self.line(
                    t,
                    "smtpd",
                    pid,
                    f"warning: {client}: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
                )
                t += 1.5 + rng.random() * 3
            self.line(t, "smtpd", pid, f"lost connection after AUTH from {client}")
            self.line(
                t, "smtpd", pid, f"disconnect from {client} ehlo=1 auth=0/{n} commands=1/{n + 1}"
            )
        elif r < 0.82:
            self.line(t, "smtpd", pid, f"lost connection after CONNECT from {client}")
            self.line(t, "smtpd", pid, f"disconnect from {client} commands=0/0")
        elif r < 0.92:
            self.line(t, "smtpd", pid, f"SSL_accept error from {client}: lost connection")
            self.line(t, "smtpd", pid, f"lost connection after STARTTLS from {client}")
            self.line(t, "smtpd", pid, f"disconnect from {client} ehlo=1 starttls=0/1 commands=1/2")
        else:
            helo = rng.choice(("User", "ylmf-pc", "localhost", "WIN-CLJ1B0GQ6JP"))
            self.line(
                t,
                "smtpd",
                pid,
                f"NOQUEUE: reject: RCPT from {client}: 504 5.5.2 <{helo}>: Helo "
                f"command rejected: need fully-qualified hostname; "
                f"from=<{self.address(self.pick_dest())}> "
                f"to=<{self.address(self.pick_dest())}> proto=ESMTP helo=<{helo}>",
            )
            self.line(
                t + 0.2,
                "smtpd",
                pid,
                f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
            )
        rate = self.bot_rate * (0.7 + 0.6 * self.rate_factor(t))
        self.call(t + rng.expovariate(rate), self.ev_bot)


# ---------------------------------------------------------------------- line mix of a file
_STATUS = re.compile(r", status=([a-z-]+)")
_QID = re.compile(r"\]: ([0-9A-Za-z]+): ")


def line_mix(lines: Iterable[str]) -> dict[str, Any]:
    """Measure what a Postfix log is made of: shares per program and per status, and messages.

    ``delivery_share`` counts the lines of the outbound delivery agents (``postfix/smtp`` and
    ``postfix/error``); ``deferred_message_share`` is the share of messages (``cleanup``
    ``message-id=`` lines) whose queue id has at least one ``status=deferred`` line.
    """
    programs: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    deferred_qids: set[str] = set()
    messages = 0
    total = 0
    for line in lines:
        total += 1
        parts = line.split(None, 5) if line[:1].isalpha() else line.split(None, 3)
        prog = parts[-2].split("[", 1)[0]
        programs[prog] += 1
        if "status=" in line:
            m = _STATUS.search(line)
            if m:
                st = m.group(1)
            elif "status=expired" in line:
                st = "expired"
            else:
                continue
            statuses[prog.rsplit("/", 1)[-1] + ":" + st] += 1
            if st == "deferred":
                q = _QID.search(line)
                if q:
                    deferred_qids.add(q.group(1))
        elif prog == "postfix/cleanup" and "message-id=" in line:
            messages += 1
    delivery = programs["postfix/smtp"] + programs["postfix/error"]
    return {
        "lines": total,
        "programs": {k: [v, round(v / total, 4)] for k, v in programs.most_common()},
        "statuses": {k: [v, round(v / total, 4)] for k, v in statuses.most_common()},
        "delivery_share": round(delivery / total, 4) if total else 0.0,
        "messages": messages,
        "deferred_messages": len(deferred_qids),
        "deferred_message_share": round(len(deferred_qids) / messages, 4) if messages else 0.0,
    }


def format_mix(mix: dict[str, Any]) -> str:
    out = [f"lines: {mix['lines']}", "program                  lines   share"]
    for k, (n, s) in mix["programs"].items():
        out.append(f"  {k:<22}{n:>8}  {100 * s:5.1f}%")
    out.append("status (agent:status)    lines   share")
    for k, (n, s) in mix["statuses"].items():
        out.append(f"  {k:<22}{n:>8}  {100 * s:5.1f}%")
    out.append(f"outbound delivery lines (smtp+error): {100 * mix['delivery_share']:.1f}%")
    out.append(mailsim.format_messages(mix))
    return "\n".join(out)


parse_duration = mailsim.parse_duration


def main(argv: list[str] | None = None) -> int:
    ap = mailsim.new_parser(__doc__ or "")
    ap.add_argument(
        "--format",
        choices=("bsd", "rfc3339"),
        default="bsd",
        help="bsd: 'Nov 29 12:21:46 mx1 ...'; rfc3339: rsyslog high-precision stamps",
    )
    mailsim.add_clock_args(ap)
    ap.add_argument("--hostname", default="mx1")
    ap.add_argument("--long-queue-ids", action="store_true", help="enable_long_queue_ids = yes")
    mailsim.add_load_args(ap, rate=1000.0, bots_per_hour=250.0)
    ap.add_argument("--queue-lifetime", default="2d", help="maximal_queue_lifetime (default 2d)")
    ap.add_argument(
        "--delay-warning", default="4h", help="delay_warning_time, 0 = off (default 4h)"
    )
    ap.add_argument(
        "--warmup-hours",
        type=float,
        default=0.0,
        help="simulate this long before the first written line, so that the file starts "
        "in the middle of things like a rotated log (default 0)",
    )
    mailsim.add_mix_args(ap)
    args = ap.parse_args(argv)

    if args.mix:
        mailsim.print_mix(args.mix, args.json, line_mix, format_mix)
        return 0

    gen = Generator(
        seed=args.seed,
        start=args.start,
        fmt=args.format,
        hostname=args.hostname,
        long_queue_ids=args.long_queue_ids,
        tz=args.tz,
        rate=args.rate,
        queue_lifetime=parse_duration(args.queue_lifetime),
        delay_warning=parse_duration(args.delay_warning),
        warmup_hours=args.warmup_hours,
        bots_per_hour=args.bots_per_hour,
    )
    done = mailsim.write_log(gen.run, args.out, args.lines)
    if done is None:  # stdout closed early, e.g. piped into head
        return 0
    n, secs = done
    if not args.quiet:
        print(
            f"gen_postfix: wrote {n} lines in {secs:.1f} s (seed {args.seed}, {args.format})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
