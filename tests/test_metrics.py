"""`maillog-diag metrics`: Prometheus exposition of what the report computes.

The output is read back with Prometheus's own Python parser, and every counter is checked
against the JSON contract of `report` and `messages` on the same log (never against figures
copied from the tool's own output).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.causes import Cause

from .conftest import FIXTURES, ROOT, SAMPLE_LOGS

COMMON = ["--tz", "UTC", "--year", "2026"]
SAMPLES = [
    SAMPLE_LOGS / "postfix" / "mail.log",
    SAMPLE_LOGS / "exim" / "mainlog",
    SAMPLE_LOGS / "sendmail" / "maillog",
    SAMPLE_LOGS / "opensmtpd" / "maillog",
]
P = "maillog_diag_"


def _run(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, *COMMON])
    assert result.exit_code == 0, result.output
    return result


def _report(log: Path) -> dict[str, Any]:
    return json.loads(_run("report", str(log), "--all", "--format", "json").stdout)


def _messages(log: Path) -> list[dict[str, Any]]:
    out = _run("messages", str(log), "--format", "jsonl").stdout
    return [json.loads(line) for line in out.splitlines()]


def _families(text: str) -> dict[str, list[Sample]]:
    """Samples by family name (counters are named without `_total`)."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _metrics(log: Path, *extra: str) -> dict[str, list[Sample]]:
    return _families(_run("metrics", str(log), *extra).stdout)


def _sum(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_counters_match_the_report(log: Path) -> None:
    report = _report(log)
    fams = _metrics(log, "--top-destinations", "100")
    totals = report["totals"]
    deferrals = fams[P + "deferrals"]
    repeated = fams[P + "deferrals_repeated"]
    attempts = _sum(deferrals, P + "deferrals_total")
    repeats = _sum(repeated, P + "deferrals_repeated_total")
    assert attempts + repeats == totals["deferrals"]
    # per cause: what the report's `causes` (across destinations) count
    for cause in report["causes"]:
        assert _sum(deferrals, P + "deferrals_total", cause=cause["cause"]) == cause["count"]
        assert (
            _sum(repeated, P + "deferrals_repeated_total", cause=cause["cause"])
            == cause["suspended"]
        )
    # per destination (every destination has its own label at this cap)
    for dest in report["destinations"]:
        domain = dest["domain"]
        assert (
            _sum(deferrals, P + "deferrals_total", destination=domain)
            + _sum(repeated, P + "deferrals_repeated_total", destination=domain)
            == dest["deferrals"]
        ), domain
        for family in ("delivered", "bounced", "expired"):
            got = _sum(fams[P + family], f"{P}{family}_total", destination=domain)
            assert got == dest[family], (domain, family)
        assert (
            _sum(fams[P + "forced_splits"], P + "forced_splits_total", destination=domain)
            == dest["forced_split"]["deferrals"]
        )
    for family in ("delivered", "bounced", "expired"):
        assert _sum(fams[P + family], f"{P}{family}_total") == totals[family]
    assert (
        _sum(fams[P + "forced_splits"], P + "forced_splits_total")
        == totals["forced_split"]["deferrals"]
    )
    assert (
        _sum(fams[P + "unparsed_lines"], P + "unparsed_lines_total")
        == (report["lines"]["unparsed"])
    )
    assert {s.labels["destination"] for s in deferrals} == {
        d["domain"] for d in report["destinations"]
    } | {"other"}


@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_every_cause_is_emitted_for_every_series(log: Path) -> None:
    fams = _metrics(log)
    for family in ("deferrals", "deferrals_repeated"):
        series: dict[tuple[str, str], set[str]] = {}
        for s in fams[P + family]:
            series.setdefault((s.labels["mta"], s.labels["destination"]), set()).add(
                s.labels["cause"]
            )
        assert series
        assert all(causes == {c.value for c in Cause} for causes in series.values())
    mtas = {m["mta"] for m in _messages(log)}
    assert {s.labels["mta"] for s in fams[P + "deferrals"]} == mtas


@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_held_seconds_histogram_observes_each_final_recipient_once(log: Path) -> None:
    values = [
        r["held_seconds"]
        for m in _messages(log)
        for r in m["recipients"]
        if r["outcome"] in ("delivered", "bounced", "expired") and r["held_seconds"] is not None
    ]
    # a Sendmail submission copy handed to the local MTA is not a delivery (see the README)
    handed_off = _report(log)["handed_off"]
    samples = _metrics(log)[P + "held_seconds"]
    count = _sum(samples, P + "held_seconds_count")
    assert count == len(values) - handed_off
    buckets = {
        float(s.labels["le"]): s.value for s in samples if s.name == P + "held_seconds_bucket"
    }
    assert min(buckets) == 60.0
    assert 5 * 86400.0 in buckets
    assert buckets[math.inf] == count
    if not handed_off:
        for bound, n in buckets.items():
            assert n == sum(1 for v in values if v <= bound), bound
        assert _sum(samples, P + "held_seconds_sum") == pytest.approx(sum(values), abs=0.01)


@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_last_success_is_the_last_delivery_in_the_log(log: Path) -> None:
    from datetime import datetime

    finals = [
        datetime.fromisoformat(r["final"]).timestamp()
        for m in _messages(log)
        for r in m["recipients"]
        if r["outcome"] == "delivered"
    ]
    samples = _metrics(log)[P + "last_success_timestamp_seconds"]
    assert [s.value for s in samples] == [max(finals)]


def test_queued_gauges_come_from_the_held_mail() -> None:
    log = FIXTURES / "postfix_small.log"
    report = _report(log)
    assert report["held_mail"], "the fixture must end with mail still queued"
    fams = _metrics(log)
    queued = {s.labels["destination"]: s.value for s in fams[P + "queued_recipients"]}
    oldest = {s.labels["destination"]: s.value for s in fams[P + "oldest_queued_seconds"]}
    for held in report["held_mail"]:
        assert queued[held["domain"]] >= 1
        assert oldest[held["domain"]] >= held["held_seconds"]
    assert sum(queued.values()) == len(report["held_mail"])
    assert max(oldest.values()) == max(h["held_seconds"] for h in report["held_mail"])


def test_destination_labels_are_capped_with_other() -> None:
    log = SAMPLES[0]
    report = _report(log)
    ranked = [d["domain"] for d in report["destinations"]]
    fams = _metrics(log, "--top-destinations", "3")
    labels = {s.labels["destination"] for s in fams[P + "deferrals"]}
    assert labels == set(ranked[:3]) | {"other"}
    # nothing is lost in the cap
    assert (
        _sum(fams[P + "deferrals"], P + "deferrals_total")
        + _sum(fams[P + "deferrals_repeated"], P + "deferrals_repeated_total")
        == report["totals"]["deferrals"]
    )
    assert _sum(fams[P + "delivered"], P + "delivered_total") == report["totals"]["delivered"]


def test_hostile_destination_is_escaped(tmp_path: Path) -> None:
    # A real Postfix deferral line whose recipient domain carries a quote, a backslash and a
    # vertical tab (a line separator to str.splitlines, not to the log reader).
    hostile = 'x"y\\z\x0bw.example'
    lines = (FIXTURES / "postfix_small.log").read_text().splitlines()
    lines = [line.replace("down.example", hostile) for line in lines]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    report = _report(log)
    assert hostile.lower() in {d["domain"] for d in report["destinations"]}
    text = _run("metrics", str(log)).stdout
    assert "\x0b" not in text
    assert all(line.startswith(("#", P)) for line in text.splitlines())
    fams = _families(text)
    seen = {s.labels["destination"] for s in fams[P + "deferrals"]}
    shown = 'x"y\\z\\x0bw.example'  # the control character spelled out, the rest as logged
    assert shown in seen
    assert _sum(fams[P + "queued_recipients"], P + "queued_recipients", destination=shown) == 1
    if shutil.which("promtool"):
        proc = subprocess.run(
            ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_textfile_is_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "maillog.prom"
    target.write_text("# old\n")
    before = target.stat().st_ino
    keep = tmp_path / "keep-open"
    keep.write_text("")
    _run("metrics", str(SAMPLES[0]), "--textfile", str(target))
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep-open", "maillog.prom"]
    fams = _families(target.read_text())
    assert (
        _sum(fams[P + "delivered"], P + "delivered_total")
        == _report(SAMPLES[0])["totals"]["delivered"]
    )


def test_textfile_is_left_alone_when_an_input_cannot_be_read(tmp_path: Path) -> None:
    target = tmp_path / "maillog.prom"
    target.write_text("# last good run\n")
    result = CliRunner().invoke(
        app, ["metrics", str(tmp_path / "missing.log"), "--textfile", str(target), *COMMON]
    )
    assert result.exit_code == 3
    assert "missing.log" in result.stderr
    assert target.read_text() == "# last good run\n"


def test_textfile_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "nodir" / "maillog.prom"
    result = CliRunner().invoke(
        app, ["metrics", str(SAMPLES[0]), "--textfile", str(target), *COMMON]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_textfile_and_listen_exclude_each_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "metrics",
            str(SAMPLES[0]),
            "--textfile",
            str(tmp_path / "x.prom"),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    assert result.exit_code == 2


@pytest.mark.parametrize("bad", ["nonsense", "127.0.0.1:99999", ":80x"])
def test_listen_address_must_be_host_and_port(bad: str) -> None:
    result = CliRunner().invoke(app, ["metrics", str(SAMPLES[0]), "--listen", bad])
    assert result.exit_code == 2
    assert "--listen" in result.stderr


def test_listen_serves_metrics_and_stops_on_sigterm() -> None:
    log = SAMPLES[0]
    expected = _report(log)["totals"]["delivered"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_diag", "metrics", str(log), "--listen", "127.0.0.1:0"]
        + COMMON,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the server says where it listens
        found = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert found, line
        url = f"http://127.0.0.1:{found.group(1)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        fams = _families(body)
        assert _sum(fams[P + "delivered"], P + "delivered_total") == expected
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert "Traceback" not in err


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_promtool_accepts_the_output(log: Path, tmp_path: Path) -> None:
    target = tmp_path / "m.prom"
    _run("metrics", str(log), "--textfile", str(target))
    with target.open("rb") as fh:
        proc = subprocess.run(
            ["promtool", "check", "metrics"], stdin=fh, capture_output=True, check=False
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_metrics_needs_no_clock() -> None:
    # The same log gives the same exposition twice (no creation times or run clocks).
    first = _run("metrics", str(SAMPLES[0])).stdout
    time.sleep(0.01)
    assert _run("metrics", str(SAMPLES[0])).stdout == first


def test_listen_rereads_the_log_and_keeps_the_last_good_figures(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    shutil.copy(FIXTURES / "postfix_small.log", log)
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_diag", "metrics", str(log)]
        + ["--listen", "127.0.0.1:0", "--interval", "1", *COMMON],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def scrape() -> dict[str, list[Sample]]:
        with urllib.request.urlopen(url, timeout=10) as response:
            return _families(response.read().decode())

    def settle(check: Any) -> dict[str, list[Sample]]:
        deadline = time.monotonic() + 10
        while True:
            fams = scrape()
            if check(fams) or time.monotonic() > deadline:
                return fams
            time.sleep(0.3)

    try:
        assert proc.stderr is not None
        found = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", proc.stderr.readline())
        assert found
        url = f"http://127.0.0.1:{found.group(1)}/metrics"
        before = _sum(scrape()[P + "deferrals"], P + "deferrals_total")
        real = next(
            line
            for line in (SAMPLE_LOGS / "postfix" / "mail.log").read_text().splitlines()
            if "status=deferred" in line
        )
        with log.open("a") as fh:  # a real deferral (of a message the log had not shown)
            fh.write(real + "\n")
        fams = settle(lambda f: _sum(f[P + "deferrals"], P + "deferrals_total") > before)
        assert _sum(fams[P + "deferrals"], P + "deferrals_total") == before + 1
        assert _sum(fams[P + "last_scan_ok"], P + "last_scan_ok") == 1
        log.unlink()  # the next re-read fails: the last good figures stay, marked so
        fams = settle(lambda f: _sum(f[P + "last_scan_ok"], P + "last_scan_ok") == 0)
        assert _sum(fams[P + "last_scan_ok"], P + "last_scan_ok") == 0
        assert _sum(fams[P + "deferrals"], P + "deferrals_total") == before + 1
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 130, err
    assert "Traceback" not in err


@pytest.mark.parametrize("log", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_several_processes_give_the_same_metrics(log: Path) -> None:
    # the builder's new figures (deferrals by MTA, final held times, last delivery) merge
    one = _run("metrics", str(log), "--jobs", "1").stdout
    assert _run("metrics", str(log), "--jobs", "3").stdout == one
