"""Resources stay bounded whatever the input (issue 10, "Resources bounded")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.output.html import MAX_COLUMNS
from maillog_diag.scan.pipeline import JOB_MIN_BYTES, ScanOptions, capped_jobs, collect_messages
from tests.hostile import ROOT

RFC = ROOT / "sample_logs" / "postfix" / "mail.log.rfc3339"
SAMPLE = ROOT / "sample_logs" / "postfix" / "mail.log"


def _far_apart(tmp_path: Path, year: str) -> Path:
    """The RFC 3339 sample plus one deferral of a held message dated in `year`."""
    text = RFC.read_text(encoding="utf-8")
    defer = next(line for line in text.splitlines() if "status=deferred" in line)
    stamp = defer.split(" ", 1)[0]
    odd = defer.replace(stamp, f"{year}-11-29T13:41:13+00:00").replace(
        defer.split(": ", 2)[1], "AAAAAAAAAAA", 1
    )
    log = tmp_path / "mail.log"
    log.write_text(odd + "\n" + text, encoding="utf-8")
    return log


@pytest.mark.parametrize("year", ["1026", "9998"])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_per_hour_pictures_do_not_follow_the_time_span(year: str, fmt: str, tmp_path: Path) -> None:
    log = _far_apart(tmp_path, year)
    command = "daily" if fmt == "text" else "report"
    args = [command, str(log), "-f", fmt, "--tz", "UTC", "--jobs", "1"]
    if command == "daily":
        args += ["--since", "1000-01-01", "--until", "9999-01-01"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert len(result.stdout) < 500_000, len(result.stdout)
    if fmt == "html":
        widths = [int(w) for w in _svg_widths(result.stdout)]
        assert widths and max(widths) <= MAX_COLUMNS * 14 + 40


def _svg_widths(html: str) -> list[str]:
    return [
        part.split('"', 1)[0]
        for part in html.split('<svg xmlns="http://www.w3.org/2000/svg" width="')[1:]
    ]


def test_jobs_are_capped_by_cores_and_input_size(tmp_path: Path) -> None:
    assert capped_jobs(1000, [str(SAMPLE)]) == 1
    assert capped_jobs(1000, ["-"]) == 1
    big = tmp_path / "big.log"
    with open(big, "wb") as fh:
        fh.truncate(1000 * JOB_MIN_BYTES)  # sparse: no disk used
    cores = len(os.sched_getaffinity(0))
    assert capped_jobs(1000, [str(big)]) == cores
    assert capped_jobs(1, [str(big)]) == 1


def test_attempts_keep_their_raw_line_only_for_trace() -> None:
    zone = UTC
    plain, _ = collect_messages([str(SAMPLE)], ScanOptions(zone=zone, year=2026))
    texts = [a.ref.text for m in plain for r in m.recipients.values() for a in r.attempts if a.ref]
    assert texts and not any(texts)
    traced, _ = collect_messages([str(SAMPLE)], ScanOptions(zone=zone, year=2026, keep_lines=True))
    texts = [a.ref.text for m in traced for r in m.recipients.values() for a in r.attempts if a.ref]
    assert texts and all(texts)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.skipif(
    not os.path.isdir("/proc") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux, 2 cores"
)
def test_sigterm_during_a_parallel_run_leaves_no_worker(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    data = SAMPLE.read_bytes()
    with open(log, "wb") as fh:
        for _ in range(3 * JOB_MIN_BYTES // len(data)):
            fh.write(data)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maillog_diag",
            "report",
            str(log),
            "--jobs",
            "2",
            "-f",
            "json",
            "--tz",
            "UTC",
            "--year",
            "2026",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        workers = _children(proc.pid)
    assert workers, "no worker started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [w for w in workers if os.path.exists(f"/proc/{w}") and _state(w) != "Z"]
    for w in alive:
        os.kill(w, signal.SIGKILL)  # clean up what the test itself started
    assert not alive


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
