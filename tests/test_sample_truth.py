"""The shipped sample logs against what the receiving lab server saw (its `truth.jsonl`) and
what the workload injected (`workload*.jsonl`): outcomes, delivery times and held times.

The lab (`tools/lab/`) ran a real MTA on loopback against our scripted SMTP server; the
server recorded every reply it sent, so these are independent of the MTA's own log.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import SAMPLE_LOGS

CASES = [
    ("postfix", "mail.log"),
    ("postfix", "mail.log.rfc3339"),
    ("postfix", "maillog_file.log"),
]
# Exim and Sendmail differ in what the server sees (Exim retries a 452 recipient within the
# same session; bounces go out as new messages): tests/test_exim_sample_truth.py and
# tests/test_sendmail_sample_truth.py compare those logs with their truth.


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _messages(log: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--year", "2026"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _truth_file(log: Path) -> Path:
    # maillog_file.log comes from its own run, with its own truth.maillog_file.jsonl
    stem = (
        "" if log.name in ("mail.log", "mail.log.rfc3339", "mainlog", "maillog") else "." + log.stem
    )
    return log.parent / f"truth{stem}.jsonl"


def _workload_file(log: Path) -> Path:
    stem = (
        "" if log.name in ("mail.log", "mail.log.rfc3339", "mainlog", "maillog") else "." + log.stem
    )
    return log.parent / f"workload{stem}.jsonl"


def _present(mta: str, name: str) -> bool:
    log = SAMPLE_LOGS / mta / name
    return log.is_file() and _truth_file(log).is_file()


PRESENT = [pytest.param(m, n, id=f"{m}/{n}") for m, n in CASES if _present(m, n)]


@pytest.mark.parametrize(("mta", "name"), PRESENT)
def test_delivered_recipients_match_what_the_server_accepted(mta: str, name: str) -> None:
    log = SAMPLE_LOGS / mta / name
    truth = _jsonl(_truth_file(log))
    accepted: dict[tuple[str, str], float] = {}
    for r in truth:
        if r.get("stage") == "end_of_data" and r.get("accepted"):
            for rcpt in r["accepted_rcpts"]:
                accepted.setdefault((r["message_id"].strip("<>"), rcpt), _epoch(r["time"]))
    assert accepted, "the lab accepted nothing?"
    lab_domains = {rcpt.split("@")[1] for _, rcpt in accepted}
    ours: dict[tuple[str, str], float] = {}
    for msg in _messages(log):
        for r in msg["recipients"]:
            if r["domain"] in lab_domains and r["outcome"] == "delivered":
                ours[(msg["message_id"], r["address"])] = _epoch(r["final"])
    assert set(ours) == set(accepted)
    for key, when in accepted.items():
        # syslog stamps have whole seconds; the MTA logs just after the server's 250
        assert when - 1.0 <= ours[key] <= when + 2.0, key


@pytest.mark.parametrize(("mta", "name"), PRESENT)
def test_rcpt_deferrals_match_the_servers_4xx_replies(mta: str, name: str) -> None:
    log = SAMPLE_LOGS / mta / name
    truth = _jsonl(_truth_file(log))
    server = Counter(
        r["rcpt"] for r in truth if r.get("stage") == "rcpt" and 400 <= (r.get("code") or 0) < 500
    )
    ours: Counter[str] = Counter()
    for msg in _messages(log):
        for r in msg["recipients"]:
            for a in r["attempts"]:
                reply = a["reply"] or ""
                if a["status"] == "deferred" and ("RCPT TO" in reply) and not a["suspended"]:
                    ours[r["address"]] += 1
    assert ours == server


@pytest.mark.parametrize(("mta", "name"), PRESENT)
def test_held_time_is_injection_to_acceptance(mta: str, name: str) -> None:
    log = SAMPLE_LOGS / mta / name
    workload = {w["message_id"].strip("<>"): _epoch(w["time"]) for w in _jsonl(_workload_file(log))}
    truth = _jsonl(_truth_file(log))
    accepted = {
        (r["message_id"].strip("<>"), rcpt): _epoch(r["time"])
        for r in truth
        if r.get("stage") == "end_of_data" and r.get("accepted")
        for rcpt in r["accepted_rcpts"]
    }
    checked = 0
    for msg in _messages(log):
        for r in msg["recipients"]:
            key = (msg["message_id"], r["address"])
            if key in accepted and msg["message_id"] in workload and r["held_seconds"] is not None:
                expected = accepted[key] - workload[msg["message_id"]]
                assert abs(r["held_seconds"] - expected) <= 2.5, (key, r["held_seconds"], expected)
                checked += 1
    assert checked >= 10
