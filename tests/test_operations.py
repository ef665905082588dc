"""Running it for real: the daily cron report (plain, no control characters; HTML), the
monitoring check (each exit status), and the config file (command line wins)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.output.render import plain

from .conftest import FIXTURES, SAMPLE_LOGS

SMALL = str(FIXTURES / "postfix_small.log")
ENV = {"MAILLOG_DIAG_NOW": "2026-11-30T08:15:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
COMMON = ["--tz", "UTC", "--year", "2026"]
AT_LOG_END = {**ENV, "MAILLOG_DIAG_NOW": "2026-11-29T11:00:00+00:00"}
"""Now, for `check`: the moment SMALL's last line was written."""
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env or ENV)
    return res.exit_code, res.stdout, res.stderr


def test_daily_is_plain_and_starts_with_the_summary(tmp_path: Path) -> None:
    # a reply with an escape sequence and a tab: the report must not pass them on
    log = tmp_path / "mail.log"
    text = (FIXTURES / "postfix_small.log").read_text()
    log.write_text(text.replace("Greylisted for", "\x1b[31mGreylisted\tfor"))
    code, out, _ = _run("daily", str(log), *COMMON)
    assert code == 0
    assert not CONTROL.search(out)
    lines = out.splitlines()
    summary, rest = out.split("\n\n", 1)
    assert " ".join(summary.split()) == (
        "3 recipients delayed; 1 still queued; 0 bounced; 0 expired; "
        "worst: down.example 50m00s in queue, connection"
    )
    assert rest.splitlines()[0] == "Window: 2026-11-29T00:00:00+00:00 to 2026-11-30T00:00:00+00:00"
    # ordered for action: still-queued mail before the table, then the causes
    queued = next(i for i, line in enumerate(lines) if line.startswith("Still queued at the end"))
    table = lines.index(next(line for line in lines if line.startswith("Destination")))
    causes = lines.index("Causes by destination:")
    per_hour = next(i for i, line in enumerate(lines) if line.startswith("Per hour from"))
    assert queued < table < causes < per_hour
    assert plain("a\x1b[31mb\tc\rd\x9be\n") == "a\\x1b[31mb c\\x0dd\\x9be\n"  # visible escapes
    # stable: the same bytes whatever the terminal width
    _, narrow, _ = _run("daily", str(log), *COMMON, env={**ENV, "COLUMNS": "40"})
    assert narrow == out


def test_daily_quiet_if_clean() -> None:
    # days later: the log does not cover yesterday, which is not "clean" (issue 9): cron
    # must get a word about it (a clean, covered day is in tests/test_stale_input.py)
    code, out, _ = _run(
        "daily",
        SMALL,
        *COMMON,
        "--quiet-if-clean",
        env={**ENV, "MAILLOG_DIAG_NOW": "2026-12-05T08:00:00+00:00"},
    )
    assert code == 0 and "Warning: the logs end at" in out
    code, out, _ = _run("daily", SMALL, *COMMON, "--quiet-if-clean")
    assert code == 0 and out.startswith("3 recipients delayed")


def test_html_is_self_contained_with_an_svg_chart() -> None:
    code, out, _ = _run(
        "report", str(SAMPLE_LOGS / "postfix" / "mail.log"), *COMMON, "--format", "html"
    )
    assert code == 0
    assert out.startswith("<!DOCTYPE html>") and "<style>" in out
    assert not re.search(r"(src|href)=|<script|<link|url\(", out)
    # a log of a few minutes is too short to chart (tests/test_html_report.py charts one)
    assert "<svg" not in out and "No chart" in out
    code, daily_html, _ = _run("daily", SMALL, *COMMON, "--format", "html")
    assert code == 0 and "down.example" in daily_html


def test_terminal_table_shows_the_per_hour_picture() -> None:
    code, out, _ = _run(
        "report", SMALL, *COMMON, "--format", "table", env={**ENV, "COLUMNS": "160"}
    )
    assert code == 0
    assert "Per hour from 2026-11-29T10:00:00+00:00" in out
    assert "down.example" in out and "queue |" in out


@pytest.mark.parametrize(
    ("options", "code", "status"),
    [
        ([], 0, "MAILLOG OK - "),
        (["--warn-held-age", "10m", "--crit-held-age", "1h"], 1, "MAILLOG WARNING - "),
        (["--warn-held-age", "10m", "--crit-held-age", "30m"], 2, "MAILLOG CRITICAL - "),
        # each domain made one deferred attempt; down.example's second deferral is Postfix
        # repeating the refusal without trying (`delivery temporarily suspended`): no attempt
        (["--warn-deferred", "1"], 1, "MAILLOG WARNING - "),
        (["--warn-deferred", "2"], 0, "MAILLOG OK - "),
        (["--warn-deferred", "2", "--scope", "total"], 1, "MAILLOG WARNING - "),
        (["--warn-deferred", "3", "--scope", "total"], 0, "MAILLOG OK - "),
        # 4 deferrals in all: one a repeat, one a forced split (neither counted): 2
        (["--crit-deferred", "2", "--scope", "total"], 2, "MAILLOG CRITICAL - "),
        (["--warn-held-age", "soon"], 3, "MAILLOG UNKNOWN - not a duration: 'soon'"),
    ],
)
def test_check_exit_codes(options: list[str], code: int, status: str) -> None:
    # run as the log ends (a check on a log that stopped long ago is in test_stale_input.py)
    got, out, _ = _run("check", SMALL, *COMMON, "--since", "yesterday", *options, env=AT_LOG_END)
    assert got == code
    assert out.startswith(status) and out.count("\n") == 1
    if code != 3:
        text, perf = out.rstrip("\n").split(" | ")
        for datum in perf.split():
            assert re.fullmatch(r"[a-z_]+=[0-9.]+s?;[0-9.]*;[0-9.]*;0", datum), datum
        assert "held=1;" in perf and "oldest_held=3000s;" in perf


def test_check_unreadable_input_is_unknown(tmp_path: Path) -> None:
    code, out, _ = _run("check", str(tmp_path / "missing.log"))
    assert code == 3 and out.startswith("MAILLOG UNKNOWN - ")
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 10)
    code, out, _ = _run("check", str(junk))
    assert code == 3 and "no line of the input" in out


def test_check_usage_error_is_unknown_not_critical() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maillog_diag", "check", "--no-such-option"],
        capture_output=True,
        text=True,
        env={"MAILLOG_DIAG_CONFIG": "", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 3
    assert proc.stdout.startswith("MAILLOG UNKNOWN - ")


def test_config_file_settings_and_command_line_wins(tmp_path: Path) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text(
        f'tz = "UTC"\ninputs = ["{SMALL}"]\nexclude_domains = ["grey.example"]\n'
        '[check]\nwarn_held_age = "10m"\ncrit_held_age = "4h"\n'
    )
    env = {**ENV, "MAILLOG_DIAG_CONFIG": str(conf)}
    code, out, _ = _run("report", "--year", "2026", "--format", "json", env=env)
    assert code == 0
    data = json.loads(out)
    assert {d["domain"] for d in data["destinations"]} == {"down.example", "split.example"}
    assert data["window"]["excluded_domains"] == ["grey.example"]
    assert data["span"]["start"] == "2026-11-29T10:00:00+00:00"  # tz from the file
    # command line wins: another zone, and thresholds
    code, out, _ = _run(
        "report", "--year", "2026", "--format", "json", "--tz", "Europe/Berlin", env=env
    )
    assert json.loads(out)["span"]["start"] == "2026-11-29T10:00:00+01:00"
    at_end = {**env, "MAILLOG_DIAG_NOW": AT_LOG_END["MAILLOG_DIAG_NOW"]}
    code, out, _ = _run("check", "--year", "2026", "--since", "yesterday", env=at_end)
    assert code == 1 and out.startswith("MAILLOG WARNING")
    code, out, _ = _run(
        "check", "--year", "2026", "--since", "yesterday", "--warn-held-age", "2h", env=at_end
    )
    assert code == 0
    # --config names the file explicitly
    code, out, _ = _run("report", "--config", str(conf), "--year", "2026", "--format", "json")
    assert code == 0 and json.loads(out)["window"]["excluded_domains"] == ["grey.example"]


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text("colour = 'blue'\n")
    code, _, err = _run("report", SMALL, "--config", str(conf))
    assert (
        code == 2
        and err
        == f"maillog-diag: {conf}: unknown key 'colour' (known: tz, inputs, rotated, journal, exclude_domains, check)\n"
    )
    conf.write_text("tz = \n")
    code, _, err = _run("report", SMALL, "--config", str(conf))
    assert code == 2 and err.count("\n") == 1 and "not valid TOML" in err


def test_check_leaves_forced_splits_out_of_deferrals() -> None:
    """split.test's 36 deferrals in the lab log are all forced splits: not a failure;
    down.test's 29 deferrals are 10 refused connections and 19 repeats without trying;
    the worst is expire.test (22 RCPT deferrals)."""
    from typer.testing import CliRunner

    from maillog_diag.cli.app import app

    from .conftest import SAMPLE_LOGS

    args = [
        "check",
        str(SAMPLE_LOGS / "postfix" / "mail.log"),
        "--tz",
        "UTC",
        "--since",
        "2026-11-29T13:00:00+00:00",
    ]
    at_end = {"MAILLOG_DIAG_NOW": "2026-11-29T13:49:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
    ok = CliRunner().invoke(app, [*args, "--warn-deferred", "23"], env=at_end)
    assert ok.exit_code == 0, ok.output
    assert "22 deferral(s) at expire.test" in ok.stdout
    warn = CliRunner().invoke(app, [*args, "--warn-deferred", "22"], env=at_end)
    assert warn.exit_code == 1, warn.output


def test_check_names_no_destination_when_none_had_a_deferral() -> None:
    """With no deferral anywhere, the check line names no "worst" destination: the first
    name in sort order would be a false lead."""
    from maillog_diag.output.monitor import Thresholds, evaluate

    totals = {"deferrals": 0, "deferrals_tried": 0}
    report = {
        "held_mail": [],
        "totals": totals,
        "destinations": [
            {"domain": "down.example", "deferrals": 0, "deferrals_tried": 0},
            {"domain": "ok.example", "deferrals": 0, "deferrals_tried": 0},
        ],
    }
    _, line = evaluate(report, Thresholds(warn_deferred=1))
    assert "0 deferral(s) at any destination" in line
    assert "down.example" not in line
    report["destinations"][1]["deferrals_tried"] = 2  # type: ignore[index]
    _, line = evaluate(report, Thresholds(warn_deferred=1))
    assert "2 deferral(s) at ok.example" in line
