"""The command line on an Exim mainlog: the same reports as for Postfix."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES

EXIM = str(FIXTURES / "exim_small.log")
COMMON = ["--tz", "UTC"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_exim_report_json_per_domain(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", EXIM, *COMMON, "--format", "json", "--all"])
    assert result.exit_code == 0, result.output  # one unparsed line on purpose (a warning)
    data = json.loads(result.stdout)
    lines = data["lines"]
    assert (lines["total"], lines["used"], lines["ignored"], lines["unparsed"]) == (28, 22, 5, 1)
    by = {d["domain"]: d for d in data["destinations"]}
    grey = by["grey.example"]
    assert (grey["recipients_deferred"], grey["delivered_after_delay"], grey["held"]) == (1, 1, 0)
    assert grey["held_seconds"]["max"] == 331.0  # 10:00:00 arrival, 10:05:31 delivery
    down = by["down.example"]
    assert (down["recipients_deferred"], down["held"], down["bounced"]) == (1, 1, 0)
    assert down["held_seconds"]["max"] == 2400.0  # to the last line of the log, 10:40:00
    # "retry time not reached" is Exim's own back-off: counted apart from the receiver's deferrals
    assert sum(c["suspended"] for c in down["causes"]) == 1
    assert sum(c["count"] for c in down["causes"]) == 2
    assert (by["bounce.example"]["bounced"], by["bounce.example"]["recipients_deferred"]) == (1, 0)
    slow = by["slow.example"]
    assert (slow["expired"], slow["recipients_deferred"], slow["held"]) == (1, 1, 0)
    assert by["ok.example"]["delivered"] == 1


def test_exim_messages_jsonl(runner: CliRunner) -> None:
    result = runner.invoke(app, ["messages", EXIM, *COMMON])
    records = {r["queue_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(records) == {
        "1vAbCd-000100-Aa",
        "1vAbCe-000101-Bb",
        "1vAbCf-000102-Cc",
        "1vAbCg-000103-Dd",
        "1vAbCh-000104-Ee",
    }
    first = records["1vAbCd-000100-Aa"]
    assert first["mta"] == "exim" and first["host"] == "localhost"
    assert first["arrived"] == "2026-11-29T10:00:00+00:00"
    assert first["message_id"] == "split-1@client.example"
    outcomes = {r["address"]: (r["outcome"], r["deferrals"]) for r in first["recipients"]}
    assert outcomes == {
        "bob@ok.example": ("delivered", 0),
        "carol@grey.example": ("delivered", 2),
        "dave@down.example": ("held", 3),
    }
    carol = next(r for r in first["recipients"] if r["address"] == "carol@grey.example")
    assert [a["suspended"] for a in carol["attempts"]] == [False, True, False]
    # The bounce of 1vAbCe is noted on it, and is a message of its own
    bounced = records["1vAbCe-000101-Bb"]
    assert bounced["notifications"][0]["queue_id"] == "1vAbCf-000102-Cc"
    assert bounced["notifications"][0]["kind"] == "sender non-delivery notification"
    local = records["1vAbCh-000104-Ee"]["recipients"][0]
    assert (local["address"], local["outcome"]) == ("alice@client.example", "delivered")


def test_exim_trace_by_address(runner: CliRunner) -> None:
    result = runner.invoke(app, ["trace", "carol@grey.example", EXIM, *COMMON])
    assert "1vAbCd-000100-Aa" in result.stdout
    assert "retry time not reached" in result.stdout
