"""The command line: formats, accounting, trace, exit codes and error messages."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES

SMALL = str(FIXTURES / "postfix_small.log")
COMMON = ["--tz", "UTC", "--year", "2026"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def report_json(runner: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["report", *args, *COMMON, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_json_accounts_for_every_line(runner: CliRunner) -> None:
    data = report_json(runner, SMALL)
    lines = data["lines"]
    assert lines["total"] == 21
    assert lines["used"] + lines["ignored"] + lines["unparsed"] == lines["total"]
    assert lines["unparsed"] == 1
    assert lines["ignored"] == 3  # smtpd connect, smtpd disconnect, anvil
    # the log ends at its last line (an anvil line and an unparsed one at 11:00:00)
    assert data["span"] == {
        "start": "2026-11-29T10:00:00+00:00",
        "end": "2026-11-29T11:00:00+00:00",
    }


def test_report_json_destinations(runner: CliRunner) -> None:
    data = report_json(runner, SMALL)
    by = {d["domain"]: d for d in data["destinations"]}
    assert set(by) == {"split.example", "grey.example", "down.example"}
    down = by["down.example"]
    assert (down["recipients_deferred"], down["held"], down["deferrals"]) == (1, 1, 2)
    # held from arrival 10:10:00 to the last log time 11:00:00
    assert down["held_seconds"] == {"p50": 3000.0, "p95": 3000.0, "max": 3000.0}
    grey = by["grey.example"]
    assert (grey["recipients_deferred"], grey["delivered_after_delay"], grey["held"]) == (1, 1, 0)
    assert grey["held_seconds"]["max"] == 331.0
    assert grey["reasons"][0]["reason"] == (
        "host <host> said: 450 4.2.0 <address>: Recipient address rejected: Greylisted for "
        "<n> seconds (in reply to RCPT TO command)"
    )
    assert grey["reasons"][0]["example_line"].endswith("postfix_small.log:8")
    split = by["split.example"]
    assert (split["recipients"], split["recipients_deferred"], split["delivered"]) == (2, 1, 2)
    # sorted by impact: down (3000 s) before grey and split (331 s each)
    assert data["destinations"][0]["domain"] == "down.example"


def test_report_text_and_csv_agree_with_json(runner: CliRunner) -> None:
    text = runner.invoke(app, ["report", SMALL, *COMMON, "--format", "text"])
    assert text.exit_code == 0
    assert "Lines: 21 read, 17 used, 3 ignored, 1 unparsed." in text.stdout
    assert "down.example" in text.stdout
    assert "\x1b[" not in text.stdout
    out = runner.invoke(app, ["report", SMALL, *COMMON, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["domain"] for r in rows] == ["down.example", "grey.example", "split.example"]
    assert rows[0]["held_max"] == "3000.0"


def test_table_format_without_a_terminal_has_no_colour_or_box(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", SMALL, *COMMON, "--format", "table"])
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout
    assert "━" not in result.stdout and "─" not in result.stdout
    assert "Destination" in result.stdout


def test_unparsed_sample_goes_to_stderr_and_all_to_a_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "unparsed.txt"
    result = runner.invoke(app, ["report", SMALL, *COMMON, "--unparsed", str(target)])
    assert result.exit_code == 0
    assert "1 of 21 lines could not be parsed" in result.stderr
    assert "this is not a line postfix writes" in result.stderr
    written = target.read_text()
    assert "postfix_small.log:21:" in written
    assert "this is not a line postfix writes" in written


def test_messages_jsonl_contract(runner: CliRunner) -> None:
    result = runner.invoke(app, ["messages", SMALL, *COMMON])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["queue_id"] for r in records] == ["4A1B2C3D4E", "5B2C3D4E5F"]
    first = records[0]
    for key in ("mta", "host", "queue_id", "message_id", "sender", "arrived", "recipients"):
        assert key in first
    assert first["mta"] == "postfix"
    assert first["arrived"] == "2026-11-29T10:00:00+00:00"
    outcomes = {r["address"]: (r["outcome"], r["deferrals"]) for r in first["recipients"]}
    assert outcomes == {
        "bob@split.example": ("delivered", 0),
        "carol@split.example": ("delivered", 1),
        "dave@grey.example": ("delivered", 1),
    }
    carol = next(r for r in first["recipients"] if r["address"] == "carol@split.example")
    for key in (
        "address",
        "domain",
        "outcome",
        "deferrals",
        "first_deferred",
        "final",
        "held_seconds",
        "attempts",
    ):
        assert key in carol
    assert carol["first_deferred"] == "2026-11-29T10:00:01+00:00"
    assert carol["final"] == "2026-11-29T10:05:31+00:00"
    assert carol["held_seconds"] == 331.0
    attempt = carol["attempts"][0]
    for key in ("time", "status", "relay", "dsn", "reply"):
        assert key in attempt
    assert attempt["status"] == "deferred" and attempt["dsn"] == "4.5.3"
    held = records[1]["recipients"][0]
    assert held["outcome"] == "held" and held["attempts"][1]["suspended"] is True


def test_messages_csv_one_row_per_recipient(runner: CliRunner) -> None:
    result = runner.invoke(app, ["messages", SMALL, *COMMON, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4
    assert {r["outcome"] for r in rows} == {"delivered", "held"}


@pytest.mark.parametrize(
    "query",
    ["4A1B2C3D4E", "<split-1@client.example>", "split-1@client.example", "DAVE@grey.example"],
)
def test_trace_finds_by_queue_id_message_id_or_address(runner: CliRunner, query: str) -> None:
    result = runner.invoke(app, ["trace", query, SMALL, *COMMON])
    assert result.exit_code == 0, result.output
    assert "queue id 4A1B2C3D4E" in result.stdout
    assert "5B2C3D4E5F" not in result.stdout
    assert "postfix_small.log:8: Nov 29 10:00:01 mx1 postfix/smtp[104]" in result.stdout
    assert "dave@grey.example: delivered, 1 deferral(s), 5m31s in queue" in result.stdout


def test_trace_shows_session_line_without_queue_id(runner: CliRunner) -> None:
    result = runner.invoke(app, ["trace", "ops@down.example", SMALL, *COMMON])
    assert (
        "postfix_small.log:16: Nov 29 10:10:00 mx1 postfix/smtp[108]: connect to" in result.stdout
    )
    assert "(suspended: earlier failure repeated)" in result.stdout


def test_trace_no_match_says_so(runner: CliRunner) -> None:
    result = runner.invoke(app, ["trace", "nobody@nowhere.example", SMALL, *COMMON])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no message matches" in result.stderr


def test_missing_file_is_one_line_and_exit_3(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    result = runner.invoke(app, ["report", str(missing), *COMMON, "--format", "json"])
    assert result.exit_code == 3
    assert result.stderr.strip() == f"maillog-diag: {missing}: no such file"


def test_other_files_are_still_read_when_one_is_missing(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", str(tmp_path / "nope.log"), SMALL, *COMMON, "--format", "json"]
    )
    assert result.exit_code == 3
    assert json.loads(result.stdout)["lines"]["total"] == 21


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "secret.log"
    secret.write_text("x\n")
    secret.chmod(0)
    result = runner.invoke(app, ["report", str(secret), *COMMON])
    assert result.exit_code == 3
    assert "permission denied" in result.stderr


def test_directory_is_an_input_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path), *COMMON])
    assert result.exit_code == 3
    # a directory stands for the mail logs in it (issue 5); an empty one is an input error
    assert f"{tmp_path}: no mail log in this directory" in result.stderr


def test_binary_junk_is_unparsed_and_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 20)
    result = runner.invoke(app, ["report", str(junk), *COMMON, "--format", "json"])
    assert result.exit_code == 3
    assert "no line of the input could be read as an MTA log" in result.stderr
    assert "Traceback" not in result.output


def test_gzip_input_is_detected_by_content(runner: CliRunner, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "mail.log.1"  # no .gz suffix on purpose
    packed.write_bytes(gzip.compress(Path(SMALL).read_bytes()))
    data = report_json(runner, str(packed))
    assert data["lines"]["total"] == 21


def test_stdin(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["report", "-", *COMMON, "--format", "json"], input=Path(SMALL).read_text()
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["lines"]["used"] == 17


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(app, ["report", SMALL, "--format", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["bogus"]).exit_code == 2
    bad_tz = runner.invoke(app, ["report", SMALL, "--tz", "Mars/Olympus"])
    assert bad_tz.exit_code == 2
    assert "unknown time zone" in bad_tz.stderr


def test_stats_lists_ignored_reasons(runner: CliRunner) -> None:
    result = runner.invoke(app, ["stats", SMALL, *COMMON])
    data = json.loads(result.stdout)
    assert data["ignored_by_reason"] == {"postfix/smtpd inbound session": 2, "postfix/anvil": 1}


def test_trace_csv_one_row_per_attempt(runner: CliRunner) -> None:
    result = runner.invoke(app, ["trace", "carol@split.example", SMALL, *COMMON, "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["address"] for r in rows} == {
        "bob@split.example",
        "carol@split.example",
        "dave@grey.example",
    }
    rows = [r for r in rows if r["address"] == "carol@split.example"]
    assert [(r["status"], r["cause"], r["dsn"]) for r in rows] == [
        ("deferred", "forced_split", "4.5.3"),
        ("sent", "", "2.0.0"),
    ]
    assert rows[0]["line"].endswith("postfix_small.log:7")


def test_trace_and_messages_table_formats(runner: CliRunner) -> None:
    trace = runner.invoke(
        app, ["trace", "4A1B2C3D4E", SMALL, *COMMON, "--format", "table"], env={"COLUMNS": "200"}
    )
    assert trace.exit_code == 0
    assert "dave@grey.example" in trace.stdout and "greylisting" in trace.stdout
    assert "\x1b[" not in trace.stdout
    listing = runner.invoke(
        app, ["messages", SMALL, *COMMON, "--format", "table"], env={"COLUMNS": "200"}
    )
    assert listing.exit_code == 0
    assert "ops@down.example" in listing.stdout and "queued" in listing.stdout
