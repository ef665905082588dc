"""Bounced and expired recipients explained (issue 9): permanent failures have causes of their
own, each destination lists the reasons its recipients ended bounced or expired, and the
summary line counts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.causes import CAUSE_INFO, Cause
from maillog_diag.core.classify import classify
from maillog_diag.output.render import summary_line

from .conftest import ROOT, SAMPLE_LOGS


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (
            "host mx[192.0.2.9] said: 550 5.1.1 <a@b.example>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
            "no_such_user",
        ),
        ("550 5.1.1 User unknown", "no_such_user"),
        ("550-5.1.1 The email account that you tried to reach does not exist.", "no_such_user"),
        ("550 5.2.1 The email account that you tried to reach is disabled.", "mailbox_disabled"),
        ("554 5.7.1 <a@b.example>: Relay access denied", "relay_denied"),
        ("552 5.3.4 Message size exceeds fixed limit", "message_too_big"),
        ("550 5.7.1 Message rejected as spam by Content Filtering.", "policy_rejected"),
        (
            "Host or domain name not found. Name service error for name=nowhere.example type=MX: Host not found",
            "dns",
        ),
        ("550 5.1.2 Host unknown: domain does not exist", "no_such_domain"),
    ],
)
def test_permanent_failures_have_causes(reply: str, cause: str) -> None:
    assert classify(reply).cause.value == cause


def test_every_cause_is_documented() -> None:
    doc = (ROOT / "docs" / "causes.md").read_text()
    for cause in Cause:
        assert cause in CAUSE_INFO
        assert f"| `{cause.value}` |" in doc


def _report(log: Path) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(app, ["report", str(log), "--tz", "UTC", "--format", "json", "--all"])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "log",
    [
        SAMPLE_LOGS / "postfix" / "mail.log",
        SAMPLE_LOGS / "exim" / "mainlog",
        SAMPLE_LOGS / "sendmail" / "maillog",
    ],
)
def test_bounced_and_expired_recipients_are_explained(log: Path) -> None:
    data = _report(log)
    by_domain = {d["domain"]: d for d in data["destinations"]}
    bounce = by_domain["bounce.test"]
    assert bounce["bounced"] > 0
    # the lab's bounce.test answers "550 5.1.1 <rcpt>: Recipient address rejected: User unknown"
    assert [r["cause"] for r in bounce["final_reasons"]] == ["no_such_user"]
    assert sum(r["count"] for r in bounce["final_reasons"]) == bounce["bounced"]
    assert bounce["final_reasons"][0]["example_line"]
    for d in data["destinations"]:
        ended = sum(r["count"] for r in d["final_reasons"])
        assert ended == d["bounced"] + d["expired"], d["domain"]
    expire = by_domain["expire.test"]
    # expire.test answers "450 4.2.2 ... Mailbox over quota" until the queue lifetime ends
    assert {r["cause"] for r in expire["final_reasons"]} == {"mailbox"}


def test_final_reasons_in_the_text_report() -> None:
    log = SAMPLE_LOGS / "postfix" / "mail.log"
    for fmt in ("text", "table"):
        res = CliRunner().invoke(
            app, ["report", str(log), "--tz", "UTC", "--format", fmt], env={"COLUMNS": "160"}
        )
        assert "ended bounced or expired" in res.stdout, fmt
        # bounce.test's row names why, where it showed "-" for a destination with only bounces
        lines = res.stdout.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("bounce.test "))
        # the cause ends the row, or (80-column layout) is the indented line under it
        shown = lines[at].rstrip()
        if not shown.endswith("no_such_user"):
            shown = lines[at + 1].strip()
        assert shown.endswith("no_such_user"), fmt


def test_a_day_with_only_bounces_is_not_no_mail_delayed() -> None:
    report = {
        "destinations": [
            {
                "domain": "bounce.example",
                "recipients_deferred": 0,
                "held": 0,
                "bounced": 2,
                "expired": 0,
                "forced_split_only": False,
                "causes": [],
                "final_reasons": [{"reason": "x", "cause": "no_such_user", "count": 2}],
                "held_seconds": {"p50": None, "p95": None, "max": None},
            },
        ],
        "totals": {"held": 0, "bounced": 2, "expired": 0},
    }
    line = summary_line(report)
    assert line != "No mail was delayed."
    assert "2 bounced" in line
