"""The command line on Sendmail logs and on a file that mixes three MTAs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES

SENDMAIL = str(FIXTURES / "sendmail_small.log")
MIXED = str(FIXTURES / "mixed_mta.log")
COMMON = ["--tz", "UTC", "--year", "2026"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_sendmail_report_json_per_domain(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", SENDMAIL, *COMMON, "--format", "json", "--all"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    lines = data["lines"]
    assert (lines["total"], lines["used"], lines["ignored"], lines["unparsed"]) == (21, 19, 1, 1)
    by = {d["domain"]: d for d in data["destinations"]}
    grey = by["grey.example"]  # one to= line for two recipients, twice
    assert (grey["recipients"], grey["recipients_deferred"], grey["delivered_after_delay"]) == (
        2,
        2,
        2,
    )
    assert grey["held_seconds"]["max"] == 331.0  # delay=00:05:31 on the final line
    assert (by["bounce.example"]["bounced"], by["down.example"]["held"]) == (1, 2)
    # the second message to down.example was deferred from Sendmail's host status cache:
    # counted apart, with the original reason
    down = by["down.example"]
    assert sum(c["suspended"] for c in down["causes"]) == 1
    assert sum(c["count"] for c in down["causes"]) == 1
    assert down["reasons"][0]["reason"].startswith("Connection timed out with")
    assert (by["slow.example"]["expired"], by["slow.example"]["held"]) == (1, 0)
    # the submission queue's hand-off to the local MTA is not a delivery to ok.example
    assert by["ok.example"]["recipients"] == 1
    assert by["ok.example"]["delivered"] == 1


def test_sendmail_messages_are_closed_without_a_removal_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["messages", SENDMAIL, *COMMON])
    records = {r["queue_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["5ATA01bb001001"]["removed"] == "2026-11-29T10:00:02+00:00"
    bounced = records["5ATAA0dd001200"]
    assert bounced["removed"] == "2026-11-29T10:10:01+00:00"
    assert bounced["notifications"][0]["queue_id"] == "5ATAA1dd001201"
    held = records["5ATAC0ee001300"]
    assert held["removed"] is None
    assert held["recipients"][0]["outcome"] == "held"
    assert records["5ATAK0ff001400"]["recipients"][0]["outcome"] == "expired"
    handoff = records["5ATA00aa001000"]["recipients"][0]["attempts"][0]
    assert handoff["relay"] == "[127.0.0.1]"


def test_mixed_file_detects_the_mta_of_each_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["messages", MIXED, *COMMON])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_mta = {r["mta"]: r for r in records}
    assert set(by_mta) == {"postfix", "exim", "sendmail"}
    assert all(r["host"] == "relay1" for r in records)
    assert by_mta["postfix"]["recipients"][0]["outcome"] == "delivered"
    assert by_mta["exim"]["message_id"] == "ex-1@client.example"
    assert by_mta["exim"]["recipients"][0]["deferrals"] == 1
    assert by_mta["sendmail"]["recipients"][0]["outcome"] == "delivered"
    report = runner.invoke(app, ["report", MIXED, *COMMON, "--format", "json", "--all"])
    data = json.loads(report.stdout)
    assert data["lines"]["unparsed"] == 0 and data["lines"]["used"] == 11
    domains = {d["domain"] for d in data["destinations"]}
    assert domains == {"grey.example", "down.example", "ok.example"}
