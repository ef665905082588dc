"""The queue beside the log: listings of the MTAs' queues read (real captures from the lab
MTAs in tests/fixtures/queue/, see its README), held mail marked `in_queue`, queued mail
the log never showed listed apart; and hostile listing text never crashes anything."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.errors import InputError
from maillog_diag.input import queue as queue_mod
from maillog_diag.input.queue import detect_format, parse_listing
from maillog_diag.input.timestamps import resolve_zone

from .conftest import FIXTURES, SAMPLE_LOGS

QUEUE = FIXTURES / "queue"
UTC = resolve_zone("UTC")
FORMATS = ["postfix-json", "postfix-text", "exim", "sendmail", "opensmtpd"]


def _captures(pattern: str) -> list[Path]:
    return sorted(QUEUE.glob(pattern))


# ---------------------------------------------------------------- hostile text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_read_or_refused_in_one_way(text: str) -> None:
    try:
        listing = parse_listing(text, 1.8e9, UTC)
    except InputError:
        return
    assert listing.skipped >= 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FORMATS), st.text(max_size=400))
def test_every_parser_takes_any_text(fmt: str, text: str) -> None:
    listing = parse_listing(text, 1.8e9, UTC, fmt=fmt)
    assert all(isinstance(e.queue_id, str) for e in listing.entries)


def test_hostile_postfix_json_is_bounded_and_kept_as_text() -> None:
    lines = [
        json.dumps(
            {
                "queue_name": "deferred",
                "queue_id": "ABC123",
                "arrival_time": 1.8e9,
                "sender": "x" * 100_000,
                "recipients": [
                    {"address": "a\x1b[2J@evil.test", "delay_reason": "\x00" * 50},
                    {"address": 5},
                    "junk",
                ],
            }
        ),
        json.dumps({"queue_id": None}),
        json.dumps([1, 2]),
        '{"queue_id": "Q2", "arrival_time": "yesterday", "message_size": true}',
        "{not json",
    ]
    listing = parse_listing("\n".join(lines), 1.8e9, UTC)
    assert listing.format == "postfix-json"
    assert [e.queue_id for e in listing.entries] == ["ABC123", "Q2"]
    first = listing.entries[0]
    assert len(first.sender or "") <= queue_mod.MAX_LINE_CHARS
    assert [r.address for r in first.recipients] == ["a\x1b[2J@evil.test"]
    assert listing.entries[1].arrived is None and listing.entries[1].size is None
    assert listing.skipped == 3


def test_entries_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_mod, "MAX_ENTRIES", 2)
    text = "\n".join(json.dumps({"queue_id": f"Q{i}"}) for i in range(5))
    listing = parse_listing(text, 1.8e9, UTC)
    assert len(listing.entries) == 2
    assert listing.truncated


def test_unknown_text_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_listing("hello\nworld\n", 1.8e9, UTC)
    assert detect_format("") == "empty"


# ---------------------------------------------------------------- real captures

POSTFIX = QUEUE / "postfix"
COMMON = ["--tz", "UTC", "--year", "2026"]
CAPTURED = "2026-12-01T12:30:00+00:00"
"""Shortly after the lab captures' last lines: "now" for the commands run on them, so that
their answers do not turn into a stale-log warning as the captures age."""


@pytest.fixture(autouse=True)
def _now_of_the_captures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLOG_DIAG_NOW", CAPTURED)


def _report(log: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["report", str(log), *extra, *COMMON, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _listed(jsonl: Path) -> dict[str, set[str]]:
    """What a postqueue -j capture lists, read with nothing but the json module."""
    out: dict[str, set[str]] = {}
    for line in jsonl.read_text().splitlines():
        obj = json.loads(line)
        out[obj["queue_id"]] = {r["address"].lower() for r in obj["recipients"]}
    return out


@pytest.mark.parametrize("listing", ["postqueue-j.jsonl", "later.postqueue-j.jsonl"])
def test_postqueue_j_capture_marks_the_held_mail(listing: str) -> None:
    listed = _listed(POSTFIX / listing)
    report = _report(POSTFIX / "log", "--queue-file", str(POSTFIX / listing))
    held = report["held_mail"]
    assert held, "the capture was taken while mail was deferred"
    for h in held:
        expected = h["address"].lower() in listed.get(h["queue_id"], set())
        assert h["in_queue"] is expected, h
    marks = {h["in_queue"] for h in held}
    if listing.startswith("later."):
        # taken 40 s after the log copy: some mail left the queue in between
        assert marks == {True, False}
    else:
        assert marks == {True}  # log and listing taken together agree
    assert report["queue"]["format"] == "postfix-json"
    assert report["queue"]["messages"] == len(listed)
    assert report["queue"]["recipients"] == sum(len(r) for r in listed.values())


# Text listings: what each lists, read with a few lines of the test's own (a message id at
# the start of a head line, addresses alone on the indented lines below it).
TEXT_CAPTURES = {
    "exim": ("exim-bp.txt", "exim", r"^ *\d+[smhdw] +\S+ +(\S+) ", r"^ +([^ D][^ ]*)$"),
    "sendmail": ("mailq.txt", "sendmail", r"^(\w{14})\S? ", r"^\s+<?([^\s()<>]+@[^\s()<>]+)>?$"),
}


def _text_listed(path: Path, head: str, rcpt: str) -> dict[str, set[str]]:
    import re

    out: dict[str, set[str]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        found = re.match(head, line)
        if found:
            current = found.group(1)
            out[current] = set()
            continue
        found = re.match(rcpt, line)
        if found and current is not None:
            out[current].add(found.group(1).lower())
    return out


@pytest.mark.parametrize("mta", sorted(TEXT_CAPTURES))
@pytest.mark.parametrize("prefix", ["", "later."])
def test_text_capture_marks_the_held_mail(mta: str, prefix: str) -> None:
    folder = QUEUE / mta
    if not (folder / "log").exists():
        pytest.skip(f"no {mta} capture")
    name, fmt, head, rcpt = TEXT_CAPTURES[mta]
    path = folder / f"{prefix}{name}"
    listed = _text_listed(path, head, rcpt)
    assert listed
    report = _report(folder / "log", "--queue-file", str(path))
    assert report["queue"]["format"] == fmt
    assert report["queue"]["skipped"] == 0
    assert report["queue"]["messages"] == len(listed)
    held = report["held_mail"]
    assert held
    for h in held:
        assert h["in_queue"] is (h["address"].lower() in listed.get(h["queue_id"], set())), h
    assert {h["in_queue"] for h in held} == ({True, False} if prefix else {True})


def test_postqueue_p_capture_reads_as_the_json_one() -> None:
    zone = UTC
    for prefix in ("", "later."):
        text = (POSTFIX / f"{prefix}postqueue-p.txt").read_text()
        listing = parse_listing(text, 1.8e9, zone)
        assert listing.format == "postfix-text"
        assert listing.skipped == 0
        got = {e.queue_id: {r.address.lower() for r in e.recipients} for e in listing.entries}
        assert got == _listed(POSTFIX / f"{prefix}postqueue-j.jsonl")
    json_report = _report(POSTFIX / "log", "--queue-file", str(POSTFIX / "later.postqueue-j.jsonl"))
    text_report = _report(POSTFIX / "log", "--queue-file", str(POSTFIX / "later.postqueue-p.txt"))
    assert [h["in_queue"] for h in json_report["held_mail"]] == [
        h["in_queue"] for h in text_report["held_mail"]
    ]


def test_queued_mail_the_log_never_showed_is_listed_with_its_age(tmp_path: Path) -> None:
    # The real log, as if it had been rotated at 12:06:08: its first 363 lines are gone.
    lines = (POSTFIX / "log").read_text().splitlines()
    cut = tmp_path / "mail.log"
    cut.write_text("\n".join(lines[363:]) + "\n")
    listing = tmp_path / "postqueue-j.jsonl"
    shutil.copy(POSTFIX / "postqueue-j.jsonl", listing)
    taken = 1796127000.0
    os.utime(listing, (taken, taken))
    report = _report(cut, "--queue-file", str(listing))
    only = {e["queue_id"]: e for e in report["queue_only"]}
    text = cut.read_text()
    arrivals = {
        json.loads(line)["queue_id"]: json.loads(line)["arrival_time"]
        for line in listing.read_text().splitlines()
    }
    never = {qid for qid in arrivals if qid not in text}
    assert never, "the cut must hide some queued mail"
    assert never <= set(only)
    assert not set(only) & {h["queue_id"] for h in report["held_mail"]}
    for qid, e in only.items():
        assert e["age_seconds"] == taken - arrivals[qid]
    assert any(only[qid]["before_log"] for qid in never)
    out = CliRunner().invoke(
        app, ["report", str(cut), "--queue-file", str(listing), *COMMON, "--format", "text"]
    )
    assert "In the queue but not held in the log" in out.stdout
    assert next(iter(never)) in out.stdout


def test_queue_runs_the_mtas_own_listing_command(tmp_path: Path) -> None:
    # A stand-in postqueue on PATH that prints the real capture.
    fake = tmp_path / "postqueue"
    fake.write_text(
        f"#!/bin/sh\n[ \"$1\" = -j ] || exit 64\ncat '{POSTFIX / 'postqueue-j.jsonl'}'\n"
    )
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"}
    result = CliRunner().invoke(
        app, ["report", str(POSTFIX / "log"), "--queue", *COMMON, "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["queue"]["source"] == "postqueue -j"
    assert all(h["in_queue"] for h in data["held_mail"])


def test_queue_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        app, ["report", str(POSTFIX / "log"), "--queue-file", str(tmp_path / "nope"), *COMMON]
    )
    assert missing.exit_code == 3
    assert missing.stderr.count("\n") == 1 and "nope" in missing.stderr
    both = runner.invoke(
        app,
        ["report", str(POSTFIX / "log"), "--queue", "--queue-file", str(tmp_path / "x"), *COMMON],
    )
    assert both.exit_code == 2
    junk = tmp_path / "junk.txt"
    junk.write_text("this is no queue listing\n")
    bad = runner.invoke(app, ["report", str(POSTFIX / "log"), "--queue-file", str(junk), *COMMON])
    assert bad.exit_code == 3
    assert "Traceback" not in bad.output


def test_smtpctl_capture_marks_the_mail_held_at_that_moment() -> None:
    # The OpenSMTPD lab's own capture (sample_logs/opensmtpd/queue/CAPTURED.txt): the queue
    # mid-run, beside the whole run's log; the report's window ends when it was taken.
    folder = SAMPLE_LOGS / "opensmtpd"
    listing = folder / "queue" / "smtpctl_show_queue.txt"
    if not listing.exists() or importlib.util.find_spec("maillog_diag.mta.opensmtpd") is None:
        pytest.skip("no OpenSMTPD reader or capture")
    taken = re.search(r"Captured (\S+Z)", (folder / "queue" / "CAPTURED.txt").read_text())
    assert taken
    listed: dict[str, set[str]] = {}
    for line in listing.read_text().splitlines():
        fields = line.split("|")
        listed.setdefault(fields[0][:8], set()).add(fields[5].lower())
    report = _report(folder / "maillog", "--until", taken.group(1), "--queue-file", str(listing))
    assert report["queue"]["format"] == "opensmtpd"
    assert report["queue"]["recipients"] == sum(len(v) for v in listed.values())
    held = report["held_mail"]
    assert held
    for h in held:
        assert h["in_queue"] is (h["address"].lower() in listed.get(h["queue_id"], set())), h
    # the log at the second the listing was taken and the listing agree
    assert all(h["in_queue"] for h in held)
    assert report["queue_only"] == []


def test_daily_takes_the_queue_too() -> None:
    folder = QUEUE / "exim"
    result = CliRunner().invoke(
        app,
        ["daily", str(folder / "log"), "--queue-file", str(folder / "exim-bp.txt")]
        + ["--format", "json", "--since", "2026-12-01", "--until", "2026-12-02", "--tz", "UTC"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["held_mail"] and all(h["in_queue"] for h in data["held_mail"])
    assert data["queue"]["format"] == "exim"
