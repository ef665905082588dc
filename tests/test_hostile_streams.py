"""Streams (issue 10): cut compressed files, text that looks compressed, line ends,
over-long lines, and an empty `trace` query."""

from __future__ import annotations

import bz2
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.sources import read_lines
from tests.hostile import ROOT

SAMPLE = ROOT / "sample_logs" / "postfix" / "mail.log"
COMMON = ["--tz", "UTC", "--year", "2026", "--jobs", "1"]


def _stats(path: Path, env: dict[str, str] | None = None) -> tuple[int, dict | None, str]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["stats", str(path), *COMMON[:4]], env=env)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    return result.exit_code, data, result.stderr


def test_a_cut_zstd_file_keeps_what_was_read_and_exits_3(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    cctx = zstandard.ZstdCompressor()
    half = data[: len(data) // 2]
    half = half[: half.rindex(b"\n") + 1]
    frames = cctx.compress(half) + cctx.compress(data[len(half) :])
    cut = tmp_path / "mail.log.1.zst"
    cut.write_bytes(frames[:-20])
    code, stats, stderr = _stats(cut)
    assert code == 3
    assert stats is not None and stats["lines"]["total"] >= half.count(b"\n")
    assert stderr.strip().splitlines()[-1].startswith(f"maillog-diag: {cut}: read failed")
    whole = tmp_path / "mail.log.2.zst"
    whole.write_bytes(frames)
    code, stats, _ = _stats(whole)
    assert code == 0 and stats is not None
    assert stats["lines"]["total"] == data.count(b"\n")


def test_a_cut_bz2_file_keeps_its_complete_blocks(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes() * 20  # several 100 kB blocks
    packed = bz2.compress(data, compresslevel=1)
    cut = tmp_path / "mail.log.1.bz2"
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    code, stats, stderr = _stats(cut)
    assert code == 3
    assert stats is not None and stats["lines"]["total"] >= 100_000 // 120
    assert f"{cut}: read failed" in stderr


def test_text_that_starts_like_bzip2_is_read_as_text(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(b"BZh9 not compressed\n" + SAMPLE.read_bytes())
    code, stats, _ = _stats(log)
    assert code == 0 and stats is not None
    assert stats["lines"]["total"] == SAMPLE.read_bytes().count(b"\n") + 1


def test_a_lone_cr_does_not_split_a_line(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    text = SAMPLE.read_bytes()
    first, rest = text.split(b"\n", 1)
    log.write_bytes(first.replace(b": ", b":\r ", 1) + b"\r\n" + rest)
    _, lines = read_lines(str(log))
    got = list(lines)
    assert len(got) == text.count(b"\n")
    assert "\r" in got[0] and not got[0].endswith("\r")


def test_an_over_long_line_is_unparsed_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(SAMPLE.read_bytes() + b"x" * 300_000 + b"\n" + SAMPLE.read_bytes())
    code, stats, stderr = _stats(log, env={"MAILLOG_DIAG_MAX_LINE": "65536"})
    assert stats is not None
    n = SAMPLE.read_bytes().count(b"\n")
    assert stats["lines"]["total"] == 2 * n + 1
    assert stats["lines"]["unparsed"] == 1
    assert "longer than the limit" in stderr
    assert code == 0


def test_input_without_newlines_costs_bounded_memory(tmp_path: Path) -> None:
    """8 MB without a newline, with a 64 KiB cap: the reader never holds the line."""
    blob = tmp_path / "zero"
    blob.write_bytes(b"\0" * (8 * 1024 * 1024))
    script = (
        "import resource, sys; from maillog_diag.input.sources import read_lines\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "_, lines = read_lines(sys.argv[1], 65536)\n"
        "n = sum(1 for _ in lines)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(n, after - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(blob)], capture_output=True, text=True, timeout=120
    )
    n, grown_kb = map(int, out.stdout.split())
    assert n == 1
    assert grown_kb < 4 * 1024, grown_kb  # far below the 8 MB of the line
    assert resource  # imported for the child's measurement
    assert os.path.getsize(blob) == 8 * 1024 * 1024


@pytest.mark.parametrize("query", ["", " ", "<>"])
def test_an_empty_trace_query_is_a_usage_error(query: str) -> None:
    result = CliRunner().invoke(app, ["trace", query, str(SAMPLE), *COMMON[:4]])
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_output_to_a_closed_pipe_follows_the_sigpipe_convention(tmp_path: Path) -> None:
    import signal

    log = tmp_path / "mail.log"
    log.write_bytes(SAMPLE.read_bytes() * 4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_diag", "messages", str(log), *COMMON[:4]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == -signal.SIGPIPE
    assert err == b""


@pytest.mark.parametrize("kind", ["gzip", "xz"])
def test_a_cut_gzip_or_xz_file_keeps_what_was_read_and_exits_3(kind: str, tmp_path: Path) -> None:
    import gzip
    import lzma

    data = SAMPLE.read_bytes() * 10
    packed = gzip.compress(data) if kind == "gzip" else lzma.compress(data)
    cut = tmp_path / f"mail.log.1.{kind}"
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    code, stats, stderr = _stats(cut)
    assert code == 3
    assert stats is not None and stats["lines"]["total"] > 0
    assert f"{cut}: read failed" in stderr
