"""A worker's partial scan travels to the parent as pickled bytes (`pipeline._packed`):
the compact records must give back exactly the scan that was packed."""

from __future__ import annotations

import copy
import json
import pickle
from collections import Counter
from pathlib import Path

import pytest

from maillog_diag.core.correlate import settle_packed
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan.partial import PartialScan, Slice, scan_slices
from maillog_diag.scan.pipeline import ScanOptions, _packed, _Packer, _slot_fields, _unpacked
from maillog_diag.scan.summary import CLASSES, encode

from .conftest import FIXTURES
from .test_bench_generator import write_generated

UTC = resolve_zone("UTC")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("gen") / "mail.log", 31, 12_000)


def _canonical(part: PartialScan) -> str:
    """The scan as a summary would write it (attempts in columns as records, on a copy)."""
    part = copy.deepcopy(part)
    settle_packed(part.state)
    return json.dumps(encode(part), sort_keys=True)


def _slices(path: Path, cuts: int) -> list[PartialScan]:
    data = path.read_bytes()
    bounds = [0]
    for i in range(1, cuts):
        at = data.index(b"\n", len(data) * i // cuts) + 1
        bounds.append(at)
    bounds.append(len(data))
    options = ScanOptions(zone=UTC, year=2026)
    return [
        scan_slices(
            [Slice(str(path), a, b, first=a == 0, last=b == len(data))],
            options,
            [str(path)],
            prior_unknown=a != 0,
        )
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def test_every_record_class_of_a_summary_is_packed_compactly() -> None:
    compact = [name for name, cls in CLASSES.items() if cls in _Packer.dispatch_table]
    others = sorted(set(CLASSES) - set(compact))
    assert others == ["ReportBuilder"]  # a plain class: pickled with its attribute dict
    assert Counter in _Packer.dispatch_table


def test_packing_round_trip_gives_the_same_scan(generated: Path) -> None:
    parts = _slices(generated, 3)
    # A later slice holds what only a merge can settle (head, born, parked, awaiting).
    later = parts[1].state
    assert later["head"] and later["born"]
    for part in parts:
        before = _canonical(part)
        again = _unpacked(_packed(part))
        assert _canonical(again) == before
        # The default pickle gives the same scan too (what the compact form replaces).
        assert _canonical(pickle.loads(pickle.dumps(part))) == before


def test_shared_references_stay_shared(generated: Path) -> None:
    """A line reference held by an attempt and by a reason's example is one object after
    the trip, as before it (`partial.shift_lines` moves it once)."""
    (part,) = _slices(generated, 1)
    again = _unpacked(_packed(part))
    refs: dict[int, int] = {}
    for stats in again.builder.destinations.values():
        for stat in stats.reasons.values():
            if stat.example_ref is not None:
                refs[id(stat.example_ref)] = refs.get(id(stat.example_ref), 0) + 1
        for cause in stats.causes.values():
            if cause.example_ref is not None:
                refs[id(cause.example_ref)] = refs.get(id(cause.example_ref), 0) + 1
    assert refs and max(refs.values()) > 1


def test_mixed_mta_scan_round_trips() -> None:
    path = FIXTURES / "mixed_mta.log"
    options = ScanOptions(zone=UTC, year=2026)
    part = scan_slices([Slice(str(path))], options, [str(path)], prior_unknown=False)
    assert _canonical(_unpacked(_packed(part))) == _canonical(part)


def test_slot_fields_refuses_classes_it_cannot_rebuild() -> None:
    class Plain:
        pass

    assert _slot_fields(Plain) is None
    assert _slot_fields(PartialScan) is not None
