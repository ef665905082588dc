"""No log text drives a terminal (issue 10, "Injection"): control characters from the log
come out as visible escapes in every human-readable output and on stderr; JSON keeps the
exact text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.output.escape import visible
from tests.hostile import ROOT

SAMPLE = ROOT / "sample_logs" / "postfix" / "mail.log"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What must never reach a terminal (tab and newline are layout)."""

ESC = "\x1b[2J\x1b]8;;http://evil.test/\x07\x1b]0;TITLE\x07\x9b31m\x7f\x01"
QID = "DCBA416022F"
DEFER = (
    "Nov 29 13:41:13 vm postfix/smtp[13254]: DCBA416022F: to=<jo@ev\x1b[5mil.test>, "
    "relay=127.0.0.13[127.0.0.13]:25, delay=0.03, delays=0.01/0.01/0/0.01, dsn=4.2.2, "
    f"status=deferred (host 127.0.0.13[127.0.0.13] said: 450 4.2.2 {ESC} try again later "
    "(in reply to RCPT TO command))"
)
UNPARSED = f"Nov 29 13:41:14 vm postfix/smtp[13254]: {ESC} what"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inj") / "mail.log"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + DEFER + "\n" + UNPARSED + "\n")
    return path


COMMANDS = [
    ["report", "-f", "text"],
    ["report", "-f", "table"],
    ["report", "-f", "csv"],
    ["report", "-f", "html"],
    ["why"],
    ["trace", QID],
    ["trace", QID, "-f", "table"],
    ["trace", QID, "-f", "csv"],
    ["messages", "-f", "text"],
    ["messages", "-f", "table"],
    ["messages", "-f", "csv"],
    ["daily", "--since", "2026-11-29", "--until", "2026-11-30"],
    ["check", "--warn-deferred", "1", "--since", "2026-11-29", "--scope", "domain"],
    ["report", "-f", "json", "--unparsed", "-"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:3]))
def test_no_control_character_reaches_the_terminal(command: list[str], log: Path) -> None:
    args = (
        [*command[:2], str(log), *command[2:]]
        if command[0] == "trace"
        else [command[0], str(log), *command[1:]]
    )
    result = CliRunner().invoke(
        app,
        [*args, "--tz", "UTC", "--year", "2026"],
        env={"MAILLOG_DIAG_NOW": "2026-11-29T14:00:00+00:00"},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    human = result.stderr + ("" if "json" in command else result.stdout)
    assert not CONTROL.search(human), CONTROL.findall(human)[:5]
    assert "\\x1b" in human  # shown, escaped, not dropped


def test_json_keeps_the_exact_text(log: Path) -> None:
    result = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--year", "2026"])
    assert not CONTROL.search(result.stdout)
    replies = [
        a["reply"]
        for line in result.stdout.splitlines()
        for r in json.loads(line)["recipients"]
        for a in r["attempts"]
        if a["reply"]
    ]
    assert any(ESC in reply for reply in replies)


def test_file_names_in_error_messages_are_escaped(tmp_path: Path) -> None:
    name = str(tmp_path / "mail\x1b]0;TITLE\x07.log")
    result = CliRunner().invoke(app, ["report", name])
    assert result.exit_code == 3
    assert not CONTROL.search(result.stderr)
    assert visible(name) in result.stderr


FORMULA_QID = "FEED416022F"
FORMULA = (
    f"Nov 29 13:42:13 vm postfix/smtp[13255]: {FORMULA_QID}: to=<=cmd|' /C calc'!A0@=calc.test>, "
    "relay=127.0.0.13[127.0.0.13]:25, delay=0.03, delays=0.01/0.01/0/0.01, dsn=4.2.2, "
    "status=deferred (host 127.0.0.13[127.0.0.13] said: 450 4.2.2 try later"
    " (in reply to RCPT TO command))"
)


@pytest.mark.parametrize(
    "command",
    [["messages", "-f", "csv"], ["trace", FORMULA_QID, "-f", "csv"], ["report", "-f", "csv"]],
    ids=lambda c: " ".join(c),
)
def test_no_csv_cell_from_the_log_is_a_spreadsheet_formula(
    command: list[str], tmp_path: Path
) -> None:
    """A cell a spreadsheet would run (`=`, `+`, `-`, `@` first, or tab or CR) is written
    with a leading apostrophe, as OWASP advises for CSV: the text stays readable."""
    import csv
    import io

    path = tmp_path / "mail.log"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + FORMULA + "\n")
    args = [command[0], str(path), *command[1:]]
    if command[0] == "trace":
        args = [*command[:2], str(path), *command[2:]]
    result = CliRunner().invoke(app, [*args, "--tz", "UTC", "--year", "2026"])
    assert result.exit_code in (0, 1), result.stderr
    cells = [c for row in csv.reader(io.StringIO(result.stdout)) for c in row]
    assert any("calc" in c for c in cells)
    risky = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or c[:1] == "-" and c != "-"]
    assert [c for c in risky if not re.fullmatch(r"-?[0-9.]+", c)] == []
    assert any(c.startswith("'=") and "calc" in c for c in cells)  # kept, made inert
