#!/usr/bin/env python3
"""Summarise a lab run's truth file per test domain, as a Markdown table.

For every listener in the truth file (plus down.test, where nothing listens)
it counts the SMTP sessions, the replies by stage and code, and what the
server finally accepted.  With --manifest it also counts the recipients the
workload injected for each domain, and the delay/failure notices
(``MAIL FROM:<>``) that arrived at sender.test.

Usage: tools/lab/truth_summary.py TRUTH.jsonl [--manifest WORKLOAD.jsonl]

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict

DOMAINS = {
    "127.0.0.2:25": "ok.test",
    "127.0.0.3:25": "greylist.test",
    "127.0.0.4:25": "greymilter.test",
    "127.0.0.5:25": "greyplain.test",
    "127.0.0.6:25": "throttle.test",
    "127.0.0.7:25": "ratelimit.test",
    "127.0.0.8:25": "split.test",
    "127.0.0.9:25": "bounce.test",
    "127.0.0.10:25": "busy.test",
    "127.0.0.11:25": "down.test",
    "127.0.0.12:25": "slow.test",
    "127.0.0.13:25": "expire.test",
    "127.0.0.14:25": "sender.test",
}
STAGES = ["connect", "mail", "rcpt", "end_of_data"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("truth")
    ap.add_argument("--manifest")
    args = ap.parse_args()

    sessions: dict[str, set[int]] = defaultdict(set)
    replies: dict[str, Counter[str]] = defaultdict(Counter)
    msgs_ok: Counter[str] = Counter()
    rcpts_ok: Counter[str] = Counter()
    distinct_ok: dict[str, set[str]] = defaultdict(set)
    notices: Counter[str] = Counter()
    with open(args.truth, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            srv = r["server"]
            sessions[srv].add(r["session"])
            if r["stage"] in STAGES:
                code = "silent" if r["code"] is None else str(r["code"])
                replies[srv][f"{r['stage']} {code}"] += 1
            if r["stage"] == "end_of_data" and r.get("accepted"):
                msgs_ok[srv] += 1
                rcpts_ok[srv] += len(r["accepted_rcpts"])
                distinct_ok[srv].update(r["accepted_rcpts"])
                if r["mail_from"] in ("", None):
                    notices[r.get("subject") or "?"] += 1

    injected: Counter[str] = Counter()
    if args.manifest:
        with open(args.manifest, encoding="utf-8") as fh:
            for line in fh:
                for rcpt in json.loads(line)["rcpts"]:
                    injected[rcpt.rsplit("@", 1)[1]] += 1

    head = ["domain", "sessions", "replies (stage code ×n)", "msgs accepted", "rcpts accepted"]
    if args.manifest:
        head.insert(1, "rcpts injected")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for srv, dom in DOMAINS.items():
        order = {s: i for i, s in enumerate(STAGES)}
        parts = sorted(replies[srv].items(), key=lambda kv: (order[kv[0].split()[0]], kv[0]))
        rep = ", ".join(f"{k} ×{n}" for k, n in parts) or "(no truth: nothing listens)"
        row = [
            f"`{dom}`",
            str(len(sessions[srv])),
            rep,
            str(msgs_ok[srv]),
            f"{rcpts_ok[srv]} ({len(distinct_ok[srv])} distinct)",
        ]
        if args.manifest:
            row.insert(1, str(injected[dom]))
        print("| " + " | ".join(row) + " |")
    if args.manifest:
        other = sorted(d for d in injected if d not in DOMAINS.values())
        for dom in other:
            print(f"| `{dom}` | {injected[dom]} | 0 | (no server) | 0 | 0 |")
    if notices:
        print()
        print("Notices (`MAIL FROM:<>`) accepted by sender.test, by subject:")
        print()
        for subj, n in sorted(notices.items()):
            print(f"- {subj}: {n}")


if __name__ == "__main__":
    main()
