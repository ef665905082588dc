"""Inputs for real use: compression by content (gzip, bzip2, xz, zstd), rotations read
oldest first as one stream (also over New Year), globs and directories, the journal, and
bad input that ends in one clear line with nothing read before the fault lost."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.errors import InputError
from maillog_diag.input.journal import journal_lines, looks_like_journal, record_line
from maillog_diag.input.sources import expand_inputs, read_lines, rotation_key
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import message_dict
from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .conftest import FIXTURES
from .test_bench_generator import gen_postfix

UTC_ZONE = resolve_zone("UTC")
JOURNAL = FIXTURES / "journal" / "postfix_small.journal.json"


def _bsd_time(line: str, year: int) -> float:
    stamp = line[:15]
    return datetime.strptime(f"{year} {stamp}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def _compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


WEEK_NAMES = [
    "mail.log.7.gz",
    "mail.log.6.zst",
    "mail.log.5.xz",
    "mail.log.4.bz2",
    "mail.log.3.gz",
    "mail.log.2.zst",
    "mail.log.1",
    "mail.log",
]  # oldest first: compressed (gzip, bzip2, xz, zstd), then the plain .1 and the live file


def _kind(name: str) -> str:
    return {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}.get(
        name.rsplit(".", 1)[-1], "plain"
    )


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A week of generated Postfix log over New Year (Dec 26 to Jan 2), as one plain file
    and as a logrotate set cut at midnight (mail.log, mail.log.1, then compressed ones),
    each file's modification time just after its last line (as logrotate leaves it), so
    that the year of yearless stamps comes from each file's own time."""
    base = tmp_path_factory.mktemp("week")
    buf = io.StringIO()
    gen = gen_postfix.Generator(seed=5, start="2026-12-26T12:00", rate=0.3, bots_per_hour=0.2)
    gen.run(175_000, buf)
    text = buf.getvalue()
    lines = text.splitlines(keepends=True)
    one = base / "one" / "mail.log"
    one.parent.mkdir()
    one.write_text(text)
    year, times = 2026, []
    for line in lines:
        if line.startswith("Jan") and year == 2026:
            year = 2027
        times.append(_bsd_time(line, year))
    midnights = [datetime(2026, 12, d, tzinfo=UTC).timestamp() for d in range(27, 32)]
    midnights += [datetime(2027, 1, d, tzinfo=UTC).timestamp() for d in range(1, 3)]
    cuts = [next(i for i, t in enumerate(times) if t >= m) for m in midnights if m < times[-1]]
    bounds = [0, *cuts, len(lines)]
    names = WEEK_NAMES[-(len(bounds) - 1) :]
    assert len(bounds) - 1 >= 7, "the generated log should cover a week"
    rot = base / "rot"
    rot.mkdir()
    for i, name in enumerate(names):
        chunk = "".join(lines[bounds[i] : bounds[i + 1]]).encode()
        path = rot / name
        path.write_bytes(_compress(_kind(name), chunk))
        last = times[bounds[i + 1] - 1]
        os.utime(path, (last + 5, last + 5))
    os.utime(one, (times[-1] + 5, times[-1] + 5))
    return one, rot


def _per_recipient(
    paths: list[str], keep_lines: bool = False
) -> tuple[list[tuple[Any, ...]], Any, list[Any]]:
    messages, result = collect_messages(paths, ScanOptions(zone=UTC_ZONE, keep_lines=keep_lines))
    rows = [
        (
            data["queue_id"],
            data["arrived"],
            r["address"],
            r["outcome"],
            r["deferrals"],
            r["final"],
            r["held_seconds"],
            [a["cause"] for a in r["attempts"]],
        )
        for data in (message_dict(msg, UTC_ZONE) for msg in messages)
        for r in data["recipients"]
    ]
    rows.sort(key=repr)
    return rows, result, messages


def test_rotated_week_equals_one_plain_file(week: tuple[Path, Path]) -> None:
    one, rot = week
    names = expand_inputs([str(rot / "mail.log")], rotated=True)
    assert [Path(n).name for n in names] == WEEK_NAMES[-len(names) :]
    assert {_kind(n) for n in names} == {"gzip", "bzip2", "xz", "zstd", "plain"}
    single, single_result, _ = _per_recipient([str(one)])
    rotated, rotated_result, messages = _per_recipient(names, keep_lines=True)
    assert not single_result.input_errors and not rotated_result.input_errors
    assert len(single) > 10_000
    assert rotated == single
    assert rotated_result.counts == single_result.counts
    # the week crosses New Year: the first stamps are in 2026, the last in 2027
    assert datetime.fromtimestamp(single_result.first_time or 0, UTC).year == 2026
    assert datetime.fromtimestamp(single_result.last_time or 0, UTC).year == 2027
    # messages start in one file and end in the next, and are still one message each
    spanning = [m for m in messages if len({ref.source for ref in m.lines}) > 1]
    assert len(spanning) > 10
    january = next(n for n in names if next(read_lines(n)[1]).startswith("Jan  1"))
    december = names[names.index(january) - 1]
    new_year = [m for m in spanning if {r.source for r in m.lines} >= {december, january}]
    assert new_year, f"a message should span the New Year cut ({december} -> {january})"
    assert all(r.outcome is not None for m in spanning for r in m.recipients.values())


def test_glob_and_directory_read_in_rotation_order(week: tuple[Path, Path]) -> None:
    _, rot = week
    by_glob = expand_inputs([str(rot / "mail.log*")])
    by_dir = expand_inputs([str(rot)])
    rotated = expand_inputs([str(rot / "mail.log")], rotated=True)
    assert by_glob == by_dir == rotated
    # naming a file twice reads it once
    assert expand_inputs([str(rot / "mail.log"), str(rot / "mail.log*")], rotated=True) == rotated


def test_rotation_order_with_date_suffixes(tmp_path: Path) -> None:
    for name in (
        "maillog",
        "maillog-20261128.gz",
        "maillog-20261127",
        "maillog-20261129.xz",
        "other.log",
    ):
        (tmp_path / name).write_text("")
    names = [Path(p).name for p in expand_inputs([str(tmp_path / "maillog")], rotated=True)]
    assert names == ["maillog-20261127", "maillog-20261128.gz", "maillog-20261129.xz", "maillog"]
    assert sorted(["a/mail.log", "a/mail.log.10", "a/mail.log.2.gz"], key=rotation_key) == [
        "a/mail.log.10",
        "a/mail.log.2.gz",
        "a/mail.log",
    ]


def test_cli_rotated_report_equals_plain(week: tuple[Path, Path]) -> None:
    one, rot = week
    runner = CliRunner()
    common = ["--tz", "UTC", "--format", "json"]
    plain = runner.invoke(app, ["report", str(one), *common])
    rotated = runner.invoke(app, ["report", str(rot / "mail.log"), "--rotated", *common])
    assert plain.exit_code == rotated.exit_code == 0, rotated.output
    a, b = json.loads(plain.stdout), json.loads(rotated.stdout)

    def strip(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in ("example_line",)}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    assert strip(a["destinations"]) == strip(b["destinations"])
    assert a["lines"] == b["lines"] and a["span"] == b["span"]


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_compressed_by_content_not_name(tmp_path: Path, kind: str) -> None:
    data = (FIXTURES / "postfix_small.log").read_bytes()
    path = tmp_path / "mail.log.weird-name"
    path.write_bytes(_compress(kind, data))
    _, lines = read_lines(str(path))
    assert "\n".join(lines) + "\n" == data.decode()


def test_zstd_with_several_frames(tmp_path: Path) -> None:
    cctx = zstandard.ZstdCompressor()
    path = tmp_path / "two-frames"
    path.write_bytes(cctx.compress(b"one\n") + cctx.compress(b"two\n"))
    assert list(read_lines(str(path))[1]) == ["one", "two"]


# ---------------------------------------------------------------------------
# the journal
# ---------------------------------------------------------------------------


def test_journal_capture_is_real_and_detected() -> None:
    head = JOURNAL.read_bytes()[:4096]
    assert looks_like_journal(head)
    records = [json.loads(line) for line in JOURNAL.read_text().splitlines()]
    # a real capture: journald's own fields, and a non-UTF-8 MESSAGE as a byte array
    assert all("__CURSOR" in r and "_BOOT_ID" in r for r in records)
    assert any(isinstance(r["MESSAGE"], list) for r in records)


def test_journal_records_become_syslog_lines() -> None:
    record = {
        "__REALTIME_TIMESTAMP": "1795954906762232",
        "_HOSTNAME": "mx1",
        "SYSLOG_IDENTIFIER": "postfix/smtp",
        "_PID": "123",
        "MESSAGE": list(b"4F2A31C02B9: caf\xe9"),
    }
    assert record_line(record) == (
        "2026-11-29T12:21:46.762232+00:00 mx1 postfix/smtp[123]: 4F2A31C02B9: caf\ufffd"
    )
    del record["_PID"]
    record["SYSLOG_PID"] = "7"
    record["MESSAGE"] = "two\nlines"
    assert record_line(record) == "2026-11-29T12:21:46.762232+00:00 mx1 postfix/smtp[7]: two lines"
    out = list(journal_lines(["not json", '{"MESSAGE": null}', "[1]"]))
    assert out[0] == "not json" and out[2] == "[1]"
    assert out[1].startswith("journal record without time or text")


def test_journal_capture_gives_the_same_messages_as_the_syslog_file() -> None:
    """The capture replays tests/fixtures/postfix_small.log through journald (time
    compressed 100 times, tools/lab/journald_capture.sh): same messages, recipients,
    outcomes and deferral counts; held times shrink by about the same factor."""
    syslog, _ = collect_messages(
        [str(FIXTURES / "postfix_small.log")], ScanOptions(zone=UTC_ZONE, year=2026)
    )
    journal, result = collect_messages([str(JOURNAL)], ScanOptions(zone=UTC_ZONE))

    def key(msgs: list[Any]) -> dict[str, Any]:
        return {
            m.queue_id: sorted((r.address, r.outcome, r.deferrals) for r in m.recipients.values())
            for m in msgs
            if m.queue_id != "9F9F9F9F9F"
        }

    assert key(journal) == key(syslog)
    assert result.counts.unparsed <= 1 + 1  # the fixture's own unparsed line (+ none)
    by_qid = {m.queue_id: m for m in journal}
    latin = by_qid["9F9F9F9F9F"].recipients["x@latin1.test"]
    assert "caf\ufffd" in (latin.attempts[0].reply or "")
    grey_syslog = next(m for m in syslog if "grey.example" in str(list(m.recipients)))
    grey_journal = by_qid[grey_syslog.queue_id]
    r_s = next(iter(grey_syslog.recipients.values()))
    r_j = grey_journal.recipients[r_s.address]
    assert r_s.final_time and grey_syslog.arrived and r_j.final_time and grey_journal.arrived
    held_s = r_s.final_time - grey_syslog.arrived
    held_j = r_j.final_time - grey_journal.arrived
    assert held_s / 100 * 0.7 < held_j < held_s / 100 * 1.5 + 2


def test_journal_from_a_pipe(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["report", "-", "--tz", "UTC", "--format", "json"], input=JOURNAL.read_bytes()
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {d["domain"] for d in data["destinations"]} >= {"down.example", "grey.example"}


def _fake_journalctl(tmp_path: Path, body: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "journalctl"
    exe.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\n{body}\n')
    exe.chmod(0o755)
    return bindir


def test_journal_option_runs_journalctl_with_mail_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = _fake_journalctl(tmp_path, f"cat {JOURNAL}")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("MAILLOG_DIAG_NOW", "2026-11-30T00:00:00+00:00")
    res = CliRunner().invoke(
        app, ["report", "--journal", "--tz", "UTC", "--format", "json", "--since", "2026-11-29"]
    )
    assert res.exit_code == 0, res.output
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["-o", "json", "--no-pager"]
    assert "SYSLOG_FACILITY=2" in args and "+" in args
    # --since is passed on, with a look-back for mail that arrived earlier
    since = next(a for a in args if a.startswith("--since=@"))
    assert int(since.split("@")[1]) < datetime(2026, 11, 29, tzinfo=UTC).timestamp()
    assert json.loads(res.stdout)["destinations"]


def test_journal_option_without_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    res = CliRunner().invoke(app, ["report", "--journal"])
    assert res.exit_code == 3
    assert (
        res.stderr.strip()
        == "maillog-diag: --journal: journalctl is not installed (or not on PATH)"
    )


def test_journal_option_when_journalctl_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = _fake_journalctl(
        tmp_path, "echo 'Failed to open journal: Permission denied' >&2; exit 1"
    )
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    res = CliRunner().invoke(app, ["report", "--journal"])
    assert res.exit_code == 3
    assert "journalctl failed: Failed to open journal: Permission denied" in res.stderr


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = (FIXTURES / "postfix_small.log").read_bytes() * 400  # 8400 lines, 800 kB
    packed = gzip.compress(data)
    bad = tmp_path / "mail.log.2.gz"
    bad.write_bytes(packed[: len(packed) - 12])  # cut the trailer and the last block
    res = CliRunner().invoke(
        app, ["report", str(bad), "--tz", "UTC", "--year", "2026", "--format", "json"]
    )
    assert res.exit_code == 3
    err = res.stderr.strip().splitlines()  # (the fixture's unparsed line sample first)
    assert err[-1].startswith(f"maillog-diag: {bad}: read failed:")
    assert sum("read failed" in line for line in err) == 1
    data_out = json.loads(res.stdout)
    assert 8000 < data_out["lines"]["total"] < 8400  # the lines before the fault are kept
    assert data_out["destinations"]


def test_directory_without_logs(tmp_path: Path) -> None:
    (tmp_path / "syslog").write_text("x\n")
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 3
    assert res.stderr.strip() == (
        f"maillog-diag: {tmp_path}: no mail log in this directory "
        "(looked for mail.log, maillog, mainlog, mail)"
    )
    assert res.stdout == ""


def test_glob_without_match(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nothing*.log")])
    assert res.exit_code == 3
    assert "no file matches this pattern" in res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    path.write_text("x\n")
    path.chmod(0)
    res = CliRunner().invoke(app, ["report", str(path)])
    assert res.exit_code == 3
    assert res.stderr.strip() == f"maillog-diag: {path}: permission denied"


def test_unreadable_file_mapped_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root reads every file, so the permission error is simulated at open()."""
    path = tmp_path / "mail.log"
    path.write_text("x\n")
    real_open = open

    def fake_open(name: Any, *args: Any, **kwargs: Any) -> Any:
        if str(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(InputError, match="permission denied"):
        read_lines(str(path))
    assert stat.S_ISREG(path.stat().st_mode)


def test_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 40)
    res = CliRunner().invoke(app, ["report", str(path)])
    assert res.exit_code == 3
    assert (
        res.stderr.strip().splitlines()[-1]
        == "maillog-diag: no line of the input could be read as an MTA log"
    )


def test_good_file_then_junk_keeps_the_good_one(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(FIXTURES / "postfix_small.log"),
            str(junk),
            "--tz",
            "UTC",
            "--year",
            "2026",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 3
    assert json.loads(res.stdout)["lines"]["total"] == 21
    assert res.stderr.splitlines()[-1].startswith(f"maillog-diag: {junk}: read failed: ")
