"""Help that reads like a man page, `--since` forms that cannot be misread, and `check`
UNKNOWN texts that stand alone in the one status line (issue 11)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.window import parse_moment
from maillog_diag.input.timestamps import resolve_zone

from .conftest import FIXTURES

UTC = resolve_zone("UTC")
NOW = datetime(2026, 11, 30, 8, 15, tzinfo=UTC).timestamp()
COMMANDS = ("report", "daily", "why", "trace", "messages", "stats", "check")


@pytest.mark.parametrize("text", ["1h", "30m", "2d", "90", "5 h"])
def test_a_bare_duration_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_moment(text, UTC, NOW)
    message = str(info.value)
    assert "ambiguous" in message and "ago" in message and "-" in message


@pytest.mark.parametrize(
    ("text", "hours_before"), [("-1h", 1), ("1h ago", 1), ("1 hour ago", 1), ("-2d", 48)]
)
def test_relative_forms_count_back_from_now(text: str, hours_before: int) -> None:
    assert parse_moment(text, UTC, NOW) == NOW - hours_before * 3600


def test_a_time_of_day_still_works() -> None:
    assert parse_moment("06:00", UTC, NOW) == datetime(2026, 11, 30, 6, tzinfo=UTC).timestamp()


def _help(command: str) -> str:
    res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_python_types_and_each_default_once(command: str) -> None:
    text = _help(command)
    for bad in ("list[str]", "<int range>", "<str>", "{query}", "INTEGER", "TEXT", "PATH", "x>="):
        assert bad not in text, (command, bad)
    assert not re.search(r"<[a-z_]+(\[[a-z_]+\])?>", text), command
    # an option's help never names its default twice ("Default: x" and "[default: x]")
    for block in re.split(r"\n  (?=-)", text)[1:]:
        flat = " ".join(block.split())
        said = "Default:" in flat or "(default" in flat
        assert not (said and "[default:" in flat), (command, flat)
        assert flat.count("[default:") <= 1, (command, flat)


@pytest.mark.parametrize("command", ("report", "daily", "why", "trace", "messages"))
def test_help_lists_the_accepted_formats(command: str) -> None:
    text = _help(command)
    assert "--format" in text and "(default" in text


def test_check_usage_error_names_itself_in_the_status_line() -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "maillog_diag", "check", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 3
    assert res.stdout.startswith("MAILLOG UNKNOWN - usage error: ")
    assert "--bogus" in res.stdout and "see stderr" not in res.stdout


def test_check_unknown_texts_stand_alone() -> None:
    res = CliRunner().invoke(
        app, ["check", "/nonexistent/mail.log", "--tz", "UTC"], env={"MAILLOG_DIAG_CONFIG": ""}
    )
    assert res.exit_code == 3
    line = res.stdout.strip()
    assert "\n" not in line and line.startswith("MAILLOG UNKNOWN - ")
    assert "see stderr" not in line and "/nonexistent/mail.log" in line
    res = CliRunner().invoke(
        app, ["check", "--since", "1h", "--tz", "UTC"], env={"MAILLOG_DIAG_CONFIG": ""}
    )
    assert res.exit_code == 3
    line = res.stdout.strip()
    assert "see stderr" not in line and "1h" in line and "ambiguous" in line


def test_check_says_queued_not_held() -> None:
    res = CliRunner().invoke(
        app,
        ["check", str(FIXTURES / "postfix_small.log"), "--tz", "UTC", "--year", "2026"],
        env={"MAILLOG_DIAG_CONFIG": "", "MAILLOG_DIAG_NOW": "2026-11-29T11:00:00+00:00"},
    )
    line = res.stdout.split(" | ")[0]
    assert "1 still queued, oldest 50m00s in queue (down.example)" in line
    assert " held" not in line
