"""A slice's head keeps the retries of held mail folded (`correlate.HeadRetries`): one
item per run of retries, replayed as a whole, with the one-pass answer."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.correlate import Correlator, HeadEvent, HeadRetries, settle_packed
from maillog_diag.core.history import PackedAttempts
from maillog_diag.core.model import Attempt, Delivery, LineRef, MessageInfo, Status
from maillog_diag.input.sources import cut_points
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan import summary
from maillog_diag.scan.partial import PartialScan, Slice, scan_slices
from maillog_diag.scan.pipeline import ScanOptions, _packed, _unpacked

from .test_bench_exim_generator import gen_exim
from .test_bench_generator import gen_postfix
from .test_engine_equality import report

UTC = resolve_zone("UTC")
SETTINGS = ("--tz", "UTC", "--year", "2026")


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Postfix log of a quiet server (20 messages an hour), 20,000 lines over
    several days: its deferred mail is retried at many queue runs within any slice."""
    buf = io.StringIO()
    gen_postfix.Generator(seed=23, rate=20.0, bots_per_hour=5.0).run(20_000, buf)
    path = tmp_path_factory.mktemp("held") / "mail.log"
    path.write_text(buf.getvalue())
    return path


@pytest.fixture(scope="module")
def exim_held(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Exim mainlog of a quiet server (40 messages an hour): Exim logs each
    retry as a deferral line (`==`) alone, with no info line between."""
    buf = io.StringIO()
    gen_exim.Generator(seed=23, rate=40.0, bots_per_hour=10.0).run(20_000, buf)
    path = tmp_path_factory.mktemp("exim_held") / "mainlog"
    path.write_text(buf.getvalue())
    return path


def _later_slice(path: Path) -> PartialScan:
    name = str(path)
    cuts = cut_points(name, path.stat().st_size, 3)
    options = ScanOptions(zone=UTC, year=2026)
    return scan_slices(
        [Slice(name, cuts[1], cuts[2], first=False, last=False)],
        options,
        [name],
        prior_unknown=True,
    )


def _retry(item: Any) -> bool:
    event = item.event if isinstance(item, HeadEvent) else None
    return isinstance(event, MessageInfo) or (
        isinstance(event, Delivery) and event.status is Status.DEFERRED
    )


def test_a_slices_head_folds_the_retries_after_a_deferred_delivery(held: Path) -> None:
    """After a deferred delivery of a message met without its arrival, its retries up to
    its next other line are one item; before, each was an item of its own (replayed one
    at a time and shipped as events)."""
    head = _later_slice(held).state["head"]
    runs = [item for item in head if isinstance(item, HeadRetries)]
    assert len(runs) > 20
    sizes = [sum(len(p) for p in (run.packed or {}).values()) for run in runs]
    assert sum(1 for n in sizes if n >= 2) > 10 and max(sizes) >= 4  # runs of several
    # No raw retry follows a deferred delivery of its key: it went into a run.
    last: dict[tuple[str, str], Any] = {}
    for item in head:
        if isinstance(item, HeadEvent) and item.event.queue_id is not None:
            key = (item.event.host, item.event.queue_id)
            before = last.get(key)
            deferred = (
                isinstance(before, HeadEvent)
                and isinstance(before.event, Delivery)
                and before.event.status is Status.DEFERRED
            )
            assert not (deferred and _retry(item)), item
            last[key] = item
        elif isinstance(item, HeadRetries):
            before = last.get((item.host, item.queue_id))
            # (a run follows the deferred delivery it continues, or an item put after it)
            assert isinstance(before, HeadEvent) and isinstance(before.event, Delivery)
            assert before.event.status is Status.DEFERRED
            last[(item.host, item.queue_id)] = item
    kinds = Counter(type(item).__name__ for item in head)
    assert kinds["HeadRetries"] > 0 and kinds["HeadEvent"] > 0


@pytest.mark.parametrize("jobs", [2, 3, 7])
def test_folded_retries_merge_to_the_one_process_report(held: Path, jobs: int) -> None:
    one = report([str(held)], 1)
    assert one["totals"]["recipients_deferred"] > 0
    assert report([str(held)], jobs, min_slice_bytes=1, processes=1) == one


@pytest.mark.parametrize("jobs", [2, 7])
def test_folded_exim_retries_merge_to_the_one_process_report(exim_held: Path, jobs: int) -> None:
    runs = [i for i in _later_slice(exim_held).state["head"] if isinstance(i, HeadRetries)]
    assert sum(1 for run in runs if sum(map(len, (run.packed or {}).values())) >= 2) > 5
    one = report([str(exim_held)], 1)
    assert one["totals"]["recipients_deferred"] > 0
    assert report([str(exim_held)], jobs, min_slice_bytes=1, processes=1) == one


def test_a_worker_result_ships_the_runs_in_columns(held: Path) -> None:
    part = _later_slice(held)
    again = _unpacked(_packed(part))
    runs = [item for item in again.state["head"] if isinstance(item, HeadRetries)]
    assert all(not run.attempts for run in runs)  # (runs of info lines alone have none)
    assert sum(1 for run in runs if run.packed) > 20
    before = [item for item in part.state["head"] if isinstance(item, HeadRetries)]
    assert [[p.unpack() for p in (r.packed or {}).values()] for r in runs] == [
        [p.unpack() for p in (r.packed or {}).values()] for r in before
    ]


def test_a_summary_holds_the_runs_as_records_and_merges_to_the_report(
    held: Path, tmp_path: Path
) -> None:
    """The second of two days (`--continued`) starts with held mail: its runs of retries
    are written as attempt records and replayed from them."""
    lines = held.read_text().splitlines(keepends=True)
    first, second = tmp_path / "mail.log.1", tmp_path / "mail.log"
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text("".join(lines[len(lines) // 2 :]))
    run = CliRunner()
    a, b = tmp_path / "day1.summary", tmp_path / "day2.summary"
    for log, out, extra in ((first, a, ()), (second, b, ("--continued",))):
        res = run.invoke(app, ["summarize", str(log), *SETTINGS, *extra, "-o", str(out)])
        assert res.exit_code == 0, res.output
    doc = json.loads(b.read_text())
    assert doc["version"] == summary.VERSION == 5
    text = b.read_text()
    assert '"@":"HeadRetries"' in text and '"packed":null' in text
    merged = run.invoke(app, ["merge", str(a), str(b), "--format", "json"])
    together = run.invoke(app, ["report", str(first), str(second), *SETTINGS, "--format", "json"])
    assert merged.exit_code == together.exit_code == 0
    assert json.loads(merged.stdout) == json.loads(together.stdout)
    # A summary can only hold records: columns in one are refused as damage.
    hostile = text.replace('"packed":null', '"packed":{"@d":[["a@b",7]]}', 1)
    with pytest.raises(summary.SummaryError, match="damaged summary"):
        summary.read_summary("hostile.summary", hostile.encode())


def _attempt(t: float, reply: str, source: str = "mail.log", text: str = "") -> Attempt:
    return Attempt(
        t, Status.DEFERRED, "mx[192.0.2.1]:25", "4.7.1", reply, "0/0/1/0",
        ref=LineRef(source, int(t), text),
    )  # fmt: skip


def test_packed_attempts_extend_as_if_added_one_by_one() -> None:
    a, b = PackedAttempts(), PackedAttempts()
    for i in range(3):
        a.add(_attempt(10.0 + i, "greylisted", "mail.log.1"))
    b.add(_attempt(20.0, "busy"))
    b.add(Attempt(21.0, Status.DEFERRED, None, None, None))  # no relay, no line, no delays
    b.add(_attempt(22.0, "greylisted", "mail.log.1", text="the line"))
    expected = a.unpack() + b.unpack()
    a.extend(b)
    assert a.unpack() == expected
    assert [x.ref.text if x.ref else None for x in a.unpack()][-1] == "the line"


def test_a_run_the_state_cannot_place_makes_the_merge_inexact() -> None:
    """A run needs its message open with a recipient in flight (the deferred delivery
    before it left it so): where it is not, the merge says it cannot vouch."""
    packed = PackedAttempts()
    packed.add(_attempt(100.0, "greylisted"))
    run = HeadRetries("mx", "ABC123", 100.0, 100.0, {"a@b": None}, {}, {"a@b": packed})
    correlator = Correlator(lambda msg: None)
    correlator.replay(run)
    assert correlator.inexact is not None and "ABC123" in correlator.inexact
    assert correlator.open_messages() == []


def test_settling_turns_columns_into_records() -> None:
    packed = PackedAttempts()
    packed.add(_attempt(100.0, "greylisted"))
    early = _attempt(90.0, "busy")
    run = HeadRetries("mx", "Q1", 90.0, 100.0, {"a@b": None}, {"a@b": [early]}, {"a@b": packed})
    state: dict[str, Any] = {"head": [run]}
    settle_packed(state)
    assert run.packed is None and run.attempts["a@b"] == [early, _attempt(100.0, "greylisted")]


def test_runs_merged_as_a_tree_at_uneven_cuts(held: Path) -> None:
    """Cuts at seeded uneven line starts, the slices merged pairwise (a tree: a run then
    waits in a merged head before it meets its message): the one-pass report."""
    import random

    from .test_engine_equality import tree_report

    data = held.read_bytes()
    rng = random.Random(12)
    cuts = sorted({data.index(b"\n", rng.randrange(len(data) - 200)) + 1 for _ in range(9)})
    bounds = [0, *cuts, len(data)]
    options = ScanOptions(zone=UTC, year=2026)
    parts = [
        scan_slices(
            [Slice(str(held), a, b, first=a == 0, last=b == len(data))],
            options,
            [str(held)],
            prior_unknown=a != 0,
        )
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    assert sum(isinstance(i, HeadRetries) for p in parts for i in p.state["head"]) > 30
    assert tree_report(parts, options) == report([str(held)], 1)
