"""Stale, absent and piped input (issue 9): a log that stopped days ago is not an all-clear,
a missing input prints only the error, and a pipe on standard input is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES, ROOT, SAMPLE_LOGS

SMALL = FIXTURES / "postfix_small.log"  # ends 2026-11-29 11:00 UTC, ops@down.example queued
COMMON = ["--tz", "UTC", "--year", "2026"]
TWO_DAYS_LATER = {"MAILLOG_DIAG_NOW": "2026-12-01T11:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
STALE_NOTE = "log ends 2026-11-29 11:00 UTC, 2d ago: is the MTA still logging?"


def _run(*args: str, env: dict[str, str] = TWO_DAYS_LATER) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env)
    return res.exit_code, res.stdout, res.stderr


def test_check_on_a_stale_log_is_not_ok() -> None:
    code, out, _ = _run("check", str(SMALL), *COMMON)
    assert code == 3
    assert out.startswith("MAILLOG UNKNOWN - ") and out.count("\n") == 1
    assert STALE_NOTE in out


def test_check_on_a_stale_log_ages_the_queued_mail_to_now() -> None:
    # ops@down.example arrived 10:10 and was still queued when the log ended at 11:00:
    # two days later it has been queued (at least) 2d00h50m, which crosses a 4h threshold.
    code, out, _ = _run(
        "check", str(SMALL), *COMMON, "--warn-held-age", "1h", "--crit-held-age", "4h"
    )
    assert code == 2
    assert out.startswith("MAILLOG CRITICAL - ") and STALE_NOTE in out
    perf = out.rstrip("\n").split(" | ")[1]
    assert f"oldest_held={2 * 86400 + 50 * 60}s;" in perf


def test_check_on_a_current_log_is_unchanged() -> None:
    now = {"MAILLOG_DIAG_NOW": "2026-11-29T11:00:30+00:00", "MAILLOG_DIAG_CONFIG": ""}
    code, out, _ = _run("check", str(SMALL), *COMMON, env=now)
    assert code == 0 and "is the MTA still logging" not in out


def test_report_daily_and_why_warn_about_a_stale_log_on_stderr() -> None:
    for command in ("report", "why"):
        code, _, err = _run(command, str(SMALL), *COMMON, "--since", "-1d")
        assert code == 0 and STALE_NOTE in err, command
    code, _, err = _run("daily", str(SMALL), *COMMON, "--no-rotated")
    assert code == 0 and STALE_NOTE in err


def test_daily_quiet_if_clean_says_when_the_log_does_not_cover_yesterday() -> None:
    later = {"MAILLOG_DIAG_NOW": "2026-12-05T08:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
    code, out, err = _run("daily", str(SMALL), *COMMON, "--quiet-if-clean", env=later)
    assert code == 0
    assert "do not cover" in out + err or "before the window" in out + err


def _clean_day(path: Path) -> Path:
    """A log of 2026-11-29 from 00:01 to 23:59 with two messages delivered at once."""
    lines = []
    for stamp, qid in (("00:01:00", "AAAA111111"), ("23:59:00", "BBBB222222")):
        lines += [
            f"Nov 29 {stamp} mx1 postfix/pickup[1]: {qid}: uid=0 from=<root@mx1.example>",
            f"Nov 29 {stamp} mx1 postfix/qmgr[2]: {qid}: from=<root@mx1.example>, size=300, nrcpt=1 (queue active)",
            f"Nov 29 {stamp} mx1 postfix/smtp[3]: {qid}: to=<a@ok.example>, relay=mx.ok.example[192.0.2.1]:25, delay=0.2, delays=0.1/0/0.05/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
            f"Nov 29 {stamp} mx1 postfix/qmgr[2]: {qid}: removed",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_daily_quiet_if_clean_is_quiet_on_a_clean_covered_day(tmp_path: Path) -> None:
    log = _clean_day(tmp_path / "mail.log")
    env = {"MAILLOG_DIAG_NOW": "2026-11-30T06:30:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
    code, out, err = _run("daily", str(log), *COMMON, "--quiet-if-clean", env=env)
    assert (code, out, err) == (0, "", "")


def test_a_missing_input_prints_only_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "mail.log"
    for fmt in ("text", "json"):
        code, out, err = _run("report", str(missing), *COMMON, "--format", fmt)
        assert code == 3 and out == ""
        assert err == f"maillog-diag: {missing}: no such file\n"
    conf = tmp_path / "config.toml"
    conf.write_text(f'inputs = ["{missing}"]\n')
    code, out, err = _run(
        "daily", *COMMON, env={**TWO_DAYS_LATER, "MAILLOG_DIAG_CONFIG": str(conf)}
    )
    assert code == 3 and out == "" and "no such file" in err


def test_a_pipe_on_standard_input_is_read_when_no_file_is_named() -> None:
    env = {**os.environ, "MAILLOG_DIAG_CONFIG": "", "PYTHONPATH": str(ROOT)}
    # `cat mail.log | maillog-diag report`: standard input is a pipe
    proc = subprocess.run(
        [sys.executable, "-m", "maillog_diag", "report", "--format", "json", "--tz", "UTC"],
        input=(SAMPLE_LOGS / "postfix" / "mail.log").read_bytes(),
        capture_output=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["lines"]["total"] == len(
        (SAMPLE_LOGS / "postfix" / "mail.log").read_bytes().splitlines()
    )


def test_an_empty_pipe_is_not_read_in_place_of_the_default_log() -> None:
    # cron hands every job a pipe it closes at once: `daily` must still read the default log
    default = Path("/var/log/mail.log")
    if default.exists():
        import pytest

        pytest.skip("this machine has a default log")
    env = {**os.environ, "MAILLOG_DIAG_CONFIG": "", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "maillog_diag", "report", "--format", "json"],
        input=b"",
        capture_output=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 3 and proc.stdout == b""
    assert proc.stderr.decode() == f"maillog-diag: {default}: no such file\n"
