"""Hostile options, files and streams through the command line (issue 10): usage errors
are exit 2 with a line naming the problem; no log text drives the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from tests.hostile import ROOT

SAMPLE = ROOT / "sample_logs" / "postfix" / "mail.log"
COMMON = ["--tz", "UTC", "--year", "2026", "--jobs", "1"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "-99999999999d"], "-99999999999d"),
        (["--until", "9999-12-31T23:59:59-14:00"], "9999-12-31T23:59:59-14:00"),
        (["--tz", "../../etc/passwd"], "../../etc/passwd"),
        (["--tz", "/etc/passwd"], "/etc/passwd"),
        (["--year", "-5"], "--year"),
        (["--year", "0"], "--year"),
        (["--year", "10000"], "--year"),
    ],
)
def test_hostile_options_are_usage_errors(args: list[str], named: str) -> None:
    result = CliRunner().invoke(app, ["report", str(SAMPLE), "-f", "json", *args])
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert named in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    "content",
    [b'tz = "UTC\xff\xfe"\n', b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n"],
    ids=["invalid-utf8", "deeply-nested"],
)
def test_a_hostile_config_file_is_a_usage_error_naming_it(content: bytes, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    result = CliRunner().invoke(app, ["report", str(SAMPLE), "--config", str(config)])
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert str(config) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
