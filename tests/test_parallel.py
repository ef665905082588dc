"""Several processes (`--jobs`) must give exactly the report one process gives (the CLI and
the real corpus; `test_engine_equality.py` cuts every sample log anywhere)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.pipeline import ScanOptions, default_jobs, scan_report

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS
from .test_bench_generator import write_generated


def _report(paths: list[str], jobs: int) -> dict:  # type: ignore[type-arg]
    zone = resolve_zone("UTC")
    builder, result = scan_report(paths, ScanOptions(zone=zone, year=2026), jobs)
    data = report_dict(builder, result, zone, include_all=True, reasons=5)
    data["ignored_by_reason"] = result.counts.ignored_by_reason
    return data


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("gen") / "mail.log", 11, 30_000)


def _cases(generated: Path) -> list[list[str]]:
    cases = [[str(generated)], [str(FIXTURES / "postfix_small.log"), str(generated)]]
    cases.append([str(SAMPLE_LOGS / "postfix" / "mail.log")])
    cases.append([str(FIXTURES / "exim_small.log"), str(FIXTURES / "sendmail_small.log")])
    others = (
        SAMPLE_LOGS / "exim" / "mainlog",
        SAMPLE_LOGS / "sendmail" / "maillog",
        SAMPLE_LOGS / "opensmtpd" / "maillog",
    )
    cases.extend([str(other)] for other in others if other.is_file())
    exim_corpus = CORPUS / "exim" / "AzatotEnikeev--ParsMailLog--data_out.log"
    if exim_corpus.is_file():
        cases.append([str(exim_corpus)])
    kdent = sorted((CORPUS / "postfix").glob("kdent--*.log"))
    if kdent:
        cases.append([str(p) for p in kdent])
    return cases


@pytest.mark.parametrize("jobs", [2, 3])
def test_partitions_merge_to_the_single_process_report(generated: Path, jobs: int) -> None:
    for paths in _cases(generated):
        single = _report(paths, 1)
        assert _report(paths, jobs) == single, paths
        assert single["lines"]["total"] == sum(len(Path(p).read_text().splitlines()) for p in paths)


def test_cli_jobs_option(generated: Path) -> None:
    runner = CliRunner()
    args = ["report", str(generated), "--tz", "UTC", "--year", "2026", "--format", "json"]
    one = runner.invoke(app, [*args, "-j", "1"])
    two = runner.invoke(app, [*args, "-j", "2"])
    assert one.exit_code == two.exit_code == 0
    assert json.loads(one.stdout) == json.loads(two.stdout)


def test_default_jobs(tmp_path: Path) -> None:
    small = tmp_path / "small.log"
    small.write_text("x\n")
    assert default_jobs([str(small)]) == 1
    assert default_jobs(["-"]) == 1
    assert default_jobs([str(tmp_path / "missing")]) == 1
    assert default_jobs([str(small)], min_bytes=1) >= 1


def test_the_parent_reads_the_first_slice_and_restores_the_switch_interval(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With worker processes, this process reads the log's first slice itself (its scan is
    merged as read, never packed), and the thread switch interval it shortens while the
    workers run is restored afterwards (also after a failure)."""
    import os
    import sys

    from maillog_diag.scan import partial, pipeline

    record = tmp_path / "who"
    original = partial.scan_slices

    def recording(slices, *args, **kwargs):  # type: ignore[no-untyped-def]
        pieces = iter(slices)  # (a worker's run: taken as it is read)
        first = next(pieces)
        with record.open("a") as out:  # workers are forked: a file sees them all
            out.write(f"{first.start or 0} {os.getpid()} {sys.getswitchinterval()}\n")
        return original(itertools.chain([first], pieces), *args, **kwargs)

    monkeypatch.setattr(pipeline, "scan_slices", recording)
    before = sys.getswitchinterval()
    zone = resolve_zone("UTC")
    scan_report([str(generated)], ScanOptions(zone=zone, year=2026), 2, min_slice_bytes=1 << 20)
    assert sys.getswitchinterval() == before
    rows = [line.split() for line in record.read_text().splitlines()]
    assert len({pid for _, pid, _ in rows}) == 2  # two processes read
    first = min(rows, key=lambda r: int(r[0]))
    assert first[1] == str(os.getpid())
    assert float(first[2]) == pytest.approx(pipeline.SWITCH_SECONDS)

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "scan_slices", failing)
    with pytest.raises(RuntimeError):
        scan_report([str(generated)], ScanOptions(zone=zone, year=2026), 2, min_slice_bytes=1 << 20)
    assert sys.getswitchinterval() == before


def test_the_parents_first_slice_is_its_share_and_the_rest_ends_small(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With worker processes the process that merges reads a larger first slice (its share,
    `lead_share`: it also merges every other slice), the rest is cut as before (at most
    `MAX_SLICE_BYTES`) and its last range in two, the second half the first's size, so
    what is merged after the last worker is done is small. The slices cover the file."""
    from maillog_diag.scan import pipeline

    size = generated.stat().st_size
    monkeypatch.setattr(pipeline, "MAX_SLICE_BYTES", size // 5)
    options = ScanOptions(zone=resolve_zone("UTC"), year=2026)
    share = pipeline.lead_share(2)
    assert 0.4 < share < 0.5
    assert pipeline.lead_share(1) == 0.0
    assert 0.0 < pipeline.lead_share(4) < share
    tasks = [t for [t] in pipeline.plan_tasks([str(generated)], options, 2, 1, lead=share)]
    ranges = [(s.start, s.end) for s in tasks]
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    lengths = [end - start for start, end in ranges if end is not None]
    assert abs(lengths[0] - share * size) < 4096
    assert max(lengths[1:]) <= size // 5
    assert lengths[-1] < lengths[-2] and len(lengths) >= 4
    assert [s.first for s in tasks] == [True] + [False] * (len(tasks) - 1)
    assert [s.last for s in tasks] == [False] * (len(tasks) - 1) + [True]
    plain = [t for [t] in pipeline.plan_tasks([str(generated)], options, 2, 1)]
    even = [s.end - s.start for s in plain if s.end is not None]
    assert max(even) - min(even) < 4096  # no lead: even cuts, as before


def test_the_parents_first_slice_is_bounded_on_a_long_log(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the parent reads its first slice it merges nothing, so the workers' results
    wait, packed, in its memory: on a long log a share of the whole file would hold a
    number of them that grows with the file. The first slice is at most `LEAD_MAX_BYTES`
    (then the parent takes ordinary slices between merges, like a worker)."""
    from maillog_diag.scan import pipeline

    size = generated.stat().st_size
    monkeypatch.setattr(pipeline, "MAX_SLICE_BYTES", size // 10)
    monkeypatch.setattr(pipeline, "LEAD_MAX_BYTES", size // 8)
    options = ScanOptions(zone=resolve_zone("UTC"), year=2026)
    tasks = [t for [t] in pipeline.plan_tasks([str(generated)], options, 2, 1, lead=0.46)]
    lengths = [s.end - s.start for s in tasks if s.end is not None]
    assert abs(lengths[0] - size // 8) < 4096
    assert max(lengths[1:]) <= size // 10
    assert tasks[0].start == 0 and tasks[-1].end == size


def test_a_lead_slice_gives_the_one_process_report(generated: Path) -> None:
    single = _report([str(generated)], 1)
    zone = resolve_zone("UTC")
    for processes in (2, 3):
        builder, result = scan_report(
            [str(generated)],
            ScanOptions(zone=zone, year=2026),
            processes,
            min_slice_bytes=1 << 18,
            processes=processes,
        )
        data = report_dict(builder, result, zone, include_all=True, reasons=5)
        data["ignored_by_reason"] = result.counts.ignored_by_reason
        assert data == single


def test_a_process_goes_on_with_the_next_group_only_while_no_one_has_taken_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run_of` yields its group, then each next one it can take: none that another process
    took first, no group twice, none of the last `RUN_FREE_TAIL` (taken one by one), and no
    more once the run is `RUN_MAX_BYTES` long."""
    import multiprocessing

    from maillog_diag.scan import pipeline
    from maillog_diag.scan.partial import Slice

    context = multiprocessing.get_context("fork")
    tasks = [[Slice("log", i * 10, i * 10 + 10, first=i == 0, last=i == 7)] for i in range(8)]
    claims = pipeline._Claims(len(tasks), context)
    assert claims.take() == 0
    last = [0]
    run = pipeline.run_of(tasks, 0, claims, last)
    assert [next(run).start, next(run).start] == [0, 10]  # group 1 was free: taken
    assert last == [0]  # (group 1 is being read)
    assert claims.take() == 2  # another process takes group 2
    assert list(run) == [] and last == [1]  # so this run ends after group 1
    assert claims.take() == 3
    rest = pipeline.run_of(tasks, 3, claims, last)
    assert [s.start for s in rest] == [30, 40, 50] and last == [5]  # not into 6 and 7
    assert claims.take() == 6
    assert [s.start for s in pipeline.run_of(tasks, 6, claims, last)] == [60] and last == [6]
    assert claims.take() == 7 and claims.take() is None and not claims.take_exactly(8)

    monkeypatch.setattr(pipeline, "RUN_MAX_BYTES", 20)
    claims = pipeline._Claims(len(tasks), context)
    assert claims.take() == 0
    assert [s.start for s in pipeline.run_of(tasks, 0, claims, last)] == [0, 10] and last == [1]
    assert claims.take() == 2  # the run left it
    claims.stop()
    assert claims.take() is None


def test_consecutive_ranges_read_as_one_scan_are_one_pass(generated: Path) -> None:
    """Two adjacent ranges of a file read in one scan (a worker's run) number their lines
    on from the first and keep the readers' memory: the same state as one range."""
    from maillog_diag.input.sources import cut_points_at
    from maillog_diag.scan import partial
    from maillog_diag.scan.partial import Slice, scan_slices

    size = generated.stat().st_size
    cuts = cut_points_at(str(generated), size, [size // 3, size // 2, 2 * size // 3])
    options = ScanOptions(zone=resolve_zone("UTC"), year=2026)
    name = str(generated)
    one = scan_slices(
        [Slice(name, cuts[1], cuts[3], first=False, last=False)],
        options,
        [name],
        prior_unknown=True,
    )
    two = scan_slices(
        [
            Slice(name, cuts[1], cuts[2], first=False, last=False),
            Slice(name, cuts[2], cuts[3], first=False, last=False),
        ],
        options,
        [name],
        prior_unknown=True,
    )
    assert two.lines == one.lines and two.counts == one.counts

    def refs(part: partial.PartialScan) -> list[int]:
        return [i.event.ref.lineno for i in part.state["head"] if getattr(i, "event", None)]

    first = scan_slices(
        [Slice(name, cuts[1], cuts[2], first=False, last=False)],
        options,
        [name],
        prior_unknown=True,
    )
    assert refs(two) == refs(one) and max(refs(one)) > first.lines[name]
    assert two.state["head"] == one.state["head"] and two.state["born"] == one.state["born"]


def test_a_worker_reads_a_run_of_groups_and_the_report_is_the_same(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With many small slices, a worker that is not overtaken reads several groups in one
    scan (one result, one cut fewer to merge per group), and the report is still the one
    process's."""
    import os

    from maillog_diag.scan import partial, pipeline

    record = tmp_path / "runs"
    original = partial.scan_slices

    def recording(slices, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen: list[int] = []

        def counted():  # type: ignore[no-untyped-def]
            for piece in slices:
                seen.append(piece.start)
                yield piece

        try:
            return original(counted(), *args, **kwargs)
        finally:
            with record.open("a") as out:
                out.write(f"{os.getpid()} {len(seen)}\n")

    monkeypatch.setattr(pipeline, "scan_slices", recording)
    monkeypatch.setattr(pipeline, "MAX_SLICE_BYTES", generated.stat().st_size // 12)
    single = _report([str(generated)], 1)
    zone = resolve_zone("UTC")
    builder, result = scan_report(
        [str(generated)], ScanOptions(zone=zone, year=2026), 2, min_slice_bytes=1 << 16, processes=2
    )
    data = report_dict(builder, result, zone, include_all=True, reasons=5)
    data["ignored_by_reason"] = result.counts.ignored_by_reason
    assert data == single
    rows = [line.split() for line in record.read_text().splitlines()]
    workers = [int(n) for pid, n in rows if pid != str(os.getpid())]
    assert workers and max(workers) >= 2
