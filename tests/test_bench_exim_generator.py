"""The benchmark's Exim log generator (tools/bench/gen_exim.py): deterministic, well ordered,
consistent, with the line mix the benchmark claims, and read by maillog-diag without an
unparsed line.  Fast: a few 20k-line logs."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
from datetime import UTC
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .conftest import ROOT

LINES = 20_000
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
MSG_ID = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}$")
LONG_ID = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}$")


def _load() -> ModuleType:
    path = ROOT / "tools" / "bench" / "gen_exim.py"
    spec = importlib.util.spec_from_file_location("gen_exim", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_exim"] = module
    spec.loader.exec_module(module)
    return module


gen_exim = _load()


@cache
def generate(lines: int = LINES, **options: object) -> str:
    buf = io.StringIO()
    written = gen_exim.Generator(**options).run(lines, buf)
    assert written == lines
    return buf.getvalue()


def flagged(text: str, flag: str) -> list[tuple[str, str]]:
    """(message id, rest) of the lines with ``flag`` (``<=``, ``==``, ...) after the id."""
    out = []
    for line in text.splitlines():
        parts = line[20:].split(" ", 2)
        if len(parts) == 3 and parts[1] == flag:
            out.append((parts[0], parts[2]))
    return out


def test_same_seed_same_output_other_seed_other_output() -> None:
    first = generate()
    again = io.StringIO()
    gen_exim.Generator().run(LINES, again)
    assert again.getvalue() == first
    assert generate(seed=7) != first
    assert len(first.splitlines()) == LINES


def test_line_mix_within_stated_bounds() -> None:
    mix = gen_exim.line_mix(generate().splitlines())
    assert 0.35 <= mix["delivery_share"] <= 0.60, mix["delivery_share"]
    assert 0.07 <= mix["deferred_message_share"] <= 0.22, mix["deferred_message_share"]
    kinds = {k: share for k, (_, share) in mix["kinds"].items()}
    assert 0.10 <= kinds["<= smtp"] <= 0.20, kinds
    assert 0.20 <= kinds["=>"] <= 0.40, kinds
    assert 0.02 <= kinds["->"] <= 0.12, kinds
    assert 0.01 <= kinds["== smtp error"] <= 0.08, kinds
    assert 0.10 <= kinds["Completed"] <= 0.20, kinds
    assert 0.08 <= kinds["SMTP connection"] <= 0.20, kinds
    assert 0.002 <= kinds["**"] <= 0.02, kinds
    for kind in ("<= local", "<= bounce/warning", "== retry time not reached", "host note"):
        assert kind in kinds, kind
    assert kinds["queue run"] > 0 and kinds["inbound reject/noise"] > 0.01


def test_timestamps_never_go_backwards() -> None:
    lines = generate().splitlines()
    assert all(STAMP.match(line) for line in lines)
    stamps = [line[:19] for line in lines]
    assert all(a <= b for a, b in zip(stamps, stamps[1:], strict=False))
    assert stamps[0] == "2026-11-26 06:25:00" and stamps[-1] > stamps[0]


def test_every_deferral_and_verdict_follows_its_arrival() -> None:
    seen: set[str] = set()
    deferrals = 0
    for n, line in enumerate(generate().splitlines()):
        parts = line[20:].split(" ", 2)
        if len(parts) < 3:
            continue
        mid, flag = parts[0], parts[1]
        if flag == "<=":
            assert mid not in seen, f"line {n + 1}: id used twice: {line}"
            seen.add(mid)
        elif flag in ("==", "=>", "->", "**"):
            deferrals += flag == "=="
            assert mid in seen, f"line {n + 1}: {line}"
    assert deferrals > 500


def test_message_ids_short_and_long() -> None:
    for text, pattern in ((generate(), MSG_ID), (generate(long_ids=True), LONG_ID)):
        ids = {mid for mid, _ in flagged(text, "<=")}
        assert len(ids) > 2000
        assert [i for i in ids if not pattern.match(i)] == []


def test_bounces_refer_to_a_message_with_a_failure() -> None:
    text = generate()
    failed = {mid for mid, _ in flagged(text, "**")}
    bounces = [rest for _, rest in flagged(text, "<=") if rest.startswith("<> R=")]
    assert bounces
    refs = {rest.split()[1][2:] for rest in bounces if "Mail delivery failed" in rest}
    assert refs and refs <= failed


@pytest.mark.parametrize(
    "needle",
    [
        " R=dnslookup T=remote_smtp defer (-44) H=",
        ": SMTP error from remote mail server after RCPT TO:<",
        ": SMTP error from remote mail server after pipelined MAIL FROM:<",
        ": SMTP error from remote mail server after end of data: ",
        " defer (110): Connection timed out DT=",
        " defer (111): Connection refused DT=",
        " routing defer (-52) DT=0s: retry time not reached",
        " defer (-54) DT=0s: retry time not reached for any host for '",
        "retry timeout exceeded",
        "Greylist",
        "(S775)",
        "[TSS04]",
        ' C="250 ',
        " QT=",
        " DT=",
        " U=Debian-exim P=local ",
        "Completed QT=",
        "Frozen (delivery error message)",
        "Start queue run: pid=",
        "End queue run: pid=",
        "SMTP connection from ",
        "no host name found for IP address ",
        " rejected RCPT <",
        " authenticator failed for ",
    ],
)
def test_the_lines_a_parser_must_meet_are_there(needle: str) -> None:
    # Frozen bounces need more time, and rate-limit episodes come every few hours: a longer
    # log, and one that starts in the middle of Microsoft's and Yahoo's episodes.
    assert needle in generate() + generate(60_000, seed=3) + throttled()


@cache
def throttled() -> str:
    gen = gen_exim.Generator(seed=5)
    for provider in ("microsoft", "yahoo"):
        gen.start_throttle(0.0, provider)
    buf = io.StringIO()
    gen.run(LINES, buf)
    return buf.getvalue()


def test_delivery_lines_have_the_selector_fields() -> None:
    pattern = re.compile(
        r"^\S+ R=\w+ T=\w+(?: H=\S+ \[[0-9.]+\]:25\*?(?: X=\S+ CV=(?:yes|no))?(?: K)? "
        r'C="250[^"]*")? QT=\w+ DT=\w+$'
    )
    rows = flagged(generate(), "=>") + flagged(generate(), "->")
    assert rows
    local = [rest for _, rest in rows if "T=mail_spool" in rest]
    assert local and all(" <root@" in rest for rest in local)
    bad = [rest for _, rest in rows if "T=mail_spool" not in rest and not pattern.match(rest)]
    assert bad == []


def test_maillog_diag_parses_every_line(tmp_path: Path) -> None:
    log = tmp_path / "mainlog"
    log.write_text(generate(), encoding="utf-8")
    messages, result = collect_messages([str(log)], ScanOptions(zone=UTC))
    counts = result.counts
    assert counts.total == LINES
    assert counts.unparsed == 0, result.unparsed_sample[:5]
    # What maillog-diag sets aside is inbound noise and queue-runner lines, not deliveries.
    assert set(counts.ignored_by_reason) <= {
        "exim daemon",
        "exim inbound session",
        "exim inbound reject",
        "exim queue run",
        "exim Spool",
    }, counts.ignored_by_reason
    assert len(messages) > 3000
