"""`maillog-diag watch`: following a growing log like `tail -F` (rotation, truncation),
streaming one JSON object per event, and ending cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.follow import Follower

from .conftest import ROOT, SAMPLE_LOGS

POSTFIX = (SAMPLE_LOGS / "postfix" / "mail.log").read_text().splitlines()
DEFERRALS = [line for line in POSTFIX if "status=deferred" in line]
WAIT = 8.0
"""Seconds a line may take to come out (the watcher polls every 0.1 s here)."""


class Watch:
    """`watch --format jsonl` running on a file, its stdout read on a thread."""

    def __init__(self, log: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "maillog_diag",
                "watch",
                str(log),
                "--format",
                "jsonl",
                "--poll",
                "0.1",
                "--tz",
                "UTC",
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def next_where(self, **want: Any) -> dict[str, Any]:
        """The next JSON object whose fields include `want` (others are skipped)."""
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing matching {want} within {WAIT}s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            obj = json.loads(line)
            if all(obj.get(k) == v for k, v in want.items()):
                return obj

    def stop(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


def _append(path: Path, line: str) -> None:
    with path.open("a") as fh:
        fh.write(line + "\n")


def _ready(watch: Watch) -> None:
    """Wait until the watcher says it follows the file (its first object)."""
    watch.next_where(type="watching")


def test_appended_deferral_arrives_across_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("")
    watch = Watch(log)
    try:
        _ready(watch)
        _append(log, DEFERRALS[0])
        got = watch.next_where(type="delivery")
        assert got["status"] == "deferred"
        assert got["queue_id"] == "DCBA416022F"
        assert got["recipient"] == "jo@expire.test"
        assert got["cause"] == "mailbox"
        # rotation: the file renamed away, a new one started in its place
        os.rename(log, tmp_path / "mail.log.1")
        log.write_text("")
        _append(log, DEFERRALS[1])
        got = watch.next_where(type="delivery")
        assert got["queue_id"] == "AA7BE160232"
        assert got["cause"] == "greylisting"
        assert got["retry_hint_seconds"] == 60
        # truncation (copytruncate): the same file emptied, then written again
        _append(log, DEFERRALS[2])
        watch.next_where(type="delivery", queue_id="1AA76160234")
        with log.open("w"):
            pass
        time.sleep(0.5)
        _append(log, DEFERRALS[3])
        got = watch.next_where(type="delivery")
        assert got["queue_id"] == DEFERRALS[3].split(": ")[1]
    finally:
        code, err = watch.stop(signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err


def test_a_finished_message_is_one_object(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("")
    qid = "48FCF160054"
    lines = [line for line in POSTFIX if f" {qid}: " in line]
    assert any("removed" in line for line in lines)
    watch = Watch(log)
    try:
        _ready(watch)
        with log.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        msg = watch.next_where(type="message")
        assert msg["queue_id"] == qid
        # the same message as `messages` makes of the same lines
        batch = tmp_path / "batch.log"
        batch.write_text("\n".join(lines) + "\n")
        result = CliRunner().invoke(
            app, ["messages", str(batch), "--tz", "UTC", "--year", str(time.gmtime().tm_year)]
        )
        (expected,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert "bounced" in [r["outcome"] for r in msg["recipients"]]
        assert [(r["address"], r["outcome"], r["deferrals"]) for r in msg["recipients"]] == [
            (r["address"], r["outcome"], r["deferrals"]) for r in expected["recipients"]
        ]
    finally:
        code, err = watch.stop(signal.SIGINT)
    assert code == 130
    assert "Traceback" not in err


def test_a_missing_file_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    watch = Watch(log)
    try:
        _ready(watch)
        time.sleep(0.3)
        log.write_text(DEFERRALS[0] + "\n")
        assert watch.next_where(type="delivery")["queue_id"] == "DCBA416022F"
    finally:
        code, err = watch.stop(signal.SIGTERM)
    assert code == 0, err


def test_from_start_reads_what_is_already_there(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(DEFERRALS[0] + "\n")
    watch = Watch(log, "--from-start")
    try:
        assert watch.next_where(type="delivery")["queue_id"] == "DCBA416022F"
    finally:
        watch.stop(signal.SIGTERM)


# The follower itself, without a process.


def test_follower_keeps_a_partial_line_until_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"")
    follower = Follower(str(log), from_start=True)
    with log.open("ab") as fh:
        fh.write(b"first li")
    assert follower.poll() == []
    with log.open("ab") as fh:
        fh.write(b"ne\nsecond\n")
    assert follower.poll() == ["first line", "second"]
    follower.close()


def test_follower_reads_the_rest_of_a_rotated_file_first(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"a\n")
    follower = Follower(str(log), from_start=True)
    assert follower.poll() == ["a"]
    with log.open("ab") as fh:
        fh.write(b"b\n")  # written just before the rotation, not yet read
    os.rename(log, tmp_path / "x.log.1")
    log.write_bytes(b"c\n")
    assert follower.poll() == ["b", "c"]
    assert follower.rotations == 1
    follower.close()


def test_follower_bounds_a_line_without_newline(tmp_path: Path) -> None:
    """A line longer than the limit is not kept, and not cut into pieces read as lines:
    it comes whole as one `LongLine` (its first bytes and full length), as in a batch
    read, once its newline is written; the next line is intact."""
    from maillog_diag.input.sources import LongLine

    log = tmp_path / "x.log"
    log.write_bytes(b"before\n")
    follower = Follower(str(log), from_start=True, max_line=1000)
    assert follower.poll() == ["before"]
    with log.open("ab") as fh:
        fh.write(b"x" * 5000)
    assert follower.poll() == []  # still being written: nothing kept, nothing handed on
    with log.open("ab") as fh:
        fh.write(b"y" * 3000 + b"\nafter\n")
    lines = follower.poll()
    assert lines == ["x" * 300, "after"]
    assert isinstance(lines[0], LongLine) and lines[0].length == 8001
    follower.close()


@pytest.mark.parametrize("junk", [b"\xff\xfe\x00bad\n", b"\x1b[31mred\n"])
def test_follower_decodes_anything(tmp_path: Path, junk: bytes) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(junk)
    follower = Follower(str(log), from_start=True)
    assert len(follower.poll()) == 1
    follower.close()


def test_live_screen_shows_queued_mail_and_no_control_characters(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from maillog_diag.input.timestamps import resolve_zone
    from maillog_diag.output.render import render_live
    from maillog_diag.scan.live import LiveScan

    zone = resolve_zone("UTC")
    live = LiveScan(zone, 2026, time.time)
    hostile = DEFERRALS[1].replace("greylist.test", "evil\x1b[2J.test")
    for n, line in enumerate([DEFERRALS[0], hostile], 1):
        live.feed(line, "mail.log", n)
    snap = live.snapshot(1795959000.0)  # 2026-11-29 14:10 UTC, after both lines
    assert {q.domain for q in snap.queued} == {"evil\x1b[2j.test", "expire.test"}
    grey = next(q for q in snap.queued if q.domain.startswith("evil"))
    assert grey.last_cause is not None and grey.last_cause.cause.value == "greylisting"
    assert grey.retry_after is not None  # "Greylisted for 60 seconds"
    assert snap.deferrals_last_minute <= 2
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(render_live(snap, zone, ["mail.log"]))
    text = out.getvalue()
    assert "\x1b" not in text
    assert "expire.test" in text and "mailbox" in text and "greylisting" in text


def test_table_format_without_a_terminal_ends_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(DEFERRALS[0] + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_diag", "watch", str(log), "--format", "table"]
        + ["--from-start", "--poll", "0.1", "--tz", "UTC"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "expire.test" in out
    assert "Traceback" not in err


def test_follower_hands_a_long_file_on_in_bounded_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maillog_diag.input import follow

    monkeypatch.setattr(follow, "POLL_BYTES", 1000)
    log = tmp_path / "x.log"
    log.write_bytes(b"".join(b"line %04d\n" % i for i in range(500)))  # 5000 bytes
    follower = Follower(str(log), from_start=True)
    pieces = []
    while got := follower.poll():
        assert len(got) <= 101
        pieces += got
    assert pieces == [f"line {i:04d}" for i in range(500)]
    follower.close()


def test_a_directory_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maillog_diag", "watch", str(tmp_path), "--format", "jsonl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "directory" in proc.stderr
