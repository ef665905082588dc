"""The daily mail a postmaster reads (issue 11): ordered for action, bounded whatever the
log size (`--top`, `--all`), the HTML carrying what the text carries, and mailed as one
multipart/alternative message through a sendmail command."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
from email.message import EmailMessage
from email.policy import default as default_policy
from html import escape
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES, SAMPLE_LOGS
from .test_bench_generator import write_generated

SMALL = str(FIXTURES / "postfix_small.log")
ENV = {"MAILLOG_DIAG_NOW": "2026-11-30T08:15:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
COMMON = ["--tz", "UTC", "--year", "2026", "--no-rotated"]


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env or ENV)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def busy_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A generated log of 40,000 lines: hundreds of destinations, mail still queued."""
    path = write_generated(tmp_path_factory.mktemp("busy") / "mail.log", 5, 40_000)
    return path, ["--since", "2020-01-01", "--until", "2040-01-01"]


def _json(log: Path, window: list[str]) -> dict[str, Any]:
    code, out, _ = _run("daily", str(log), *COMMON, *window, "--format", "json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


def test_daily_text_is_bounded_and_ordered_for_action(busy_day: tuple[Path, list[str]]) -> None:
    log, window = busy_day
    data = _json(log, window)
    failing = [d for d in data["destinations"] if not d["forced_split_only"]]
    assert len(failing) > 40 and len(data["held_mail"]) > 15  # a log that needs bounding
    code, out, _ = _run("daily", str(log), *COMMON, *window)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) <= 210
    assert all(len(line) <= 80 for line in lines)
    # the summary line names delayed, still queued, bounced, expired and the worst
    totals = data["totals"]
    assert lines[0].startswith(f"{totals['recipients_deferred']:,} recipients delayed; ")
    assert f"{totals['held']:,} still queued" in lines[0]
    assert "bounced" in lines[0] and "expired" in lines[0] and "worst:" in out
    # still-queued mail in the first screen, oldest first, with whole queue ids
    queued = next(i for i, line in enumerate(lines) if line.startswith("Still queued"))
    assert queued < 25
    oldest = data["held_mail"][0]
    assert oldest["queue_id"] in lines[queued + 2].split()
    table = next(i for i, line in enumerate(lines) if line.startswith("Destination"))
    assert queued < table
    # the top 15 destinations, the rest as one count
    rest = failing[15:]
    more = f"... and {len(rest):,} more destinations with "
    more += f"{sum(d['recipients_deferred'] for d in rest):,} delayed recipients"
    assert any(line.startswith(more) for line in lines), more
    for d in failing[:15]:
        assert d["domain"] in out
    assert failing[20]["domain"] not in set(out.split())
    for section in ("Causes across all destinations:", "Causes by destination:"):
        assert section in lines and lines.index(section) > table
    # --top and --all
    _, top3, _ = _run("daily", str(log), *COMMON, *window, "--top", "3")
    assert f"... and {len(failing) - 3:,} more destinations" in top3
    _, everything, _ = _run("daily", str(log), *COMMON, *window, "--all")
    assert len(everything.splitlines()) > len(lines)
    assert oldest["queue_id"] in everything and data["held_mail"][-1]["queue_id"] in everything


def test_daily_html_is_bounded_and_shows_what_the_text_shows(
    busy_day: tuple[Path, list[str]],
) -> None:
    log, window = busy_day
    data = _json(log, window)
    code, html, _ = _run("daily", str(log), *COMMON, *window, "--format", "html")
    assert code == 0
    assert len(html.encode()) <= 300_000
    _, text, _ = _run("daily", str(log), *COMMON, *window)
    for h in data["held_mail"][:15]:  # every queue id the text lists
        assert h["queue_id"] in text and f"<code>{h['queue_id']}</code>" in html
    advised = [d for d in data["destinations"] if d["retry_schedule"]["suggestion"]][:5]
    assert advised, "the generated day has retry advice"
    for d in advised:
        assert d["domain"] in text
        suggestion = d["retry_schedule"]["suggestion"]
        assert escape(suggestion.split(".")[0]) in html
    assert "Retry schedule advice" in html and "repeated by the MTA" in html
    lines_in_text = set(re.findall(r"e\.g\. (\S+:\d+)", text))
    assert lines_in_text and all(ref in html for ref in lines_in_text)
    for p in data["mta_problems"]:
        assert p["kind"] in html
    # the chart: hour labels, axes, a legend
    assert "<svg" in html and "recipients delivered" in html and "deferred attempts" in html
    labels = re.findall(r">(?:\d\d )?(\d\d:00)</text>", html)
    assert labels and labels[0] == data["traffic"][0]["hour"][11:16]  # the report's zone


def test_report_html_and_text_show_the_same_suggestions_and_hints() -> None:
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    _, text, _ = _run("report", log, *COMMON, "--format", "text")
    _, html, _ = _run("report", log, *COMMON, "--format", "html")
    _, raw, _ = _run("report", log, *COMMON, "--format", "json")
    data = json.loads(raw)
    for d in data["destinations"]:
        if d["retry_schedule"]["suggestion"]:
            first = d["retry_schedule"]["suggestion"].split("(")[0]
            assert first in text.replace("\n  ", " ") and escape(first) in html
        for c in d["causes"][:3]:
            if c.get("detail"):
                assert escape(c["detail"]) in html
            if c["retry_hint_median_seconds"] is not None:
                assert "(median)" in html
    assert "No chart" in html  # seven minutes of log: nothing to chart


def test_one_retry_figure_in_both_places() -> None:
    """The cause's stated interval and the schedule's are one figure, labelled median."""
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    _, raw, _ = _run("report", log, *COMMON, "--format", "json")
    d = next(x for x in json.loads(raw)["destinations"] if x["domain"] == "greylist.test")
    cause = d["causes"][0]
    assert cause["retry_hint_median_seconds"] == d["retry_schedule"]["median_hint_seconds"]
    _, text, _ = _run("report", log, *COMMON, "--format", "text", "--reasons", "1")
    block = text.split("\ngreylist.test\n", 1)[1].split("\n\n")[0]
    shown = re.findall(r"retry (\S+) asked \(median\)", block)
    schedule = re.findall(r"stated interval \((\S+), median\)", block)
    assert shown and shown == schedule


def _capture_command(tmp_path: Path) -> tuple[str, Path]:
    target = tmp_path / "sent.eml"
    script = tmp_path / "fake-sendmail"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/argv\ncat > {target}\n')
    script.chmod(0o755)
    return f"{script} -t -oi", target


def test_mail_to_pipes_one_multipart_alternative_message(tmp_path: Path) -> None:
    command, target = _capture_command(tmp_path)
    code, out, err = _run(
        "daily", SMALL, *COMMON, "--mail-to", "postmaster@example.org", "--sendmail", command
    )
    assert code == 0, err
    assert out == ""  # mailed, not printed
    assert (tmp_path / "argv").read_text().split() == ["-t", "-oi"]
    msg = email.message_from_bytes(target.read_bytes(), policy=default_policy)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "postmaster@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    assert "3 recipients delayed" in msg["Subject"]
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    plain_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    assert plain_part is not None and html_part is not None
    _, text, _ = _run("daily", SMALL, *COMMON)
    assert plain_part.get_content() == text
    assert "5B2C3D4E5F" in html_part.get_content()


def test_mail_to_reports_a_failing_sendmail(tmp_path: Path) -> None:
    code, _, err = _run(
        "daily", SMALL, *COMMON, "--mail-to", "x@example.org", "--sendmail", "/bin/false"
    )
    assert code == 75 and "was not sent" in err
    code, _, err = _run(
        "daily", SMALL, *COMMON, "--mail-to", "x@example.org", "--sendmail", str(tmp_path / "no")
    )
    assert code == 75 and "cannot run" in err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_screenshot_in_headless_chromium(
    tmp_path: Path, busy_day: tuple[Path, list[str]]
) -> None:
    log, window = busy_day
    _, html, _ = _run("daily", str(log), *COMMON, *window, "--format", "html")
    page = tmp_path / "daily.html"
    page.write_text(html)
    shot = tmp_path / "daily.png"
    profile = tmp_path / "profile"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
    assert len(data) > 20_000  # a page with tables and charts, not a blank one
