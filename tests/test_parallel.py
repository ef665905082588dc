"""Several processes (`--jobs`) must give exactly the report one process gives (the CLI and
the real corpus; `test_engine_equality.py` cuts every sample log anywhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.partial import Slice
from maillog_diag.scan.pipeline import ScanOptions, default_jobs, scan_report

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS
from .test_bench_generator import write_generated


def _report(paths: list[str], jobs: int, **scan: int) -> dict:  # type: ignore[type-arg]
    """The report of `paths` as a dict; `scan`: `scan_report`'s keyword arguments."""
    zone = resolve_zone("UTC")
    builder, result = scan_report(paths, ScanOptions(zone=zone, year=2026), jobs, **scan)
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
        with record.open("a") as out:  # workers are forked: a file sees them all
            out.write(f"{slices[0].start or 0} {os.getpid()} {sys.getswitchinterval()}\n")
        return original(slices, *args, **kwargs)

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
    for processes in (2, 3):
        data = _report([str(generated)], processes, min_slice_bytes=1 << 18, processes=processes)
        assert data == single


def _slowed_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every worker process wait 1 s before each group, so this process is free while
    groups are left; the list it returns fills with the starts of the groups read here."""
    import os
    import time

    from maillog_diag.scan import partial, pipeline

    parent = os.getpid()
    original_scan = partial.scan_slices
    read_here: list[int] = []  # (filled in this process only)

    def slow_worker(slices, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            time.sleep(1.0)
        else:
            read_here.append(slices[0].start)
        return original_scan(slices, *args, **kwargs)

    monkeypatch.setattr(pipeline, "scan_slices", slow_worker)
    return read_here


def _six_groups(generated: Path) -> list[list[Slice]]:
    """The plan of `_report([generated], 6, min_slice_bytes=1 << 18, processes=2)`."""
    from maillog_diag.scan import pipeline

    options = ScanOptions(zone=resolve_zone("UTC"), year=2026)
    return list(
        pipeline.plan_tasks([str(generated)], options, 6, 1 << 18, lead=pipeline.lead_share(2))
    )


def test_the_parent_keeps_its_last_group_unpacked(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group this process read waits packed while an earlier one is still being read
    (its objects would pile up), except the log's last group: nothing is left to read,
    so packing it would only add a pack and an unpack to the end of the run."""
    import os

    from maillog_diag.scan import pipeline

    parent = os.getpid()
    original_pack = pipeline._packed
    last_read = _slowed_workers(monkeypatch)
    packed: list[int] = []  # (filled in this process only)

    def recording_pack(part):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            packed.append(last_read[-1])
        return original_pack(part)

    monkeypatch.setattr(pipeline, "_packed", recording_pack)
    tasks = _six_groups(generated)
    last = tasks[-1][0].start
    assert len(tasks) >= 4 and last
    data = _report([str(generated)], 6, min_slice_bytes=1 << 18, processes=2)
    assert last in last_read  # the parent read the last group ...
    assert packed  # ... and packed groups that had to wait ...
    assert last not in packed  # ... but not the last one
    assert data == _report([str(generated)], 1)


def test_the_parent_reads_the_smaller_last_group_before_the_next(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan ends on a smaller range so that little is left to merge when the workers are
    done. When the merging process is free while that range and larger ones before it are
    still to read, it takes the last one, and the workers the ones in order before it (the
    other way round, a worker idles while this process reads a large range and then merges
    alone). The report is the same."""
    from maillog_diag.scan import pipeline

    read_here = _slowed_workers(monkeypatch)
    tasks = _six_groups(generated)
    starts = [group[0].start for group in tasks]
    sizes = [pipeline._group_bytes(group) for group in tasks]
    assert len(tasks) >= 5 and sizes[-1] < pipeline.LAST_SHARE * sizes[2]
    data = _report([str(generated)], 6, min_slice_bytes=1 << 18, processes=2)
    assert read_here[0] == 0  # its first group ...
    assert read_here[1] == starts[-1]  # ... then the last, not the next in order
    assert data == _report([str(generated)], 1)


def test_the_merging_process_takes_the_last_group_only_when_it_is_smaller() -> None:
    from maillog_diag.scan import pipeline

    assert pipeline._takes_last(3_000_000, 1_000_000)
    assert pipeline._takes_last(3_000_000, int(3_000_000 * pipeline.LAST_SHARE))
    assert not pipeline._takes_last(3_000_000, 2_999_000)  # equal ranges cut at lines
    assert not pipeline._takes_last(1_000_000, 3_000_000)


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_the_lead_leaves_the_merging_process_and_the_workers_as_busy(workers: int) -> None:
    """The merging process reads its lead and merges the rest (`MERGE_COST` of its reading);
    each of the other processes reads its share of the rest and packs it (`PACK_COST`)."""
    from maillog_diag.scan import pipeline

    share = pipeline.lead_share(workers)
    rest = 1 - share
    merging = share + pipeline.MERGE_COST * rest
    worker = rest * (1 + pipeline.PACK_COST) / (workers - 1)
    assert pipeline.PACK_COST > 0 and 0 < share < 1
    assert merging == pytest.approx(worker, rel=1e-9)
