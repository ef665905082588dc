"""The real Exim mainlog of the lab (`sample_logs/exim/mainlog`, Exim 4.96 from Debian on
loopback) against what the lab's SMTP server recorded (`truth.jsonl`).

Two things Exim does not log, so they are left out of the comparison on purpose:
* the Message-ID of the bounces Exim generates itself (`<= <> R=<id> ...` has no `id=`
  unless `+msg_id_created` logs `id*=`): those deliveries are matched by recipient and time;
* a `452 Too many recipients` reply to one RCPT: Exim sends that recipient again in a new
  transaction on the same connection at once, without a deferral line.
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

EXIM = SAMPLE_LOGS / "exim"
# the default mainlog format, and a run with log_selector = +all, +millisec and log_timezone
RUNS = [
    (EXIM / log, EXIM / truth)
    for log, truth in (
        ("mainlog", "truth.jsonl"),
        ("mainlog.millisec_tz", "truth.millisec_tz.jsonl"),
    )
    if (EXIM / log).is_file() and (EXIM / truth).is_file()
]
pytestmark = [
    pytest.mark.skipif(not RUNS, reason="no Exim sample log"),
    pytest.mark.parametrize(("log", "truth"), RUNS, ids=[p.name for p, _ in RUNS]),
]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _truth(truth: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in truth.read_text().splitlines() if line.strip()]


def _messages(log: Path) -> list[Message]:
    messages, result = collect_messages([str(log)], ScanOptions(zone=resolve_zone("UTC")))
    assert result.counts.unparsed == 0
    return messages


def test_every_line_is_read(log: Path, truth: Path) -> None:
    _, result = collect_messages([str(log)], ScanOptions(zone=resolve_zone("UTC")))
    c = result.counts
    assert c.unparsed == 0 and c.used > 0.5 * c.total


def test_deliveries_match_what_the_server_accepted(log: Path, truth: Path) -> None:
    accepted: dict[tuple[str, str], float] = {}
    own_bounces: set[tuple[str, str]] = set()
    for r in _truth(truth):
        if r.get("stage") == "end_of_data" and r.get("accepted"):
            msgid = r["message_id"].strip("<>")
            for rcpt in r["accepted_rcpts"]:
                accepted.setdefault((msgid, rcpt), _epoch(r["time"]))
                if not r.get("mail_from") and msgid.startswith("E"):
                    own_bounces.add((msgid, rcpt))
    lab = {rcpt.split("@")[1] for _, rcpt in accepted}
    ours: dict[tuple[str, str], float] = {}
    without_id: list[tuple[str, float]] = []
    for msg in _messages(log):
        for r in msg.recipients.values():
            if r.domain not in lab or r.outcome is not Outcome.DELIVERED:
                continue
            assert r.final_time is not None
            if msg.message_id is None:
                assert msg.sender == ""  # only Exim's own bounces may lack a Message-ID
                without_id.append((r.address, r.final_time))
            else:
                ours[(msg.message_id, r.address)] = r.final_time
    missing = set(accepted) - set(ours)
    assert set(ours) <= set(accepted)
    assert missing <= own_bounces  # bounces logged without id=: matched by recipient below
    for key, when in ours.items():
        assert accepted[key] - 1.0 <= when <= accepted[key] + 2.0, key
    expected = sorted((rcpt, accepted[(msgid, rcpt)]) for msgid, rcpt in missing)
    assert [a for a, _ in sorted(without_id)] == [a for a, _ in expected]
    for (_, ours_t), (_, server_t) in zip(sorted(without_id), expected, strict=True):
        assert abs(ours_t - server_t) <= 2.0


def test_rcpt_deferrals_match_the_servers_4xx_replies(log: Path, truth: Path) -> None:
    server = Counter(
        r["rcpt"]
        for r in _truth(truth)
        if r.get("stage") == "rcpt"
        and 400 <= (r.get("code") or 0) < 500
        and "Too many recipients" not in r.get("text", "")
    )
    ours: Counter[str] = Counter()
    for msg in _messages(log):
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED and a.stage == "rcpt" and not a.suspended:
                    ours[r.address] += 1
    assert ours == server


def test_retry_time_not_reached_is_counted_apart(log: Path, truth: Path) -> None:
    suspended = deferred = 0
    for msg in _messages(log):
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED:
                    deferred += 1
                    suspended += a.suspended
                    if a.suspended:
                        assert a.reply is not None and "retry time not reached" in a.reply
    lines = log.read_text().splitlines()
    raw = sum(" == " in line and "retry time not reached" in line for line in lines)
    assert suspended == raw > 0
    assert deferred > suspended


def test_giving_up_on_failing_hosts_is_expiry(log: Path, truth: Path) -> None:
    lines = log.read_text().splitlines()
    raw = sum(
        " ** " in line
        and ("have been failing for a long time" in line or "retry timeout exceeded" in line)
        for line in lines
    )
    expired = sum(
        r.outcome is Outcome.EXPIRED for m in _messages(log) for r in m.recipients.values()
    )
    assert expired == raw > 0
