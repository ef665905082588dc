"""`--state FILE`: runs that continue where the last one stopped.

The contract: two `--state` runs over the two halves of a log (cut anywhere, also in the
middle of a deferred message's life) give the JSON report of one run over the whole log,
also when the log was rotated in between (renamed, renamed and compressed, copytruncate).
What cannot be recovered is said; a bad state file is one line on stderr; the state is
written atomically, under a lock, only after a good run, and stays small.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import SAMPLE_LOGS
from .test_bench_generator import gen_postfix

COMMON = ["--tz", "UTC", "--year", "2026"]
ENV = {"MAILLOG_DIAG_NOW": "2026-11-29T15:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
NOT_COMPARED = ("max_open_messages",)
"""Fields that describe how a scan ran, not what the log says (as in test_engine_equality)."""

SAMPLES = [
    SAMPLE_LOGS / "postfix" / "mail.log",
    SAMPLE_LOGS / "postfix" / "mail.log.rfc3339",
    SAMPLE_LOGS / "exim" / "mainlog",
    SAMPLE_LOGS / "sendmail" / "maillog",
    SAMPLE_LOGS / "opensmtpd" / "maillog",
]


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [*args, *COMMON], env={**ENV, **(env or {})})


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in NOT_COMPARED}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def _report(*args: str, code: int = 0) -> Any:
    res = _invoke("report", *args, "--all", "--reasons", "5", "--format", "json")
    assert res.exit_code == code, res.output
    return _strip(json.loads(res.stdout))


def _lines(sample: Path) -> list[str]:
    return sample.read_text(encoding="utf-8").splitlines(keepends=True)


def _deferred_cut(lines: list[str]) -> int:
    """A cut just after the first deferral of a message that is delivered, bounced or
    expired later: the message's life straddles it."""
    for i, line in enumerate(lines):
        if "deferred" in line or "Deferred" in line or " == " in line or "TempFail" in line:
            return i + 1
    return len(lines) // 2


def _state_data(path: Path) -> dict[str, Any]:
    with gzip.open(path) as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch directory, naming the log `mail.log` (relative, as labels go)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _full(here: Path, lines: list[str], *extra: str) -> Any:
    """The one-run report of the whole log, written where the state's log was (after the
    state runs): a state names its inputs by absolute path, and so does this run."""
    (here / "mail.log").write_text("".join(lines), encoding="utf-8")
    return _report(os.path.abspath("mail.log"), *extra)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}-{p.name}")
@pytest.mark.parametrize("where", ["deferred", "third", "half", "last"])
def test_two_runs_over_two_halves_equal_one_run(here: Path, sample: Path, where: str) -> None:
    lines = _lines(sample)
    cut = {
        "deferred": _deferred_cut(lines),
        "third": len(lines) // 3,
        "half": len(lines) // 2,
        "last": len(lines) - 1,
    }[where]
    log = here / "mail.log"
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[cut:]))
    two = _report("mail.log", "--state", "s.state")
    assert two["lines"]["total"] == len(lines)
    assert two == _full(here, lines)


def test_three_runs_with_a_half_written_line_equal_one_run(here: Path) -> None:
    """A last line without its newline (still being written) is read by the next run."""
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    text = "".join(lines)
    log = here / "mail.log"
    cuts = [len("".join(lines[:100])) + 17, len("".join(lines[:400])) + 5, len(text)]
    done = 0
    for at in cuts:
        with log.open("a", encoding="utf-8") as f:
            f.write(text[done:at])
        done = at
        last = _report("mail.log", "--state", "s.state")
    assert last == _full(here, lines)


def _rotation_case(here: Path, rotate: str) -> tuple[Any, list[str]]:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    cut = _deferred_cut(lines) + 40
    log = here / "mail.log"
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    # lines written after the first run and before the rotation
    more = cut + 25
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[cut:more]))
    if rotate == "rename":
        log.rename(here / "mail.log.1")
    elif rotate == "gzip":
        with log.open("rb") as src, gzip.open(here / "mail.log.1.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        log.unlink()
    elif rotate == "dated":
        log.rename(here / "mail.log-20261129")
    elif rotate == "copytruncate":
        shutil.copyfile(log, here / "mail.log.1")
        with log.open("r+b") as f:
            f.truncate(0)
    elif rotate == "gone":
        log.unlink()
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[more:]))
    res = _invoke(
        "report", "mail.log", "--state", "s.state", "--all", "--reasons", "5", "-f", "json"
    )
    return res, lines


@pytest.mark.parametrize("rotate", ["rename", "gzip", "dated", "copytruncate"])
def test_rotation_between_runs_loses_nothing(here: Path, rotate: str) -> None:
    res, lines = _rotation_case(here, rotate)
    assert res.exit_code == 0, res.output
    assert _strip(json.loads(res.stdout)) == _full(here, lines)


def test_rotated_copy_gone_is_counted_and_said(here: Path) -> None:
    res, lines = _rotation_case(here, "gone")
    assert res.exit_code == 3  # part of the input could not be read (README: exit codes)
    assert "lost" in res.stderr and "mail.log" in res.stderr
    assert "Traceback" not in res.output
    got = _strip(json.loads(res.stdout))
    assert _state_data(here / "s.state")["lost"] == 1
    # the loss is said once: the next run continues from the new file
    again = _invoke("report", "mail.log", "--state", "s.state", "-f", "json")
    assert again.exit_code == 0, again.output
    assert "lost" not in again.stderr
    assert _state_data(here / "s.state")["lost"] == 1
    assert got["lines"]["total"] == _full(here, lines)["lines"]["total"] - 25  # unread


def test_the_second_run_reads_only_the_new_lines(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    log.write_text("".join(lines[:500]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    first = _state_data(here / "s.state")
    assert first["last_run"]["lines"] == 500
    tail = "".join(lines[500:530])
    with log.open("a", encoding="utf-8") as f:
        f.write(tail)
    _report("mail.log", "--state", "s.state")
    second = _state_data(here / "s.state")
    assert second["last_run"] == {"lines": 30, "bytes": len(tail.encode())}
    assert second["inputs"][0]["position"]["offset"] == log.stat().st_size
    _report("mail.log", "--state", "s.state")  # nothing new: nothing read
    assert _state_data(here / "s.state")["last_run"] == {"lines": 0, "bytes": 0}


@pytest.mark.parametrize(
    "content",
    [
        b"not a state at all\n",
        b"\x1f\x8b\x08\x00garbage",
        gzip.compress(b'{"format": "maillog-diag-state", "version": 1, "scan": {"@": "Nope"}}'),
        gzip.compress(b'{"format": "something-else", "version": 1}'),
        gzip.compress(b'{"format": "maillog-diag-state", "version": 99}'),
        b'{"format": "maillog-diag-state", "version": 1, "settings": {}',
    ],
    ids=["text", "bad-gzip", "bad-record", "foreign", "newer", "cut-json"],
)
def test_a_bad_state_file_is_one_line(here: Path, content: bytes) -> None:
    (here / "mail.log").write_bytes((SAMPLE_LOGS / "postfix" / "mail.log").read_bytes())
    (here / "s.state").write_bytes(content)
    res = _invoke("report", "mail.log", "--state", "s.state")
    assert res.exit_code == 3
    assert "Traceback" not in res.output
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("maillog-diag: state s.state: "), err
    if content.endswith(b"99}"):
        assert "newer" in err[0]
    assert (here / "s.state").read_bytes() == content  # left alone
    # --state-reset starts over
    again = _invoke("report", "mail.log", "--state", "s.state", "--state-reset", "-f", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["lines"]["total"] == len(
        _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    )
    assert _state_data(here / "s.state")["format"] == "maillog-diag-state"


def test_a_summary_file_is_not_a_state(here: Path) -> None:
    (here / "mail.log").write_bytes((SAMPLE_LOGS / "postfix" / "mail.log").read_bytes())
    res = _invoke("summarize", "mail.log", "-o", "s.summary.gz")
    assert res.exit_code == 0
    res = _invoke("report", "mail.log", "--state", "s.summary.gz")
    assert res.exit_code == 3
    assert res.stderr.strip() == "maillog-diag: state s.summary.gz: not a maillog-diag state file"


def test_state_reset_starts_over_and_other_settings_are_refused(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    (here / "mail.log").write_text("".join(lines), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    res = CliRunner().invoke(
        app, ["report", "mail.log", "--state", "s.state", "--tz", "Europe/Berlin"], env=ENV
    )
    assert res.exit_code == 2
    assert "--tz" in res.stderr and "--state-reset" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = _invoke("report", "mail.log", "--state", "s.state", "--by", "sender")
    assert res.exit_code == 2 and "--by" in res.stderr
    # reset: the whole log again, once (not added to what the state held)
    again = _report("mail.log", "--state", "s.state", "--state-reset")
    assert again == _full(here, lines)


def test_the_state_is_not_written_when_the_run_fails(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    log.write_text("".join(lines[:300]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    before = (here / "s.state").read_bytes()
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[300:500]))
    # rotated and compressed, but the compressed copy is cut short: its rest cannot be read
    packed = gzip.compress(log.read_bytes())
    (here / "mail.log.1.gz").write_bytes(packed[: len(packed) // 2])
    log.write_text("".join(lines[500:]), encoding="utf-8")
    res = _invoke("report", "mail.log", "--state", "s.state")
    assert res.exit_code == 3 and "Traceback" not in res.output
    assert "mail.log.1.gz" in res.stderr
    assert (here / "s.state").read_bytes() == before
    # once the copy is whole, the run reads it and everything after, once
    (here / "mail.log.1.gz").write_bytes(packed)
    assert _report("mail.log", "--state", "s.state") == _full(here, lines)
    # a log of no MTA at all: nothing could be read, nothing is saved
    (here / "junk.log").write_text("hello\nworld\n" * 50)
    res = _invoke("report", "junk.log", "--state", "j.state")
    assert res.exit_code == 3
    assert not (here / "j.state").exists()
    # a missing file
    res = _invoke("report", "missing.log", "--state", "m.state")
    assert res.exit_code == 3 and not (here / "m.state").exists()


def test_the_state_is_replaced_atomically_mode_0600(here: Path) -> None:
    (here / "mail.log").write_bytes((SAMPLE_LOGS / "postfix" / "mail.log").read_bytes())
    os.umask(0o022)
    _report("mail.log", "--state", "s.state")
    inode = (here / "s.state").stat().st_ino
    _report("mail.log", "--state", "s.state")
    st = (here / "s.state").stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert sorted(p.name for p in here.iterdir() if p.is_file()) == [
        "mail.log",
        "s.state",
        "s.state.lock",
    ]


def test_a_run_holding_the_lock_makes_the_next_wait_then_fail(here: Path) -> None:
    (here / "mail.log").write_bytes((SAMPLE_LOGS / "postfix" / "mail.log").read_bytes())
    fd = os.open(here / "s.state.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        res = _invoke(
            "report", "mail.log", "--state", "s.state", env={"MAILLOG_DIAG_STATE_WAIT": "0.5"}
        )
        waited = time.monotonic() - started
    finally:
        os.close(fd)
    assert res.exit_code == 3
    assert 0.5 <= waited < 10
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "holds its lock" in err[0], err
    assert not (here / "s.state").exists()
    # once released, a run goes through
    assert _invoke("report", "mail.log", "--state", "s.state").exit_code == 0


def test_the_state_holds_the_mail_in_flight_not_the_lines(here: Path) -> None:
    """Its size follows the destinations and the open mail, not the log's length; no
    line text is kept."""
    import io

    buf = io.StringIO()
    gen_postfix.Generator(seed=5).run(12_000, buf)
    lines = buf.getvalue().splitlines(keepends=True)
    log = here / "mail.log"
    log.write_text("".join(lines[:6000]))
    _report("mail.log", "--state", "s.state")
    half = (here / "s.state").stat().st_size
    with log.open("a") as f:
        f.write("".join(lines[6000:]))
    _report("mail.log", "--state", "s.state")
    whole = (here / "s.state").stat().st_size
    assert whole < 1.6 * half  # twice the lines, not twice the state
    text = gzip.decompress((here / "s.state").read_bytes()).decode()
    used = [line.rstrip("\n") for line in lines if "status=" in line]
    assert not any(line in text for line in used[::50])


def _counters(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        if family.type != "counter":
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_counters_stay_monotonic_across_state_runs(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    previous: dict[Any, float] = {}
    done = 0
    for cut in (200, 450, len(lines)):
        with log.open("a", encoding="utf-8") as f:
            f.write("".join(lines[done:cut]))
        done = cut
        res = _invoke("metrics", "mail.log", "--state", "s.state", "--top-destinations", "100")
        assert res.exit_code == 0, res.output
        now = _counters(res.stdout)
        assert now
        for key, value in previous.items():
            assert now.get(key, 0.0) >= value, key
        previous = now
    full = _invoke("metrics", os.path.abspath("mail.log"), "--top-destinations", "100")
    assert _counters(full.stdout) == previous


def test_a_window_after_the_last_run_equals_the_one_run_window(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    cut = len(lines) // 2
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    end = _state_data(here / "s.state")["scan"]["end_time"]
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[cut:]))
    since = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(end + 1))
    res = _invoke(
        "report",
        "mail.log",
        "--state",
        "s.state",
        "--since",
        since,
        "--all",
        "--reasons",
        "5",
        "-f",
        "json",
    )
    assert res.exit_code == 0, res.output
    assert "window starts" not in res.stderr
    windowed = _strip(json.loads(res.stdout))
    assert windowed == _full(here, lines, "--since", since)
    whole = _full(here, lines)
    assert windowed["totals"] != whole["totals"]  # the window did narrow it
    # the state itself kept everything: a run without a window is the whole log
    assert _report("mail.log", "--state", "s.state") == whole


def test_a_window_reaching_before_the_state_is_said(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    log.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[len(lines) // 2 :]))
    res = _invoke("report", "mail.log", "--state", "s.state", "--since", "2026-11-29")
    assert res.exit_code == 0, res.output
    assert "the state keeps the mail that left the queue only from" in res.stderr


def test_check_with_a_state_gives_what_check_without_one_gives(here: Path) -> None:
    """check's window (the last hour) reaches before the last run: the mail finished in
    it comes from the messages the state kept."""
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    log.write_text("".join(lines[:400]), encoding="utf-8")
    env = {"MAILLOG_DIAG_NOW": "2026-11-29T13:50:00+00:00"}
    first = _invoke("check", "mail.log", "--state", "s.state", "--scope", "total", env=env)
    assert first.stdout.startswith("MAILLOG "), first.output
    assert _state_data(here / "s.state")["recent"]
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[400:]))
    second = _invoke("check", "mail.log", "--state", "s.state", "--scope", "total", env=env)
    plain = _invoke("check", os.path.abspath("mail.log"), "--scope", "total", env=env)
    assert "deferral" in plain.stdout
    assert second.stdout == plain.stdout
    assert second.exit_code == plain.exit_code
    assert "window starts" not in second.stderr


@pytest.mark.parametrize("sample", SAMPLES[::2], ids=lambda p: f"{p.parent.name}-{p.name}")
def test_windows_reaching_into_earlier_runs_equal_the_one_run_window(
    here: Path, sample: Path
) -> None:
    """A moving window (each run's starts later, before the last run's end) gives what one
    run over the whole log gives for that window."""
    lines = _lines(sample)
    stamps = _report_of(here, lines)["span"]
    start = _t(stamps["start"])
    end = _t(stamps["end"])
    first_since = _iso(start + (end - start) * 0.2)
    second_since = _iso(start + (end - start) * 0.4)
    log = here / "mail.log"
    cut = 3 * len(lines) // 5
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    _report("mail.log", "--state", "s.state", "--since", first_since)
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[cut:]))
    res = _invoke(
        "report",
        "mail.log",
        "--state",
        "s.state",
        "--since",
        second_since,
        "--all",
        "--reasons",
        "5",
        "-f",
        "json",
    )
    assert res.exit_code == 0, res.output
    assert "window starts" not in res.stderr
    assert _strip(json.loads(res.stdout)) == _full(here, lines, "--since", second_since)


def _report_of(here: Path, lines: list[str]) -> Any:
    return _full(here, lines)


def _t(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


def test_stale_log_warning_with_a_state(here: Path) -> None:
    (here / "mail.log").write_bytes((SAMPLE_LOGS / "postfix" / "mail.log").read_bytes())
    env = {"MAILLOG_DIAG_NOW": "2026-12-10T00:00:00+00:00"}
    res = _invoke("daily", "mail.log", "--state", "s.state", env=env)
    assert "is the MTA still logging?" in res.stderr
    res = _invoke("daily", "mail.log", "--state", "s.state", env=env)
    assert "is the MTA still logging?" in res.stderr


FAKE_JOURNALCTL = """#!{python}
import json, sys
args = sys.argv[1:]
with open({args!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
after = next((a.split("=", 1)[1] for a in args if a.startswith("--after-cursor=")), None)
last = None
seen = after is None
for line in open({records!r}):
    cursor = json.loads(line)["__CURSOR"]
    if seen:
        sys.stdout.write(line)
        last = cursor
    elif cursor == after:
        seen = True
if "--show-cursor" in args and last is not None:
    print("-- cursor: " + last)
"""


def test_the_journal_continues_from_its_cursor(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = SAMPLE_LOGS.parent / "tests" / "fixtures" / "journal" / "postfix_small.journal.json"
    lines = records.read_text().splitlines(keepends=True)
    source = here / "records.json"
    bindir = here / "bin"
    bindir.mkdir()
    exe = bindir / "journalctl"
    exe.write_text(
        FAKE_JOURNALCTL.format(
            python=shutil.which("python3") or "/usr/bin/python3",
            args=str(here / "args"),
            records=str(source),
        )
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cut = len(lines) // 2
    source.write_text("".join(lines[:cut]))
    _report("--journal", "--state", "s.state")
    source.write_text("".join(lines))  # the journal grew
    two = _report("--journal", "--state", "s.state")
    calls = (here / "args").read_text().splitlines()
    assert "--after-cursor=" not in calls[0] and "--show-cursor" in calls[0]
    cursor = json.loads(lines[cut - 1])["__CURSOR"]
    assert f"--after-cursor={cursor}" in calls[1].split()
    assert _state_data(here / "s.state")["last_run"]["lines"] == len(lines) - cut
    (here / "args").unlink()
    assert two == _report("--journal")


def test_a_first_run_in_several_processes_continues_alike(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log read from its start with --jobs is cut into byte ranges (as without a state);
    the state it leaves continues exactly."""
    from maillog_diag.scan import pipeline, state

    calls: list[int] = []
    real = state.run_tasks

    def counting(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(state, "MIN_SLICE_BYTES", 4096)
    monkeypatch.setattr(pipeline, "JOB_MIN_BYTES", 4096)
    monkeypatch.setattr(state, "run_tasks", counting)
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    cut = 2 * len(lines) // 3
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    _report("mail.log", "--state", "s.state", "--jobs", "2")
    assert calls
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[cut:]))
    assert _report("mail.log", "--state", "s.state", "--jobs", "2") == _full(here, lines)


def test_the_same_log_named_otherwise_continues_the_same_input(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`./mail.log`, or `mail.log` from another directory, is the input the state knows
    (by absolute path): nothing is read twice."""
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    log = here / "mail.log"
    log.write_text("".join(lines[:300]), encoding="utf-8")
    _report("mail.log", "--state", "s.state")
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[300:]))
    (here / "sub").mkdir()
    monkeypatch.chdir(here / "sub")
    two = _report("../mail.log", "--state", "../s.state")
    assert _state_data(here / "s.state")["last_run"]["lines"] == len(lines) - 300
    monkeypatch.chdir(here)
    assert two == _full(here, lines)


def test_daily_with_a_state_reads_the_rotations_once_then_only_what_is_new(
    here: Path,
) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    env = {"MAILLOG_DIAG_NOW": "2026-11-30T06:30:00+00:00"}
    (here / "mail.log.1").write_text("".join(lines[:300]), encoding="utf-8")
    log = here / "mail.log"
    log.write_text("".join(lines[300:500]), encoding="utf-8")
    first = _invoke("daily", "mail.log", "--state", "s.state", "-f", "json", env=env)
    assert first.exit_code == 0, first.output
    assert _state_data(here / "s.state")["last_run"]["lines"] == 500
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(lines[500:]))
    second = _invoke("daily", "mail.log", "--state", "s.state", "-f", "json", env=env)
    assert second.exit_code == 0, second.output
    assert _state_data(here / "s.state")["last_run"]["lines"] == len(lines) - 500
    plain = _invoke("daily", os.path.abspath("mail.log"), "-f", "json", env=env)
    assert json.loads(plain.stdout)["lines"]["total"] == len(lines)
    assert _strip(json.loads(second.stdout)) == _strip(json.loads(plain.stdout))


def test_unparsed_lines_are_written_once_with_a_window(here: Path) -> None:
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    (here / "mail.log").write_text("".join(lines) + "this is no log line\n", encoding="utf-8")
    res = _invoke(
        "report",
        "mail.log",
        "--state",
        "s.state",
        "--since",
        "2026-11-29",
        "--unparsed",
        "bad.txt",
    )
    assert res.exit_code == 0, res.output
    assert (here / "bad.txt").read_text().count("this is no log line") == 1
