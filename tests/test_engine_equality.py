"""The equality contract of the scan engine: however a scan is cut and merged, the JSON
report is the one a single process gives (except the fields in `NOT_COMPARED`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.partial import PartialScan, Slice, finish, merge, scan_slices
from maillog_diag.scan.pipeline import ScanOptions, scan_report

from .conftest import FIXTURES, SAMPLE_LOGS
from .test_bench_generator import write_generated
from .test_inputs import week  # noqa: F401 - the rotated-week fixture

NOT_COMPARED = ("max_open_messages",)
"""Fields that describe how a scan ran, not what the log says (see the README)."""

UTC = resolve_zone("UTC")

SAMPLES = [
    SAMPLE_LOGS / "postfix" / "mail.log",
    SAMPLE_LOGS / "postfix" / "mail.log.rfc3339",
    SAMPLE_LOGS / "postfix" / "maillog_file.log",
    SAMPLE_LOGS / "exim" / "mainlog",
    SAMPLE_LOGS / "exim" / "mainlog.millisec_tz",
    SAMPLE_LOGS / "sendmail" / "maillog",
    SAMPLE_LOGS / "sendmail" / "maillog.rfc3339",
    SAMPLE_LOGS / "opensmtpd" / "maillog",
    FIXTURES / "mixed_mta.log",
]


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in NOT_COMPARED}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def report(paths: list[str], jobs: int, *, year: int | None = 2026, **kw: Any) -> dict[str, Any]:
    """The JSON report (as a dict) of `paths` read with `jobs` slices per input."""
    options = ScanOptions(zone=UTC, year=year)
    builder, result = scan_report(paths, options, jobs, **kw)
    data = report_dict(builder, result, UTC, include_all=True, reasons=5)
    data["ignored_by_reason"] = result.counts.ignored_by_reason
    return _strip(data)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def straddling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Postfix log: deferred mail retried for hours, so messages (and session
    notes waiting for their process's next delivery) straddle every cut."""
    return write_generated(tmp_path_factory.mktemp("gen") / "mail.log", 23, 25_000)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_logs_cut_anywhere_give_the_one_process_report(sample: Path) -> None:
    one = report([str(sample)], 1)
    assert one["lines"]["total"] > 0
    for jobs in (2, 7):
        assert report([str(sample)], jobs, min_slice_bytes=1) == one, jobs


def test_cut_at_every_line_gives_the_one_process_report() -> None:
    """The hardest cut: every line its own slice, merged in order."""
    for sample in (SAMPLE_LOGS / "postfix" / "mail.log", FIXTURES / "exim_small.log"):
        options = ScanOptions(zone=UTC, year=2026)
        names = [str(sample)]
        data = sample.read_bytes()
        offsets = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
        if offsets[-1] != len(data):
            offsets.append(len(data))
        parts = [
            scan_slices(
                [Slice(str(sample), a, b, first=a == 0, last=b == len(data))],
                options,
                names,
                prior_unknown=a != 0,
            )
            for a, b in zip(offsets, offsets[1:], strict=False)
        ]
        # Merge as a tree (associativity), not only left to right.
        assert tree_report(parts, options) == report(names, 1), sample


def tree_report(parts: list[PartialScan], options: ScanOptions) -> dict[str, Any]:
    """The JSON report (as a dict, like `report`) of consecutive partial scans merged
    pairwise, as a tree; the merge must vouch for the one-pass answer."""
    while len(parts) > 1:
        parts = [
            merge(parts[i], parts[i + 1], options) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    assert parts[0].inexact is None
    builder, result = finish(parts[0], options)
    data = report_dict(builder, result, UTC, include_all=True, reasons=5)
    data["ignored_by_reason"] = result.counts.ignored_by_reason
    return _strip(data)  # type: ignore[no-any-return]


def test_generated_log_whose_messages_straddle_every_cut(straddling: Path) -> None:
    one = report([str(straddling)], 1)
    assert one["totals"]["recipients_deferred"] > 50
    size = os.path.getsize(straddling)
    for jobs in (2, 7, 16):
        assert report([str(straddling)], jobs, min_slice_bytes=size // 40) == one, jobs


def test_several_inputs_and_mixed_mtas(straddling: Path) -> None:
    paths = [str(FIXTURES / "postfix_small.log"), str(straddling), str(FIXTURES / "exim_small.log")]
    one = report(paths, 1)
    assert report(paths, 5, min_slice_bytes=1) == one


def test_rotated_week_over_new_year(week: tuple[Path, Path]) -> None:  # noqa: F811
    """Compressed rotations streamed in blocks, plain ones cut, yearless stamps across
    New Year: the same report as one pass, and the week in one plain file cut in 7."""
    from maillog_diag.input.sources import expand_inputs

    one_file, rot = week
    names = expand_inputs([str(rot / "mail.log")], rotated=True)
    serial = report(names, 1, year=None)
    assert report(names, 3, year=None, min_slice_bytes=1) == serial
    whole = report([str(one_file)], 1, year=None)
    assert report([str(one_file)], 7, year=None, min_slice_bytes=1) == whole


def test_a_reader_with_state_across_lines_is_not_cut() -> None:
    """OpenSMTPD's reader links sessions and routes across lines: a slice starting inside
    such a log says it cannot stand alone (and the scan is read in one pass)."""
    from maillog_diag.input.sources import cut_points

    log = SAMPLE_LOGS / "opensmtpd" / "maillog"
    size = log.stat().st_size
    a, b, end = cut_points(str(log), size, 2)
    options = ScanOptions(zone=UTC, year=2026)
    later = scan_slices(
        [Slice(str(log), b, end, first=False)], options, [str(log)], prior_unknown=True
    )
    assert later.inexact is not None and "opensmtpd" in later.inexact
    postfix = SAMPLE_LOGS / "postfix" / "mail.log"
    a, b, end = cut_points(str(postfix), postfix.stat().st_size, 2)
    fine = scan_slices(
        [Slice(str(postfix), b, end, first=False)], options, [str(postfix)], prior_unknown=True
    )
    assert fine.inexact is None


def _every_line_ref(root: Any) -> list[Any]:
    """Every `LineRef` reachable from `root` through containers and dataclasses (a walk
    of every object, which `shift_lines` avoids: it names the holders instead)."""
    from dataclasses import fields, is_dataclass

    from maillog_diag.core.model import LineRef

    found: list[Any] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (str, int, float, bool)):
            continue
        seen.add(id(obj))
        if isinstance(obj, LineRef):
            found.append(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif is_dataclass(obj):
            stack.extend(getattr(obj, f.name) for f in fields(obj))
        elif hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return found


@pytest.mark.parametrize("keep_lines", [False, True])
def test_shifting_line_numbers_reaches_every_line_reference(
    straddling: Path, keep_lines: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later slice's line numbers move by the lines before it: every reference held
    anywhere in its partial scan (statistics, open messages, head, parked, pending notes:
    the last two only where lines are kept, for `trace`) moves exactly once, by exactly
    that much; and so do the line numbers of packed attempts (packed from the second
    attempt here, so that this slice has some)."""
    from maillog_diag.core import correlate
    from maillog_diag.input.sources import cut_points

    monkeypatch.setattr(correlate, "PACK_AT", 1)
    from maillog_diag.scan.partial import shift_lines

    name = str(straddling)
    cuts = cut_points(name, straddling.stat().st_size, 3)
    options = ScanOptions(zone=UTC, year=2026, keep_lines=keep_lines)
    part = scan_slices(
        [Slice(name, cuts[1], cuts[2], first=False, last=False)],
        options,
        [name],
        prior_unknown=True,
    )
    refs = _every_line_ref(part)
    assert len(refs) > 400  # the slice holds references in many places
    state = part.state
    assert state["head"] and state["_open"] and part.builder.destinations
    before = {id(r): r.lineno for r in refs}
    packs = state.get("_packed") or {}
    assert packs  # held attempts in columns (`core.history`)
    packed_before = [a.ref.lineno for p in packs.values() for h in p.values() for a in h.unpack()]
    shift_lines(part, name, 1_000_000)
    assert all(r.lineno == before[id(r)] + 1_000_000 for r in refs)
    packed_after = [a.ref.lineno for p in packs.values() for h in p.values() for a in h.unpack()]
    assert packed_after == [n + 1_000_000 for n in packed_before]
