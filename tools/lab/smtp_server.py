#!/usr/bin/env python3
"""Scripted loopback SMTP server for the maillog-diag MTA lab.

It listens on several 127.0.0.x addresses at once.  Each address has a
*profile* that decides how the server answers (greylisting, throttling,
forced recipient splits, hard failures, flaky service, silence).  Every
reply the server sends is written to a JSON Lines "truth" file so that the
MTA logs produced by a lab run can be checked against what the receiving
side actually saw.

Python 3.11 standard library only.  Never listens on or talks to anything
outside 127.0.0.0/8.

Profiles (default address, port 25 unless --port is given):

  127.0.0.2   ok          ok.test        accept everything
  127.0.0.3   greylist    greylist.test  450 4.2.0 ... Greylisted for N seconds (60 s)
  127.0.0.4   greymilter  greymilter.test 451 4.7.1 Greylisting in action, please come back in HH:MM:SS (60 s)
  127.0.0.5   greyplain   greyplain.test 451 Greylisted, please try again in N seconds (90 s)
  127.0.0.6   throttle    throttle.test  421 4.7.0 [TSS04] at MAIL FROM once N msgs/min accepted
  127.0.0.7   ratelimit   ratelimit.test 450 4.2.1 ... receiving email too quickly at RCPT (per rcpt)
  127.0.0.8   split       split.test     452 4.5.3 Too many recipients after 2 RCPTs per transaction
  127.0.0.9   bounce      bounce.test    550 5.1.1 <rcpt>: Recipient address rejected: User unknown
  127.0.0.10  busy        busy.test      421 at greeting on every 3rd connection, 451 after DATA
                                         on the first attempt of every other message
  127.0.0.11  (nothing)   down.test      nobody listens -> connection refused
  127.0.0.12  slow        slow.test      accepts TCP, never greets
  127.0.0.13  expire      expire.test    always 450 at RCPT
  127.0.0.14  ok          sender.test    accept everything (receives DSNs / delay notices)

Truth record fields (one JSON object per line):
  time        UTC ISO 8601 with microseconds, when the reply was sent
  server      "ip:port" the client connected to
  profile     profile name of that listener
  session     per-process connection number
  client      client IP address
  stage       connect | helo | mail | rcpt | data | end_of_data | rset | noop |
              quit | other | timeout | disconnect
  command     the command line as received (not for connect/end_of_data)
  mail_from   envelope sender of the current transaction (or null)
  rcpt        recipient this reply is about (rcpt stage only)
  code        numeric reply code (null when the server stays silent)
  text        full reply text, multi-line replies joined with "\\n"
  message_id, subject, size, accepted_rcpts, queue_id  (end_of_data only)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------
# configuration

DEFAULT_LISTENERS: list[tuple[str, str, str]] = [
    # (ip, profile, domain)
    ("127.0.0.2", "ok", "ok.test"),
    ("127.0.0.3", "greylist", "greylist.test"),
    ("127.0.0.4", "greymilter", "greymilter.test"),
    ("127.0.0.5", "greyplain", "greyplain.test"),
    ("127.0.0.6", "throttle", "throttle.test"),
    ("127.0.0.7", "ratelimit", "ratelimit.test"),
    ("127.0.0.8", "split", "split.test"),
    ("127.0.0.9", "bounce", "bounce.test"),
    ("127.0.0.10", "busy", "busy.test"),
    # 127.0.0.11 down.test: deliberately nothing listens there
    ("127.0.0.12", "slow", "slow.test"),
    ("127.0.0.13", "expire", "expire.test"),
    ("127.0.0.14", "ok", "sender.test"),
]

PROFILES = {
    "ok",
    "greylist",
    "greymilter",
    "greyplain",
    "throttle",
    "ratelimit",
    "split",
    "bounce",
    "busy",
    "slow",
    "expire",
}

CRLF = b"\r\n"


def utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def bare_address(arg: str) -> str:
    """Extract the address from 'FROM:<a@b> SIZE=1' / 'TO:<a@b>'."""
    m = re.search(r"<([^>]*)>", arg)
    if m:
        return m.group(1)
    # tolerate 'MAIL FROM: a@b'
    parts = arg.split(":", 1)
    rest = parts[1] if len(parts) == 2 else parts[0]
    rest = rest.strip().split()
    return rest[0] if rest else ""


def domain_of(addr: str) -> str:
    return addr.rsplit("@", 1)[1].lower() if "@" in addr else ""


def header_value(header_block: str, name: str) -> str | None:
    """Return an unfolded header value (first occurrence) or None."""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", header_block)
    for line in unfolded.splitlines():
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


# --------------------------------------------------------------------------
# shared state


class Truth:
    def __init__(self, path: str | None) -> None:
        self.fh = open(path, "a", encoding="utf-8") if path else None

    def write(self, rec: dict[str, Any]) -> None:
        if self.fh is None:
            return
        self.fh.write(json.dumps(rec, sort_keys=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if self.fh:
            self.fh.close()


@dataclass
class Listener:
    ip: str
    port: int
    profile: str
    domain: str
    connections: int = 0
    accepted_times: deque[float] = field(default_factory=deque)


@dataclass
class Policy:
    greylist_delay: int = 60
    greymilter_delay: int = 60
    greyplain_delay: int = 90
    throttle_per_minute: int = 3
    ratelimit_per_rcpt_minute: int = 2
    split_max_rcpt: int = 2
    busy_greeting_every: int = 3  # 421 at greeting on connections 1, 1+n, 1+2n ...
    slow_hold_seconds: int = 600


class State:
    def __init__(self, policy: Policy, truth: Truth, hostname: str) -> None:
        self.policy = policy
        self.truth = truth
        self.hostname = hostname
        self.session_counter = 0
        self.queue_counter = 0
        # greylist: (profile, client, sender, rcpt) -> first seen (monotonic-free wall clock)
        self.grey_first: dict[tuple[str, str, str, str], float] = {}
        self.grey_passed: set[tuple[str, str, str, str]] = set()
        # ratelimit: rcpt -> deque of acceptance times
        self.rcpt_times: dict[str, deque[float]] = {}
        # busy: message-id -> first seen index
        self.busy_msgs: dict[str, int] = {}

    def next_queue_id(self) -> str:
        self.queue_counter += 1
        # looks like a short opaque queue id; unique per server process
        return f"LAB{int(time.time()) % 100000:05d}{self.queue_counter:04d}"


# --------------------------------------------------------------------------
# one SMTP session


class Session:
    def __init__(
        self,
        state: State,
        lst: Listener,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.state = state
        self.lst = lst
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.client = str(peer[0])
        state.session_counter += 1
        self.sid = state.session_counter
        lst.connections += 1
        self.conn_no = lst.connections
        self.helo: str | None = None
        self.banner_name = f"mx.{lst.domain}" if lst.domain else state.hostname
        self.reset()

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpts: list[str] = []
        self.rcpt_tried = 0

    # -- output ------------------------------------------------------------

    def record(self, stage: str, code: int | None, text: str, **extra: Any) -> None:
        rec: dict[str, Any] = {
            "time": utcnow_iso(),
            "server": f"{self.lst.ip}:{self.lst.port}",
            "profile": self.lst.profile,
            "session": self.sid,
            "client": self.client,
            "stage": stage,
            "mail_from": self.mail_from,
            "code": code,
            "text": text,
        }
        rec.update(extra)
        self.state.truth.write(rec)

    async def reply(self, stage: str, code: int, text: str | list[str], **extra: Any) -> None:
        lines = [text] if isinstance(text, str) else text
        out = b""
        for i, ln in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            out += f"{code}{sep}{ln}".encode() + CRLF
        self.writer.write(out)
        await self.writer.drain()
        full = "\n".join(
            f"{code}{' ' if i == len(lines) - 1 else '-'}{ln}" for i, ln in enumerate(lines)
        )
        self.record(stage, code, full, **extra)

    async def close(self) -> None:
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    # -- main loop -----------------------------------------------------------

    async def run(self) -> None:
        p = self.state.policy
        prof = self.lst.profile
        started = time.time()
        try:
            if prof == "slow":
                self.record("connect", None, "(silent: no greeting is ever sent)")
                try:
                    await asyncio.wait_for(self.reader.read(), timeout=p.slow_hold_seconds)
                except TimeoutError:
                    pass
                self.record(
                    "disconnect",
                    None,
                    "(client went away)",
                    held_seconds=round(time.time() - started, 3),
                )
                return
            if prof == "busy" and (self.conn_no - 1) % p.busy_greeting_every == 0:
                await self.reply(
                    "connect", 421, "4.3.2 Service not available, closing transmission channel"
                )
                return
            await self.reply("connect", 220, f"{self.banner_name} ESMTP maillog-diag lab")
            while True:
                try:
                    raw = await asyncio.wait_for(self.reader.readline(), timeout=300)
                except TimeoutError:
                    await self.reply("timeout", 421, "4.4.2 Error: timeout exceeded")
                    return
                if not raw:
                    self.record("disconnect", None, "(client closed connection)")
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not await self.command(line):
                    return
        except (ConnectionError, OSError) as exc:
            self.record("disconnect", None, f"(connection error: {exc})")
        finally:
            await self.close()

    async def command(self, line: str) -> bool:
        """Handle one command line. Return False to end the session."""
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb in ("EHLO", "HELO"):
            self.helo = arg.strip()
            self.reset()
            if verb == "EHLO":
                await self.reply(
                    "helo",
                    250,
                    [
                        self.banner_name,
                        "PIPELINING",
                        "SIZE 10240000",
                        "8BITMIME",
                        "ENHANCEDSTATUSCODES",
                    ],
                    command=line,
                )
            else:
                await self.reply("helo", 250, self.banner_name, command=line)
            return True
        if verb == "MAIL":
            return await self.cmd_mail(line, arg)
        if verb == "RCPT":
            return await self.cmd_rcpt(line, arg)
        if verb == "DATA":
            return await self.cmd_data(line)
        if verb == "RSET":
            self.reset()
            await self.reply("rset", 250, "2.0.0 Ok", command=line)
            return True
        if verb == "NOOP":
            await self.reply("noop", 250, "2.0.0 Ok", command=line)
            return True
        if verb == "QUIT":
            await self.reply("quit", 221, "2.0.0 Bye", command=line)
            return False
        await self.reply("other", 502, "5.5.2 Error: command not recognized", command=line)
        return True

    async def cmd_mail(self, line: str, arg: str) -> bool:
        if self.helo is None:
            await self.reply("mail", 503, "5.5.1 Error: send HELO/EHLO first", command=line)
            return True
        if self.mail_from is not None:
            await self.reply("mail", 503, "5.5.1 Error: nested MAIL command", command=line)
            return True
        sender = bare_address(arg)
        if self.lst.profile == "throttle":
            now = time.time()
            dq = self.lst.accepted_times
            while dq and now - dq[0] > 60:
                dq.popleft()
            if len(dq) >= self.state.policy.throttle_per_minute:
                self.mail_from = sender
                await self.reply(
                    "mail",
                    421,
                    f"4.7.0 [TSS04] Messages from {self.client} temporarily deferred due to "
                    "unexpected volume or user complaints",
                    command=line,
                )
                return False
        self.mail_from = sender
        self.rcpts = []
        self.rcpt_tried = 0
        await self.reply("mail", 250, "2.1.0 Ok", command=line)
        return True

    async def cmd_rcpt(self, line: str, arg: str) -> bool:
        if self.mail_from is None:
            await self.reply("rcpt", 503, "5.5.1 Error: need MAIL command", command=line)
            return True
        rcpt = bare_address(arg)
        self.rcpt_tried += 1
        code, text = self.rcpt_policy(rcpt)
        if code == 250:
            self.rcpts.append(rcpt)
        await self.reply("rcpt", code, text, command=line, rcpt=rcpt)
        return True

    def rcpt_policy(self, rcpt: str) -> tuple[int, str]:
        """Decide the RCPT reply for this recipient on this listener."""
        pol = self.state.policy
        prof = self.lst.profile
        now = time.time()
        if prof in ("greylist", "greymilter", "greyplain"):
            key = (prof, self.client, (self.mail_from or "").lower(), rcpt.lower())
            if key not in self.state.grey_passed:
                delay = {
                    "greylist": pol.greylist_delay,
                    "greymilter": pol.greymilter_delay,
                    "greyplain": pol.greyplain_delay,
                }[prof]
                first = self.state.grey_first.get(key)
                if first is None:
                    self.state.grey_first[key] = now
                    remaining = delay
                else:
                    remaining = int(round(delay - (now - first)))
                if remaining > 0:
                    if prof == "greylist":
                        return 450, (
                            f"4.2.0 <{rcpt}>: Recipient address rejected: "
                            f"Greylisted for {remaining} seconds"
                        )
                    if prof == "greymilter":
                        h, rem = divmod(remaining, 3600)
                        m, s = divmod(rem, 60)
                        return 451, (
                            f"4.7.1 Greylisting in action, please come back in "
                            f"{h:02d}:{m:02d}:{s:02d}"
                        )
                    return 451, f"Greylisted, please try again in {remaining} seconds"
                self.state.grey_passed.add(key)
            return 250, "2.1.5 Ok"
        if prof == "ratelimit":
            dq = self.state.rcpt_times.setdefault(rcpt.lower(), deque())
            while dq and now - dq[0] > 60:
                dq.popleft()
            if len(dq) >= pol.ratelimit_per_rcpt_minute:
                return 450, (
                    "4.2.1 The user you are trying to contact is receiving email too "
                    "quickly. Please resend your message at a later time."
                )
            return 250, "2.1.5 Ok"
        if prof == "split":
            if len(self.rcpts) >= pol.split_max_rcpt:
                return 452, (
                    "4.5.3 Too many recipients, please try this recipient in a separate transaction"
                )
            return 250, "2.1.5 Ok"
        if prof == "bounce":
            return 550, f"5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
        if prof == "expire":
            return 450, (
                f"4.2.2 <{rcpt}>: Recipient address rejected: Mailbox over quota, try again later"
            )
        return 250, "2.1.5 Ok"

    async def cmd_data(self, line: str) -> bool:
        if self.mail_from is None:
            await self.reply("data", 503, "5.5.1 Error: need MAIL command", command=line)
            return True
        if not self.rcpts:
            await self.reply("data", 554, "5.5.1 Error: no valid recipients", command=line)
            return True
        await self.reply("data", 354, "End data with <CR><LF>.<CR><LF>", command=line)
        chunks: list[bytes] = []
        size = 0
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), timeout=300)
            if not raw:
                self.record("disconnect", None, "(client closed connection during DATA)")
                return False
            if raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b".."):
                raw = raw[1:]
            chunks.append(raw)
            size += len(raw)
        text = b"".join(chunks).decode("utf-8", "replace")
        headers = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
        msgid = header_value(headers, "Message-ID")
        subject = header_value(headers, "Subject")
        extra = {
            "message_id": msgid,
            "subject": subject,
            "size": size,
            "accepted_rcpts": list(self.rcpts),
        }
        if self.lst.profile == "busy":
            key = msgid or f"(no id {self.sid})"
            if key not in self.state.busy_msgs:
                self.state.busy_msgs[key] = len(self.state.busy_msgs)
                if self.state.busy_msgs[key] % 2 == 0:
                    await self.reply(
                        "end_of_data",
                        451,
                        "4.3.0 Temporary System Problem. Try again later.",
                        accepted=False,
                        **extra,
                    )
                    self.reset()
                    return True
        qid = self.state.next_queue_id()
        await self.reply(
            "end_of_data", 250, f"2.0.0 Ok: queued as {qid}", accepted=True, queue_id=qid, **extra
        )
        now = time.time()
        self.lst.accepted_times.append(now)
        for r in self.rcpts:
            self.state.rcpt_times.setdefault(r.lower(), deque()).append(now)
        self.reset()
        return True


# --------------------------------------------------------------------------


def parse_listen(spec: str, port: int) -> tuple[str, int, str, str]:
    """'127.0.0.2[:25]=ok[/ok.test]'"""
    addr, _, rest = spec.partition("=")
    prof, _, dom = rest.partition("/")
    ip, _, p = addr.partition(":")
    if not ip.startswith("127."):
        raise SystemExit(f"refusing non-loopback address {ip}")
    if prof not in PROFILES:
        raise SystemExit(f"unknown profile {prof}")
    return ip, int(p or port), prof, dom or f"{prof}.test"


async def main_async(args: argparse.Namespace) -> None:
    policy = Policy(
        greylist_delay=args.greylist_delay,
        greymilter_delay=args.greymilter_delay,
        greyplain_delay=args.greyplain_delay,
        throttle_per_minute=args.throttle_per_minute,
        ratelimit_per_rcpt_minute=args.ratelimit_per_minute,
        split_max_rcpt=args.split_max_rcpt,
    )
    truth = Truth(args.truth)
    state = State(policy, truth, args.hostname)
    specs = (
        [parse_listen(s, args.port) for s in args.listen]
        if args.listen
        else [(ip, args.port, prof, dom) for ip, prof, dom in DEFAULT_LISTENERS]
    )
    servers = []
    for ip, port, prof, dom in specs:
        lst = Listener(ip, port, prof, dom)

        async def handler(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, lst: Listener = lst
        ) -> None:
            await Session(state, lst, r, w).run()

        srv = await asyncio.start_server(handler, ip, port, limit=1 << 20, reuse_address=True)
        servers.append(srv)
        print(f"listening {ip}:{port} profile={prof} domain={dom}", file=sys.stderr, flush=True)
    if args.pidfile:
        with open(args.pidfile, "w") as fh:
            fh.write(f"{__import__('os').getpid()}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
    truth.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", help="append ground truth JSON Lines here")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument(
        "--listen",
        action="append",
        help="IP[:PORT]=PROFILE[/DOMAIN]; repeatable; default: built-in table",
    )
    ap.add_argument("--hostname", default="mx.lab.test")
    ap.add_argument("--pidfile")
    ap.add_argument("--greylist-delay", type=int, default=60)
    ap.add_argument("--greymilter-delay", type=int, default=60)
    ap.add_argument("--greyplain-delay", type=int, default=90)
    ap.add_argument("--throttle-per-minute", type=int, default=3)
    ap.add_argument("--ratelimit-per-minute", type=int, default=2)
    ap.add_argument("--split-max-rcpt", type=int, default=2)
    args = ap.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
