"""The terminal tables in a real pseudo-terminal (issue 11): at 80, 100, 120 and 200
columns, with and without colour, no cell is cut (no `…`), no line is wider than the
terminal, and every destination, queue id and address is shown whole."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from .conftest import FIXTURES, SAMPLE_LOGS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
WIDTHS = (80, 100, 120, 200)
COLOUR = {
    "no-color": {"NO_COLOR": "1"},
    "dumb": {"TERM": "dumb"},
    "force-color": {"FORCE_COLOR": "1", "TERM": "xterm-256color"},
}
COMMON = ["--tz", "UTC", "--year", "2026"]
LOGS = {
    "postfix": SAMPLE_LOGS / "postfix" / "mail.log",
    "exim": SAMPLE_LOGS / "exim" / "mainlog",
    "sendmail": SAMPLE_LOGS / "sendmail" / "maillog",
    "opensmtpd": SAMPLE_LOGS / "opensmtpd" / "maillog",
}


def run_in_pty(
    args: list[str], columns: int, env_extra: dict[str, str], *, raw: bool = False
) -> str:
    """Run `maillog-diag args` with a pseudo-terminal of `columns` columns as its
    stdout (so it sees a terminal) and return what it wrote, escapes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.pop("FORCE_COLOR", None)
    env.update({"TERM": "xterm", "MAILLOG_DIAG_CONFIG": "", **env_extra})
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_diag", *args],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return text if raw else ANSI.sub("", text)


def _json(args: list[str]) -> object:
    res = subprocess.run(
        [sys.executable, "-m", "maillog_diag", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MAILLOG_DIAG_CONFIG": ""},
    )
    return json.loads(res.stdout)


def _fits(out: str, columns: int) -> None:
    assert "…" not in out
    for line in out.splitlines():
        assert len(line) <= columns, (columns, line)


CASES = [("postfix", colour, columns) for colour in sorted(COLOUR) for columns in WIDTHS] + [
    (mta, colour, columns)
    for mta in ("exim", "sendmail", "opensmtpd")
    for colour, columns in (("no-color", 80), ("force-color", 100), ("dumb", 120))
]
_REPORTS: dict[str, object] = {}


@pytest.mark.parametrize(("mta", "colour", "columns"), CASES)
def test_report_table_cuts_no_cell(mta: str, colour: str, columns: int) -> None:
    log = str(LOGS[mta])
    out = run_in_pty(["report", log, *COMMON, "--format", "table"], columns, COLOUR[colour])
    _fits(out, columns)
    if mta not in _REPORTS:
        _REPORTS[mta] = _json(["report", log, *COMMON, "--format", "json"])
    data = _REPORTS[mta]
    assert isinstance(data, dict) and data["destinations"]
    words = set(out.split())
    for d in data["destinations"]:
        assert d["domain"] in words, d["domain"]
        if d["causes"]:
            assert d["causes"][0]["cause"] in out


def _long_names(tmp_path: Path) -> Path:
    """The small fixture with destinations and addresses too long for any column."""
    text = (FIXTURES / "postfix_small.log").read_text()
    long_domain = "a-very-long-subdomain.of-a-destination-domain-name.example"
    log = tmp_path / "mail.log"
    log.write_text(text.replace("down.example", long_domain))
    return log


@pytest.mark.parametrize("columns", (80, 120))
def test_messages_table_shows_whole_queue_ids(tmp_path: Path, columns: int) -> None:
    log = str(_long_names(tmp_path))
    out = run_in_pty(["messages", log, *COMMON, "--format", "table"], columns, COLOUR["no-color"])
    _fits(out, columns)
    messages = _json(["messages", log, *COMMON, "--format", "json"])
    assert isinstance(messages, list) and messages
    words = set(out.split())
    for m in messages:
        assert m["queue_id"] in words, m["queue_id"]
        for r in m["recipients"]:
            assert r["address"] in words, r["address"]


@pytest.mark.parametrize(("colour", "columns"), [("no-color", 80), ("force-color", 100)])
def test_trace_table_fits(tmp_path: Path, colour: str, columns: int) -> None:
    log = str(_long_names(tmp_path))
    query = "ops@a-very-long-subdomain.of-a-destination-domain-name.example"
    out = run_in_pty(["trace", query, log, *COMMON, "--format", "table"], columns, COLOUR[colour])
    # the log lines quoted under the table are the log's own: only the table must fit
    table = out.split("\n" + str(log))[0]
    _fits(table, columns)
    assert query in set(table.split())
    assert "5B2C3D4E5F" in table and "connection" in table


def test_long_destination_takes_a_line_of_its_own(tmp_path: Path) -> None:
    log = str(_long_names(tmp_path))
    out = run_in_pty(["report", log, *COMMON, "--format", "table"], 80, COLOUR["no-color"])
    _fits(out, 80)
    lines = out.splitlines()
    i = lines.index("a-very-long-subdomain.of-a-destination-domain-name.example")
    assert re.match(r"^\s+\d", lines[i + 1])  # its numbers follow on the next line


def test_wide_terminal_shows_long_heads_and_the_cause_on_the_row() -> None:
    log = str(LOGS["postfix"])
    wide = run_in_pty(["report", log, *COMMON, "--format", "table"], 200, COLOUR["no-color"])
    narrow = run_in_pty(["report", log, *COMMON, "--format", "table"], 80, COLOUR["no-color"])
    assert "Deferrals" in wide and "Leading cause" in wide
    assert "Defer " in narrow and "Delay: recipients deferred at least once" in narrow
    row = next(line for line in wide.splitlines() if line.startswith("greylist.test "))
    assert "greylisting" in row
    assert any(line.strip().startswith("cause: greylisting") for line in narrow.splitlines())


def test_colour_is_used_only_when_allowed() -> None:
    log = str(LOGS["postfix"])
    args = ["report", log, *COMMON, "--format", "table"]
    coloured = run_in_pty(args, 100, COLOUR["force-color"], raw=True)
    assert "\x1b[" in coloured
    for plain_env in ("no-color", "dumb"):
        assert "\x1b[" not in run_in_pty(args, 100, COLOUR[plain_env], raw=True), plain_env
