"""The benchmark's log generator (tools/bench/gen_postfix.py): deterministic, well ordered,
consistent, and with the line mix the benchmark claims.  Fast: a few 20k-line logs."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT

LINES = 20_000
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
QID_SHORT = re.compile(r"^[0-9A-F]{6,12}$")
QID_LONG = re.compile(
    r"^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+$"
)


def _load() -> ModuleType:
    path = ROOT / "tools" / "bench" / "gen_postfix.py"
    spec = importlib.util.spec_from_file_location("gen_postfix", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_postfix"] = module
    spec.loader.exec_module(module)
    return module


gen_postfix = _load()


def write_generated(path: Path, seed: int, lines: int) -> Path:
    """`lines` lines of the generator's log with this seed, written to `path` (returned)."""
    buf = io.StringIO()
    gen_postfix.Generator(seed=seed).run(lines, buf)
    path.write_text(buf.getvalue())
    return path


@cache
def generate(lines: int = LINES, **options: object) -> str:
    buf = io.StringIO()
    written = gen_postfix.Generator(**options).run(lines, buf)
    assert written == lines
    return buf.getvalue()


def bsd_key(line: str) -> tuple[int, int, str]:
    mon, day, clock = line.split(None, 3)[:3]
    return MONTHS[mon], int(day), clock


def test_same_seed_same_output_other_seed_other_output() -> None:
    first = generate()
    again = io.StringIO()
    gen_postfix.Generator().run(LINES, again)
    assert again.getvalue() == first
    assert generate(seed=7) != first
    assert len(first.splitlines()) == LINES


def test_line_mix_within_stated_bounds() -> None:
    mix = gen_postfix.line_mix(generate().splitlines())
    assert 0.30 <= mix["delivery_share"] <= 0.55, mix["delivery_share"]
    assert 0.08 <= mix["deferred_message_share"] <= 0.20, mix["deferred_message_share"]
    programs = mix["programs"]
    for prog in (
        "postfix/smtpd",
        "postfix/cleanup",
        "postfix/qmgr",
        "postfix/smtp",
        "postfix/error",
        "postfix/bounce",
        "postfix/pickup",
        "postfix/anvil",
    ):
        assert prog in programs, prog
    statuses = mix["statuses"]
    for status in ("smtp:sent", "smtp:deferred", "smtp:bounced", "error:deferred", "local:sent"):
        assert status in statuses, status


def test_timestamps_never_go_backwards() -> None:
    keys = [bsd_key(line) for line in generate().splitlines()]
    assert all(a <= b for a, b in zip(keys, keys[1:], strict=False))
    assert keys[0][:2] != keys[-1][:2] or keys[0][2] < keys[-1][2]


def test_new_year_crossing_in_both_stamp_formats() -> None:
    start = "2026-12-31T22:30:00"
    iso = generate(start=start, fmt="rfc3339", tz="+01:00").splitlines()
    stamps = [datetime.fromisoformat(line.split(" ", 1)[0]) for line in iso]
    assert all(a <= b for a, b in zip(stamps, stamps[1:], strict=False))
    assert stamps[0].year == 2026 and stamps[-1].year == 2027
    assert iso[0].startswith("2026-12-31T22:30:00.000000+01:00 mx1 postfix/")

    bsd = generate(start=start).splitlines()
    assert bsd[0].startswith("Dec 31 22:30:00 mx1 ")
    assert bsd[-1].startswith("Jan  1 ")  # syslog pads the day with a space
    months = [line[:3] for line in bsd]
    rollover = months.index("Jan")
    assert set(months[:rollover]) == {"Dec"} and set(months[rollover:]) == {"Jan"}


def test_every_deferred_queue_id_was_queued_before() -> None:
    queued: set[str] = set()
    deferred = 0
    for n, line in enumerate(generate().splitlines()):
        head, _, text = line.partition("]: ")
        qid, _, rest = text.partition(": ")
        if " postfix/qmgr[" in head and rest.startswith("from=<"):
            queued.add(qid)
        elif "status=deferred" in rest:
            deferred += 1
            assert qid in queued, f"line {n + 1}: {line}"
    assert deferred > 100


def test_queue_ids_short_and_long() -> None:
    for text, pattern in ((generate(), QID_SHORT), (generate(long_queue_ids=True), QID_LONG)):
        qids = {
            line.split("]: ", 1)[1].split(":", 1)[0]
            for line in text.splitlines()
            if " postfix/cleanup[" in line
        }
        assert len(qids) > 1000
        bad = [q for q in qids if not pattern.match(q)]
        assert bad == []


@pytest.mark.parametrize(
    "needle",
    [
        "status=deferred (delivery temporarily suspended: ",
        ", status=expired, returned to sender",
        ": sender non-delivery notification: ",
        ": sender delay notification: ",
        "NOQUEUE: reject: RCPT from ",
        "statistics: max connection rate ",
        "(in reply to RCPT TO command))",
        ": removed",
        "Greylist",
    ],
)
def test_the_lines_a_parser_must_meet_are_there(needle: str) -> None:
    # Expiry needs two days of simulated time: a short queue lifetime brings it into 20k lines.
    text = generate(queue_lifetime=3600.0, delay_warning=1200.0)
    assert needle in text


def test_delivery_lines_have_postfix_delay_fields() -> None:
    pattern = re.compile(
        r": to=<[^>]+>, (?:orig_to=<[^>]+>, )?relay=\S+, delay=\d+(?:\.\d+)?, "
        r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=[245]\.\d+\.\d+, status=(sent|deferred|bounced) \("
    )
    lines = [line for line in generate().splitlines() if " to=<" in line and "status=" in line]
    assert lines
    assert [line for line in lines if not pattern.search(line)] == []
