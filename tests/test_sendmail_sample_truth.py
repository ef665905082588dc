"""The real Sendmail log of the lab (`sample_logs/sendmail/maillog`, Debian's Sendmail on
loopback, through rsyslog) against what the lab's SMTP server recorded (`truth.jsonl`).

Mail submitted with sendmail(1) goes through the submission program first, which hands it
to the local MTA under a second queue id: that hand-off must not count as a delivery.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.core.model import Message, Outcome, Status
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .conftest import SAMPLE_LOGS

SENDMAIL = SAMPLE_LOGS / "sendmail"
RUNS = [
    SENDMAIL / name
    for name in ("maillog", "maillog.rfc3339")
    if (SENDMAIL / name).is_file() and (SENDMAIL / "truth.jsonl").is_file()
]
pytestmark = [
    pytest.mark.skipif(not RUNS, reason="no Sendmail sample log"),
    pytest.mark.parametrize("log", RUNS, ids=[p.name for p in RUNS]),
]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _truth() -> list[dict[str, Any]]:
    lines = (SENDMAIL / "truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _messages(log: Path) -> list[Message]:
    messages, result = collect_messages(
        [str(log)], ScanOptions(zone=resolve_zone("UTC"), year=2026)
    )
    assert result.counts.unparsed == 0
    return messages


def test_deliveries_match_what_the_server_accepted(log: Path) -> None:
    accepted: dict[tuple[str, str], float] = {}
    notices: set[tuple[str, str]] = set()
    for r in _truth():
        if r.get("stage") == "end_of_data" and r.get("accepted"):
            msgid = r["message_id"].strip("<>")
            for rcpt in r["accepted_rcpts"]:
                accepted.setdefault((msgid, rcpt), _epoch(r["time"]))
                if not r.get("mail_from"):
                    notices.add((msgid, rcpt))
    assert accepted
    lab = {rcpt.split("@")[1] for _, rcpt in accepted}
    ours: Counter[tuple[str, str]] = Counter()
    when: dict[tuple[str, str], float] = {}
    without_id: list[tuple[str, float]] = []
    for msg in _messages(log):
        for r in msg.recipients.values():
            if r.domain not in lab or r.outcome is not Outcome.DELIVERED:
                continue
            if r.attempts[-1].handoff:
                continue  # passed to the local MTA, which delivers it under its own id
            assert r.final_time is not None
            if msg.message_id is None:
                # Sendmail logs no from= (so no msgid=) for the notices it makes itself
                assert msg.sender == ""
                without_id.append((r.address, r.final_time))
                continue
            key = (msg.message_id, r.address)
            ours[key] += 1
            when[key] = r.final_time
    missing = set(accepted) - set(ours)
    assert set(ours) <= set(accepted)
    assert missing <= notices
    assert max(ours.values()) == 1  # one delivery per message and recipient, hand-offs apart
    for key, t in when.items():
        assert accepted[key] - 1.0 <= t <= accepted[key] + 2.0, key
    expected = sorted((rcpt, accepted[(msgid, rcpt)]) for msgid, rcpt in missing)
    assert [a for a, _ in sorted(without_id)] == [a for a, _ in expected]
    for (_, ours_t), (_, server_t) in zip(sorted(without_id), expected, strict=True):
        assert abs(ours_t - server_t) <= 2.0


def test_rcpt_deferrals_match_the_servers_4xx_replies(log: Path) -> None:
    truth = _truth()
    texts = {r["text"] for r in truth if r.get("stage") == "rcpt"}
    server = Counter(
        (r["rcpt"], r["text"])
        for r in truth
        if r.get("stage") == "rcpt" and 400 <= (r.get("code") or 0) < 500
    )
    ours: Counter[tuple[str, str]] = Counter()
    for msg in _messages(log):
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED and not a.suspended and a.reply in texts:
                    ours[(r.address, a.reply)] += 1
    assert ours == server


def test_each_message_is_counted_once(log: Path) -> None:
    workload = [
        json.loads(line)
        for line in (SENDMAIL / "workload.jsonl").read_text().splitlines()
        if line.strip()
    ]
    injected = {w["message_id"].strip("<>") for w in workload}
    ids = Counter(
        m.message_id
        for m in _messages(log)
        if m.message_id in injected
        and not all(r.attempts and r.attempts[-1].handoff for r in m.recipients.values())
    )
    assert set(ids) <= injected
    assert max(ids.values()) == 1
