"""Time windows: what people type, and which mail a windowed report counts (state carried
in from before the window, outcomes known at its end, nothing counted twice)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from dateutil import tz as dtz
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.window import MessageFilter, parse_duration, parse_moment
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.pipeline import ScanOptions, scan_report

from .conftest import FIXTURES
from .test_parallel import generated  # noqa: F401 - the 30,000-line generated log fixture

SMALL = str(FIXTURES / "postfix_small.log")
UTC = resolve_zone("UTC")
BERLIN = dtz.gettz("Europe/Berlin")
NOW = datetime(2026, 11, 30, 8, 15, tzinfo=UTC).timestamp()


def _t(text: str, zone: Any = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", "2026-11-30 08:15"),
        ("today", "2026-11-30 00:00"),
        ("yesterday", "2026-11-29 00:00"),
        ("tomorrow", "2026-12-01 00:00"),
        ("-24h", "2026-11-29 08:15"),
        ("-90m", "2026-11-30 06:45"),
        ("3 days ago", "2026-11-27 08:15"),
        ("1 week ago", "2026-11-23 08:15"),
        ("2026-11-28", "2026-11-28 00:00"),
        ("2026-11-28 06:00", "2026-11-28 06:00"),
        ("2026-11-28T06:00:00", "2026-11-28 06:00"),
    ],
)
def test_parse_moment_in_the_report_zone(text: str, expected: str) -> None:
    assert parse_moment(text, UTC, NOW) == _t(expected)


def test_parse_moment_other_zone_and_explicit_offset() -> None:
    # midnight is the report zone's midnight
    assert parse_moment("yesterday", BERLIN, NOW) == _t("2026-11-29 00:00", BERLIN)
    assert parse_moment("2026-11-28 06:00", BERLIN, NOW) == _t("2026-11-28 05:00")
    # an explicit offset wins over the zone
    assert parse_moment("2026-11-28T06:00:00-05:00", BERLIN, NOW) == _t("2026-11-28 11:00")
    assert parse_moment("2026-11-28T06:00:00Z", BERLIN, NOW) == _t("2026-11-28 06:00")


def test_parse_errors_and_durations() -> None:
    for bad in ("soon", "3 fortnights ago", "-5x", "2026-13-45"):
        with pytest.raises(ValueError):
            parse_moment(bad, UTC, NOW)
    assert parse_duration("4h") == 14400 and parse_duration("90") == 90
    assert parse_duration("30m") == 1800 and parse_duration("2 days") == 172800
    with pytest.raises(ValueError):
        parse_duration("an hour")


def _report(*args: str, now: str = "2026-11-30T08:15:00+00:00", **kw: Any) -> dict[str, Any]:
    res = CliRunner().invoke(
        app,
        ["report", SMALL, "--tz", "UTC", "--year", "2026", "--format", "json", *args],
        env={"MAILLOG_DIAG_NOW": now, "MAILLOG_DIAG_CONFIG": ""},
    )
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def _by(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["domain"]: d for d in data["destinations"]}


def test_mail_held_into_the_window_is_counted_in_it() -> None:
    """10:05-10:30: carol@split and dave@grey were deferred at 10:00:01 (before the
    window) and delivered at 10:05:31 (inside): delayed in the window, held 331 s, no
    deferral inside it. bob@split (delivered 10:00:01) is not in the window. ops@down
    (arrived 10:10, deferred then and at 10:40) is still held at 10:30: held 1200 s."""
    data = _report("--since", "2026-11-29 10:05", "--until", "2026-11-29 10:30")
    assert data["window"]["since"] == "2026-11-29T10:05:00+00:00"
    assert data["window"]["until"] == "2026-11-29T10:30:00+00:00"
    assert data["coverage"] == {"complete": True, "warnings": []}
    by = _by(data)
    grey, split, down = by["grey.example"], by["split.example"], by["down.example"]
    assert (grey["recipients"], grey["recipients_deferred"], grey["deferrals"]) == (1, 1, 0)
    assert grey["delivered_after_delay"] == 1 and grey["held_seconds"]["max"] == 331.0
    assert (split["recipients"], split["recipients_deferred"], split["delivered"]) == (1, 1, 1)
    assert (down["recipients"], down["held"], down["deferrals"]) == (1, 1, 1)
    assert down["held_seconds"]["max"] == 1200.0
    assert data["totals"]["recipients"] == 3


def test_outcomes_before_the_window_are_left_out() -> None:
    data = _report("--since", "2026-11-29 10:20", "--until", "2026-11-29 10:50")
    by = _by(data)
    assert set(by) == {"down.example"}
    down = by["down.example"]
    # carried in (deferred at 10:10), deferred again at 10:40, held to the window's end
    assert (down["recipients_deferred"], down["deferrals"], down["held"]) == (1, 1, 1)
    assert down["held_seconds"]["max"] == 2400.0
    assert data["held_mail"][0]["address"] == "ops@down.example"


def test_consecutive_windows_count_each_deferral_once() -> None:
    whole = _report()
    parts = [
        _report("--since", "2026-11-29 09:00", "--until", "2026-11-29 10:00:01"),
        _report("--since", "2026-11-29 10:00:01", "--until", "2026-11-29 10:40"),
        _report("--since", "2026-11-29 10:40", "--until", "2026-11-29 12:00"),
    ]
    assert sum(p["totals"]["deferrals"] for p in parts) == whole["totals"]["deferrals"] == 4


def test_since_yesterday_as_documented() -> None:
    """MAILLOG_DIAG_NOW injects "now": 2026-11-30 08:15 UTC, so yesterday is 2026-11-29
    00:00 and the window runs to the end of the log unless --until is given."""
    data = _report("--since", "yesterday")
    assert data["window"] == {
        "since": "2026-11-29T00:00:00+00:00",
        "until": None,
        "excluded_domains": [],
    }
    assert _by(data).keys() == _by(_report()).keys()
    # the log starts at 10:00, ten hours into the window: the report says so
    assert data["coverage"]["complete"] is False
    assert "the logs start at 2026-11-29T10:00:00+00:00" in data["coverage"]["warnings"][0]
    bounded = _report("--since", "yesterday", "--until", "today")
    assert bounded["window"]["until"] == "2026-11-30T00:00:00+00:00"
    assert any("the logs end at" in w for w in bounded["coverage"]["warnings"])
    # down.example is still held at the end of the window; its held time runs to the end
    # of the log (11:00), which comes before the window's end
    assert _by(bounded)["down.example"]["held_seconds"]["max"] == 3000.0
    # run a day later: yesterday is Nov 30, which this log does not reach at all
    later = _report("--since", "yesterday", "--until", "today", now="2026-12-01T08:00:00+00:00")
    assert later["destinations"] == []
    assert later["coverage"]["complete"] is False


def test_text_report_states_window_and_warnings() -> None:
    res = CliRunner().invoke(
        app,
        [
            "report",
            SMALL,
            "--tz",
            "UTC",
            "--year",
            "2026",
            "--format",
            "text",
            "--since",
            "yesterday",
        ],
        env={"MAILLOG_DIAG_NOW": "2026-11-30T08:15:00+00:00", "MAILLOG_DIAG_CONFIG": ""},
    )
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0] == "Window: 2026-11-29T00:00:00+00:00 to end of the log"
    assert lines[1].startswith("Log span: 2026-11-29T10:00:00+00:00 to")
    assert any(line.startswith("Warning: the logs start at") for line in lines)


def test_bad_window_options_are_usage_errors() -> None:
    runner = CliRunner()
    env = {"MAILLOG_DIAG_CONFIG": ""}
    res = runner.invoke(app, ["report", SMALL, "--since", "whenever"], env=env)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert "cannot read the time 'whenever'" in res.stderr
    res = runner.invoke(app, ["report", SMALL, "--since", "today", "--until", "yesterday"], env=env)
    assert res.exit_code == 2 and "is not before --until" in res.stderr


def test_window_parallel_equals_single(generated: Path) -> None:  # noqa: F811
    zone = UTC
    window = MessageFilter(_t("2026-11-26 07:00"), _t("2026-11-26 07:40"))
    reports = []
    for jobs in (1, 2):
        options = ScanOptions(zone=zone, year=2026, window=window)
        builder, result = scan_report([str(generated)], options, jobs)
        reports.append(report_dict(builder, result, zone, include_all=True, window=window))
    assert reports[0] == reports[1]
    assert reports[0]["totals"]["recipients"] > 0


def test_excluded_domains_and_subdomains() -> None:
    f = MessageFilter(exclude_domains=frozenset({"example.org"}))
    assert f.excluded("example.org") and f.excluded("lists.example.org")
    assert not f.excluded("notexample.org")
