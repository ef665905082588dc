"""Peak memory with much mail in flight: N never-delivered Postfix messages with K deferred
attempts each, written to standard output (issue 10: memory must grow with the mail in
flight, not with the log's lines).

    python tools/bench/held_memory.py --messages 10000 --attempts 90 \\
        | /usr/bin/time -v maillog-diag stats - --tz UTC --year 2026 > /dev/null

("Maximum resident set size" is the figure.) The messages are interleaved the way a real
queue retries them: every message gets its first attempt, then its second, and so on.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta

REPLY = (
    "host mx.far.test[192.0.2.7] said: 450 4.7.1 <{rcpt}>: Recipient address rejected: "
    "Greylisted, see http://postgrey.schweikert.ch/help/far.test.html (in reply to RCPT TO "
    "command)"
)


def _qid(i: int) -> str:
    return f"{i:011X}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--attempts", type=int, default=90)
    args = ap.parse_args()
    out = sys.stdout
    start = datetime(2026, 11, 1)
    for i in range(args.messages):
        out.write(
            f"{start:%b %e %H:%M:%S} vm postfix/qmgr[1]: {_qid(i)}: from=<s{i}@near.test>, "
            "size=500, nrcpt=1 (queue active)\n"
        )
    t = 0
    for k in range(args.attempts):
        for i in range(args.messages):
            t += 1
            stamp = start + timedelta(seconds=t)
            rcpt = f"r{i}@far.test"
            out.write(
                f"{stamp:%b %e %H:%M:%S} vm postfix/smtp[2]: {_qid(i)}: to=<{rcpt}>, "
                f"relay=mx.far.test[192.0.2.7]:25, delay={k * 300}, delays=0/0/0/0, "
                f"dsn=4.7.1, status=deferred ({REPLY.format(rcpt=rcpt)})\n"
            )


if __name__ == "__main__":
    main()
