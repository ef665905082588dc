#!/usr/bin/env python3
"""Scaling estimates for issue 12: wall time on 2, 8 and 64 cores from measured per-slice
costs, and the time to merge 1,000 host summaries.

A 2-core machine shared with other work cannot show what 8 or 64 cores would do, and even
its own 1 -> 2 worker speed-up moves with the load. This script measures, in one process
and in CPU seconds (`time.process_time`, which the load of other processes does not
inflate as much as wall time), what each step of a parallel scan costs:

* per slice (the log cut into N byte ranges as `report --jobs N` cuts it): reading it into
  a partial scan, packing it for the trip from a worker (`pipeline._packed`), unpacking it
  in the parent, merging it into the partial scan of the slices before it;
* once: closing what is open at the end (`partial.finish`), building the JSON report, and
  starting the program (imports, measured as a separate process);

then replays the schedule `pipeline.run_shared` follows (the parent and N - 1 worker
processes each take the next slice when free; the parent merges in log order between its
own slices) with those costs, for N = 2, 8 and 64 cores. The estimate assumes a core per
process and a disk that keeps up; it leaves out the fork (about a millisecond per worker
here) and the page cache.

Summaries: `--summaries 1000` writes 1,000 small generated logs of different hosts, makes
a summary of each in this process with the code `maillog-diag summarize` runs
(`scan_partial`, `write_summary`: starting the command 1,000 times would only measure
Python's start-up), then times the command `maillog-diag merge ... --format json` on all
of them (wall time and peak RSS from GNU time).

    python tools/bench/scaling.py --file bench-data/postfix-1000000-seed20261126.log
    python tools/bench/scaling.py --file LOG --cores 2 8 64 --summaries 1000 --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC
from io import StringIO
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("maillog_diag") is None:
    # Not installed in this Python: measure this checkout. An installed copy (the compiled
    # build in its own virtual environment, `tools/compiled/wheel.py`) is measured as it is.
    sys.path.insert(0, str(HERE.parent.parent))

from run_bench import find_cli  # noqa: E402

from maillog_diag.output.jsontext import write_json  # noqa: E402
from maillog_diag.output.serialize import report_dict  # noqa: E402
from maillog_diag.scan.partial import PartialScan, Slice, finish, merge, scan_slices  # noqa: E402
from maillog_diag.scan.pipeline import (  # noqa: E402
    MIN_SLICE_BYTES,
    ScanOptions,
    _packed,
    _unpacked,
    lead_share,
    plan_tasks,
    scan_partial,
)
from maillog_diag.scan.summary import settings_of, write_summary  # noqa: E402


@dataclass
class SliceCost:
    """CPU seconds of one slice's steps (see the module docstring)."""

    lines: int
    scan: float
    pack: float
    unpack: float
    merge: float
    packed_bytes: int


@dataclass
class Costs:
    """What a scan cut into `len(slices)` slices costs, step by step (CPU seconds)."""

    slices: list[SliceCost]
    finish: float
    render: float


def _cpu() -> float:
    return time.process_time()


def measure(path: str, pieces: int, options: ScanOptions) -> Costs:
    """Read `path` cut as `report --jobs PIECES` cuts it on `pieces` cores (the merging
    process's larger first slice, `lead_share`, then ranges of at most `MAX_SLICE_BYTES`),
    one slice after the other, timing every step."""
    names = [path]
    tasks = (
        list(plan_tasks(names, options, pieces, MIN_SLICE_BYTES, lead=lead_share(pieces)))
        if pieces > 1
        else [[Slice(path)]]
    )
    merged: PartialScan | None = None
    costs: list[SliceCost] = []
    for index, task in enumerate(tasks):
        start = _cpu()
        part = scan_slices(task, options, names, prior_unknown=index > 0)
        scanned = _cpu()
        data = _packed(part)
        packed = _cpu()
        part = _unpacked(data)
        unpacked = _cpu()
        merged = part if merged is None else merge(merged, part, options)
        merged_at = _cpu()
        costs.append(
            SliceCost(
                part.counts.total,
                scanned - start,
                packed - scanned,
                unpacked - packed,
                merged_at - unpacked,
                len(data),
            )
        )
    assert merged is not None
    start = _cpu()
    builder, result = finish(merged, options)
    finished = _cpu()
    with open(os.devnull, "w") as sink:  # as `report --format json` writes it
        write_json(report_dict(builder, result, UTC, rows_when_written=True), sink)
    return Costs(costs, finished - start, _cpu() - finished)


def simulate(costs: Costs, cores: int) -> float:
    """Seconds from the start of the scan to the report, when `cores` processes (the parent
    and `cores - 1` workers) share the slices as `pipeline.run_shared` does."""
    slices = costs.slices
    n = len(slices)
    free = [0.0] * max(0, min(cores, n) - 1)  # when each worker process is next free
    ready = [float("inf")] * n  # when each slice's result can be merged
    local = [False] * n
    # The parent takes the first slice itself before it hands the next ones to the workers
    # (`run_shared`: `own = claim()`): they start on slices 1, 2, ... at once.
    parent = slices[0].scan
    ready[0], local[0] = parent, True
    taken, merged = 1, 0

    def merge_ready() -> None:
        nonlocal parent, merged
        while merged < n and ready[merged] <= parent:
            cost = slices[merged]
            parent += (0.0 if local[merged] else cost.unpack) + (cost.merge if merged else 0.0)
            merged += 1

    while taken < n:
        worker = min(range(len(free)), key=free.__getitem__) if free else None
        if worker is not None and free[worker] <= parent:
            cost = slices[taken]
            ready[taken] = free[worker] = free[worker] + cost.scan + cost.pack
            taken += 1
            continue
        merge_ready()
        if worker is not None and free[worker] <= parent:
            continue  # a worker came free while the parent merged: it took the next slice
        parent += slices[taken].scan
        ready[taken], local[taken] = parent, True
        taken += 1
    while merged < n:
        parent = max(parent, ready[merged])
        merge_ready()
    return parent + costs.finish + costs.render


def import_seconds(python: str) -> float:
    """Wall seconds to start Python and import the command (median of three)."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([python, "-c", "import maillog_diag.cli.app"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def summaries_merge(count: int, lines: int, cli: str, keep: Path | None) -> dict[str, Any]:
    """Write `count` summaries of generated logs of different hosts; time `merge`."""
    import gen_postfix

    folder = Path(tempfile.mkdtemp(prefix="maillog-summaries-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    options = ScanOptions(zone=UTC, year=2026)
    settings = settings_of("UTC", 2026, options.window)
    start = time.perf_counter()
    names = []
    for i in range(count):
        log = folder / f"mx{i}.log"
        buf = StringIO()
        gen_postfix.Generator(seed=1000 + i, hostname=f"mx{i}").run(lines, buf)
        log.write_text(buf.getvalue())
        part = scan_partial([str(log)], options, 1)
        name = folder / f"mx{i}.summary.gz"
        with open(name, "wb") as out:
            write_summary(part, settings, out, compress=True)
        log.unlink()
        names.append(str(name))
    made = time.perf_counter() - start
    size = sum(os.path.getsize(n) for n in names)
    timer = shutil.which("time") or "/usr/bin/time"
    argv = [cli, "merge", *names, "--format", "json"]
    use_time = os.path.exists(timer)
    if use_time:
        argv = [timer, "-f", "%e %M", *argv]
    start = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    peak_kib = None
    if use_time and run.stderr.strip():
        last = run.stderr.strip().splitlines()[-1].split()
        if len(last) == 2:
            peak_kib = int(last[1])
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "summaries": count,
        "lines_each": lines,
        "summary_bytes_total": size,
        "make_seconds": round(made, 2),
        "merge_exit": run.returncode,
        "merge_wall_seconds": round(wall, 2),
        "merge_peak_rss_mib": round(peak_kib / 1024, 1) if peak_kib else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", help="a plain (uncompressed) log (needed for --cores)")
    ap.add_argument(
        "--cores", type=int, nargs="*", default=[2, 8, 64], help="none: only --summaries"
    )
    ap.add_argument("--tz", default="UTC")
    ap.add_argument("--summaries", type=int, default=0, help="also time merging N summaries")
    ap.add_argument("--summary-lines", type=int, default=1000)
    ap.add_argument("--keep-summaries", type=Path, help="write the summaries here and keep them")
    ap.add_argument(
        "--cli", help="the maillog-diag command (default: beside this Python, else on PATH)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    options = ScanOptions(zone=UTC)
    import maillog_diag

    build = "compiled by mypyc" if maillog_diag.compiled() else "pure Python"
    report: dict[str, Any] = {
        "cores": [],
        "build": f"{build}, {Path(maillog_diag.__file__).parent}",
    }
    serial = started = 0.0
    if args.cores:
        if not args.file:
            ap.error("--cores needs --file")
        started = import_seconds(sys.executable)
        one = measure(args.file, 1, options)
        serial = started + simulate(one, 1)
        report.update(
            {
                "file": args.file,
                "lines": one.slices[0].lines,
                "import_seconds": round(started, 3),
                "one_process": {
                    "scan": round(one.slices[0].scan, 3),
                    "finish": round(one.finish, 3),
                    "render": round(one.render, 3),
                    "estimated_wall": round(serial, 3),
                },
            }
        )
    for cores in args.cores:
        costs = measure(args.file, cores, options)
        wall = started + simulate(costs, cores)
        slices = costs.slices
        report["cores"].append(
            {
                "cores": cores,
                "slices": len(slices),
                "scan_total": round(sum(s.scan for s in slices), 3),
                "scan_largest": round(max(s.scan for s in slices), 3),
                "pack_total": round(sum(s.pack for s in slices), 3),
                "unpack_total": round(sum(s.unpack for s in slices), 3),
                "merge_total": round(sum(s.merge for s in slices), 3),
                "packed_mb_largest": round(max(s.packed_bytes for s in slices) / 1e6, 2),
                "finish": round(costs.finish, 3),
                "render": round(costs.render, 3),
                "estimated_wall": round(wall, 3),
                "estimated_speedup": round(serial / wall, 2),
                "per_slice": [asdict(s) for s in slices] if args.json else None,
            }
        )
    if args.summaries:
        report["summaries"] = summaries_merge(
            args.summaries, args.summary_lines, find_cli(args.cli)[0][0], args.keep_summaries
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if args.cores:
        print(f"{report['file']}: {report['lines']:,} lines; start-up {started:.2f} s")
        print(f"measured: {report['build']}")
        o = report["one_process"]
        print(
            f"1 process: scan {o['scan']:.2f} s, finish {o['finish']:.2f} s, "
            f"render {o['render']:.2f} s -> {o['estimated_wall']:.2f} s"
        )
    for row in report["cores"]:
        print(
            f"{row['cores']:>3} cores, {row['slices']} slices: scan {row['scan_total']:.2f} s "
            f"(largest {row['scan_largest']:.2f}), pack {row['pack_total']:.2f}, unpack "
            f"{row['unpack_total']:.2f}, merge {row['merge_total']:.2f}, finish "
            f"{row['finish']:.2f}, render {row['render']:.2f} -> estimated "
            f"{row['estimated_wall']:.2f} s, speed-up {row['estimated_speedup']:.2f}x"
        )
    if args.summaries:
        s = report["summaries"]
        print(
            f"merge of {s['summaries']:,} summaries ({s['lines_each']:,} lines each, "
            f"{s['summary_bytes_total'] / 1e6:.1f} MB): {s['merge_wall_seconds']:.2f} s wall, "
            f"peak {s['merge_peak_rss_mib']} MiB, exit {s['merge_exit']}"
            f" (making them took {s['make_seconds']:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
