#!/usr/bin/env python3
"""Inject the scripted maillog-diag lab workload into a local MTA.

Messages go in either through the sendmail-compatible command
(``/usr/sbin/sendmail -oi -t -f SENDER``), through SMTP to the MTA's own
loopback port 25, or through a submission-style loopback port (587).  The
schedule is fixed (same messages, same order, same relative times every
run); only the wall-clock time differs.  Each injection is written to a JSON
Lines manifest (``--manifest``) with the Message-ID, envelope sender,
recipients, method and injection time (UTC).

Test domains (see smtp_server.py for what each one does): ok.test,
greylist.test, greymilter.test, greyplain.test, throttle.test,
ratelimit.test, split.test, bounce.test, busy.test, down.test, slow.test,
expire.test.  example.com is used once on purpose: the lab MTA is
configured to fail every non-lab destination locally.

Python 3.11 standard library only; talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import json
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass

SENDERS = ["alice@sender.test", "bob@sender.test", "carol@sender.test", "dave@sender.test"]


@dataclass
class Msg:
    at: float  # fraction of the spread (0..1) at which to inject
    sender: str
    to: list[str]
    subject: str
    cc: tuple[str, ...] = ()
    method: str = "auto"  # auto | sendmail | smtp | submission


def split_rcpts(n: int, start: int = 1) -> list[str]:
    return [f"user{i:02d}@split.test" for i in range(start, start + n)]


ALL_DOMAINS = [
    "anna@ok.test",
    "ben@greylist.test",
    "cleo@greymilter.test",
    "dan@greyplain.test",
    "eve@throttle.test",
    "finn@ratelimit.test",
    "user01@split.test",
    "user02@split.test",
    "user03@split.test",
    "nobody@bounce.test",
    "gus@busy.test",
    "hal@down.test",
    "ivy@slow.test",
    "jo@expire.test",
]


def schedule() -> list[Msg]:
    a, b, c, d = SENDERS
    m: list[Msg] = [
        # expiring mail first so its queue lifetime runs out inside the lab run
        Msg(0.00, a, ["jo@expire.test"], "expire: single recipient"),
        Msg(0.01, b, ["anna@ok.test"], "ok: single recipient"),
        Msg(0.02, a, ["ben@greylist.test"], "greylist: postgrey-style 450"),
        Msg(0.03, c, ["cleo@greymilter.test"], "greylist: milter-greylist-style 451"),
        Msg(0.04, d, ["dan@greyplain.test"], "greylist: plain 451, 90 s"),
        Msg(0.05, a, split_rcpts(6), "split: six recipients"),
        Msg(
            0.06,
            b,
            ["anna@ok.test", "ben@greylist.test", "nobody@bounce.test"],
            "mixed: ok + greylist + bounce",
        ),
        Msg(0.07, c, ["hal@down.test"], "down: connection refused"),
        Msg(0.072, d, ["hank@down.test"], "down: burst, right after the first (destination dead)"),
        Msg(0.08, d, ["ivy@slow.test"], "slow: no greeting"),
        Msg(0.09, a, ["gus@busy.test"], "busy: flaky server 1"),
        Msg(0.10, b, ["kim@expire.test", "anna@ok.test"], "expire + ok: partial delivery"),
        # throttle burst: more than 3 per minute to throttle.test
        Msg(0.12, a, ["eve@throttle.test"], "throttle burst 1"),
        Msg(0.125, b, ["eve@throttle.test"], "throttle burst 2"),
        Msg(0.13, c, ["max@throttle.test"], "throttle burst 3"),
        Msg(0.135, d, ["eve@throttle.test"], "throttle burst 4"),
        Msg(0.14, a, ["max@throttle.test"], "throttle burst 5"),
        Msg(0.145, b, ["eve@throttle.test"], "throttle burst 6"),
        Msg(0.15, c, ["iris@slow.test"], "slow: just after the first greeting timeout"),
        # per-recipient rate limit: 2/min for finn@
        Msg(0.16, a, ["finn@ratelimit.test"], "ratelimit 1"),
        Msg(0.165, b, ["finn@ratelimit.test"], "ratelimit 2"),
        Msg(0.17, c, ["finn@ratelimit.test"], "ratelimit 3"),
        Msg(0.175, d, ["finn@ratelimit.test", "gia@ratelimit.test"], "ratelimit 4 (two rcpts)"),
        Msg(0.20, c, ["nobody@bounce.test"], "bounce: user unknown"),
        Msg(0.22, d, ALL_DOMAINS, "fan-out: every lab domain"),
        Msg(0.24, a, ["someone@example.com"], "non-lab destination: fails locally"),
        Msg(0.26, b, split_rcpts(5) + ["anna@ok.test"], "split: five + ok", method="smtp"),
        Msg(0.28, c, ["gus@busy.test"], "busy: flaky server 2"),
        Msg(0.30, d, ["hal@down.test"], "down: second message"),
        Msg(0.32, a, ["ivy@slow.test"], "slow: second message"),
        Msg(
            0.34,
            b,
            ["ben@greylist.test", "bea@greylist.test"],
            "greylist: two recipients",
            cc=("cleo@greymilter.test",),
        ),
        Msg(0.36, c, split_rcpts(7, 10), "split: seven recipients", method="submission"),
        Msg(0.40, d, ["gus@busy.test", "gail@busy.test"], "busy: flaky server 3"),
        Msg(0.44, a, ["anna@ok.test"], "ok: second single", method="submission"),
        Msg(0.48, b, ["eve@throttle.test"], "throttle: later 1"),
        Msg(0.50, c, ["eve@throttle.test"], "throttle: later 2"),
        Msg(0.52, d, ["lou@greymilter.test", "dan@greyplain.test"], "greylist: two styles"),
        Msg(0.56, a, ["gus@busy.test"], "busy: flaky server 4", method="smtp"),
        Msg(0.60, b, ["finn@ratelimit.test"], "ratelimit 5"),
        Msg(0.64, c, split_rcpts(8, 20) + ["nobody@bounce.test"], "split: eight + bounce"),
        Msg(0.70, d, ["anna@ok.test", "ben@greylist.test"], "ok + greylist", method="smtp"),
        Msg(0.76, a, ["gus@busy.test"], "busy: flaky server 5"),
        Msg(0.82, b, ["zed@greylist.test"], "greylist: late"),
        Msg(0.88, c, ["anna@ok.test"], "ok: late", method="submission"),
        Msg(0.94, d, split_rcpts(5, 30), "split: five, late"),
        Msg(1.00, a, ["anna@ok.test", "bob2@ok.test"], "ok: last, two recipients"),
    ]
    return m


def build_message(i: int, tag: str, msg: Msg, msgid: str) -> str:
    hdr = [
        f"From: {msg.sender}",
        f"To: {', '.join(msg.to)}",
    ]
    if msg.cc:
        hdr.append(f"Cc: {', '.join(msg.cc)}")
    hdr += [
        f"Subject: [{tag} #{i:03d}] {msg.subject}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    body = [
        f"maillog-diag lab message {i} ({tag}).",
        f"Scenario: {msg.subject}",
        "",
        "This message only ever travels over the loopback interface.",
    ]
    return "\r\n".join(hdr) + "\r\n\r\n" + "\r\n".join(body) + "\r\n"


def inject_sendmail(binary: str, msg: Msg, text: str) -> str:
    proc = subprocess.run(
        [binary, "-oi", "-t", "-f", msg.sender],
        input=text.replace("\r\n", "\n").encode(),
        capture_output=True,
        timeout=60,
    )
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}"
    return "ok"


def inject_smtp(port: int, msg: Msg, text: str, helo: str) -> str:
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=60) as s:
        refused = s.sendmail(msg.sender, list(msg.to) + list(msg.cc), text.encode())
    return "ok" if not refused else f"refused: {refused}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", default="lab", help="run label used in Message-IDs and subjects")
    ap.add_argument(
        "--spread",
        type=float,
        default=240.0,
        help="seconds between first and last injection (default 240)",
    )
    ap.add_argument("--sendmail", default="/usr/sbin/sendmail")
    ap.add_argument("--smtp-port", type=int, default=25)
    ap.add_argument(
        "--submission-port", type=int, default=587, help="0 = no submission port: use smtp instead"
    )
    ap.add_argument(
        "--methods",
        default="sendmail,smtp,submission",
        help="allowed methods; 'auto' messages use sendmail, others fall back",
    )
    ap.add_argument("--manifest", help="write one JSON line per injected message here")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    allowed = set(args.methods.split(","))
    out = open(args.manifest, "a", encoding="utf-8") if args.manifest else None
    start = time.time()
    msgs = schedule()
    for i, msg in enumerate(msgs, 1):
        due = start + msg.at * args.spread
        delay = due - time.time()
        if delay > 0 and not args.dry_run:
            time.sleep(delay)
        msgid = f"<{args.tag}.{i:03d}.{int(start)}@sender.test>"
        text = build_message(i, args.tag, msg, msgid)
        method = "sendmail" if msg.method == "auto" else msg.method
        if method == "submission" and ("submission" not in allowed or args.submission_port == 0):
            method = "smtp"
        if method not in allowed:
            method = "sendmail" if "sendmail" in allowed else "smtp"
        when = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        if args.dry_run:
            result = "dry-run"
        else:
            try:
                if method == "sendmail":
                    result = inject_sendmail(args.sendmail, msg, text)
                elif method == "smtp":
                    result = inject_smtp(args.smtp_port, msg, text, "workstation.lab.test")
                else:
                    result = inject_smtp(args.submission_port, msg, text, "laptop.lab.test")
            except (OSError, smtplib.SMTPException, subprocess.SubprocessError) as exc:
                result = f"error: {exc!r}"
        rec = {
            "time": when,
            "n": i,
            "message_id": msgid,
            "method": method,
            "mail_from": msg.sender,
            "rcpts": list(msg.to) + list(msg.cc),
            "subject": f"[{args.tag} #{i:03d}] {msg.subject}",
            "result": result,
        }
        line = json.dumps(rec)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()
    if out:
        out.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
