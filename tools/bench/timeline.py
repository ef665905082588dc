#!/usr/bin/env python3
"""Who does what, when, in a parallel `report`: a timeline of one `scan_report` run with
`--jobs N`, step by step and process by process.

`scaling.py` estimates from costs measured one after the other; this shows the schedule a
real run follows on this machine: for each process (the parent, which also reads, and the
workers), when it read which slices, packed its result, and (the parent) unpacked and
merged each result, then finished. Steps are recorded by wrapping the pipeline's own
functions (`scan_slices`, `_packed`, `_unpacked`, `merge`, `finish`) in this process
before the workers are forked, so they are measured where they run. Times are seconds of
wall time since the scan started.

    python tools/bench/timeline.py --file bench-data/postfix-1000000-seed20261126.log -j 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("maillog_diag") is None:
    sys.path.insert(0, str(HERE.parent.parent))  # measure this checkout (see scaling.py)

from dateutil import tz  # noqa: E402

from maillog_diag.scan import partial, pipeline  # noqa: E402
from maillog_diag.scan.base import ScanOptions  # noqa: E402


def _recorder(path: Path, start: float) -> Callable[[str, float, float, str], None]:
    def record(step: str, began: float, ended: float, detail: str = "") -> None:
        with path.open("a") as out:  # one line per step: forked workers append too
            row = [os.getpid(), step, round(began - start, 3), round(ended - start, 3), detail]
            out.write(json.dumps(row) + "\n")

    return record


def instrument(record: Callable[[str, float, float, str], None]) -> None:
    """Wrap the pipeline's steps so that each records when it ran, in whichever process."""
    scan, packed, unpacked, merge = (
        pipeline.scan_slices,
        pipeline._packed,
        pipeline._unpacked,
        pipeline.merge,
    )

    def scan_slices(slices: Iterable[partial.Slice], *args: Any, **kwargs: Any) -> Any:
        sizes: list[str] = []

        def counted() -> Iterator[partial.Slice]:
            for piece in slices:
                end = piece.end if piece.end is not None else piece.start
                sizes.append(f"{piece.start / 1e6:.1f}-{end / 1e6:.1f}MB")
                yield piece

        began = time.perf_counter()
        try:
            return scan(counted(), *args, **kwargs)
        finally:
            record("read", began, time.perf_counter(), " ".join(sizes))

    def timed(step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                record(step, began, time.perf_counter(), "")

        return wrapper

    pipeline.scan_slices = scan_slices  # type: ignore[assignment]
    pipeline._packed = timed("pack", packed)  # type: ignore[assignment]
    pipeline._unpacked = timed("unpack", unpacked)  # type: ignore[assignment]
    pipeline.merge = timed("merge", merge)  # type: ignore[assignment]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--file", required=True)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="the rows as JSON")
    args = ap.parse_args()
    options = ScanOptions(zone=tz.UTC, year=2026)
    with tempfile.TemporaryDirectory(prefix="maillog-diag-timeline-") as tmp:
        log = Path(tmp) / "steps"
        start = time.perf_counter()
        record = _recorder(log, start)
        instrument(record)
        part = pipeline.scan_partial([args.file], options, args.jobs)
        began = time.perf_counter()
        pipeline.finish(part, options)
        record("finish", began, time.perf_counter(), "")
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    parent = os.getpid()
    rows.sort(key=lambda r: r[2])
    if args.json:
        json.dump(rows, sys.stdout)
        return 0
    names: dict[int, str] = {parent: "parent"}
    for pid, *_ in rows:
        names.setdefault(pid, f"worker {len(names)}")
    for pid, step, began, ended, detail in rows:
        print(f"{began:7.2f} {ended:7.2f} {ended - began:6.2f}  {names[pid]:<9} {step:<7} {detail}")
    end = max(r[3] for r in rows)
    for pid, name in names.items():
        busy = sum(r[3] - r[2] for r in rows if r[0] == pid)
        last = max(r[3] for r in rows if r[0] == pid)
        print(f"{name}: busy {busy:.2f} s, last step ends at {last:.2f} of {end:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
