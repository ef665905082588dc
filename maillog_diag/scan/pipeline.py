"""Running a scan: one pass in one process, or slices read by several and merged.

This is the library entry point (`scan`, `collect_messages`, `scan_report`); the CLI adds
options and output. Inputs are read one after another as one stream, so a message that
starts in one file and ends in the next is one message. Each input gets its own year
inference (yearless syslog stamps are placed relative to that file's modification time).

`scan_report` is built on partial scans (`scan.partial`): with several processes, plain
files are cut into byte ranges at line starts and each worker reads only its ranges;
compressed inputs and pipes are read by this process, which hands blocks of lines to the
workers. The partial scans are merged in log order, which gives exactly the one-process
report (`tests/test_engine_equality.py`).
"""

from __future__ import annotations

import copyreg
import io
import multiprocessing
import operator
import os
import pickle
import signal
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import fields, is_dataclass, replace
from typing import Any

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.model import Message
from maillog_diag.errors import InputError
from maillog_diag.input.sources import (
    JOURNAL_INPUT,
    cut_points_at,
    first_line_at,
    read_journal,
    read_lines,
    splittable,
)
from maillog_diag.input.timestamps import MONTHS, TimeParser, YearInference
from maillog_diag.mta import no_removal_line
from maillog_diag.scan.base import (
    ScanOptions,
    ScanResult,
    input_order,
    report_emitter,
)
from maillog_diag.scan.lines import LineParser
from maillog_diag.scan.partial import (
    PartialScan,
    Slice,
    _backwards,
    collector_paused,
    finish,
    merge,
    read_input,
    record_classes,
    scan_slices,
)

__all__ = [
    "ScanOptions",
    "ScanResult",
    "collect_messages",
    "capped_jobs",
    "default_jobs",
    "input_order",
    "report_emitter",
    "scan",
    "scan_partial",
    "scan_report",
    "year_guesses",
]


def scan(
    inputs: Iterable[str], options: ScanOptions, emit: Callable[[Message], None]
) -> ScanResult:
    """Read every input in order and call `emit` for each message once it is finished.

    An input that cannot be read is recorded in `input_errors` and the others are still
    read; the caller decides the exit status.
    """
    result = ScanResult()
    correlator = Correlator(emit, keep_lines=options.keep_lines, no_removal_line=no_removal_line())
    time_parser = TimeParser(options.zone)
    parser = LineParser(time_parser)
    progress = options.progress
    done_bytes = 0
    total_lines = 0
    earlier_lines: set[int] = set()  # hashes of earlier inputs' lines inside `overlap`
    for name in inputs:
        try:
            if name == JOURNAL_INPUT and options.journal_cmd is not None:
                source, lines = read_journal(options.journal_cmd)
            else:
                source, lines = read_lines(name, options.max_line)
        except InputError as exc:
            result.input_errors.append(exc)
            continue
        parser.start_input(YearInference(reference=source.mtime, fixed=options.year))
        label = "<stdin>" if name == "-" else name
        read = read_input(
            lines,
            label,
            parser,
            correlator.feed,
            options,
            result.unparsed_sample,
            earlier_lines,
            source.position,
            (done_bytes, total_lines),
        )
        lineno, line = read.lines, read.last_line
        if read.backwards is not None:
            result.notes.append(_backwards(*read.backwards))
        if read.error is not None:
            result.input_errors.append(read.error)
        total_lines += lineno
        done_bytes += source.size if source.size is not None else source.position()
        if progress is not None:
            progress(done_bytes, total_lines)
        if line:
            # The log ends at its last line, used or not: held time runs to it.
            last = parser.line_time(line)
            if last is not None and (correlator.last_time is None or last > correlator.last_time):
                correlator.last_time = last
    correlator.finish()
    result.counts = parser.counts
    result.first_time = correlator.first_time
    result.last_time = correlator.last_time
    result.max_open_messages = correlator.max_open
    return result


def collect_messages(
    inputs: Iterable[str], options: ScanOptions
) -> tuple[list[Message], ScanResult]:
    """All finished messages in a list (for tests and small logs; `scan` streams)."""
    messages: list[Message] = []
    result = scan(inputs, options, messages.append)
    return messages, result


def default_jobs(inputs: Sequence[str], *, min_bytes: int = 32 * 1024 * 1024) -> int:
    """How many processes a report should use: one per core (at most 4) for regular files
    of `min_bytes` or more in all; one for pipes, small logs, or a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or cores < 2 or "-" in inputs:
        return 1
    total = 0
    for name in inputs:
        try:
            total += os.stat(name).st_size
        except OSError:
            return 1  # let the ordinary path report the error
    return min(cores, 4) if total >= min_bytes else 1


MIN_SLICE_BYTES = 4 * 1024 * 1024
"""A byte range is worth a worker's time only from about this size."""

MAX_SLICE_BYTES = 32 * 1024 * 1024
"""Plain files are cut into slices of at most this size (more slices than workers for a
big file), so that what a slice keeps for its merge stays bounded however long the log."""

LEAD_MAX_BYTES = 4 * MAX_SLICE_BYTES
"""The most the merging process reads as its first slice (`lead_share` of a long log would
be more). It merges nothing meanwhile, so the workers' results wait for it, packed: on
the 5M-line bench log (935 MiB, `-j 2`) a lead of 430 MiB left 13 of them waiting (about
85 MB) and the parent peaked at 232 MiB. After the lead it takes ordinary slices between
merges."""

SWITCH_SECONDS = 0.0002
"""The interpreter's thread switch interval while worker processes run (see `run_shared`)."""

BLOCK_BYTES = 8 * 1024 * 1024
"""Text handed to a worker at a time from an input this process reads (compressed
files, pipes, journal)."""

MERGE_COST = 0.15
"""CPU time the merging process spends on a worker's slice (unpacking its result, replaying
the mail in flight at its cut, accounting for that mail as it finishes) as a share of the
time the slice takes to read. Measured on the 1M-line bench log, 32 MB slices: reading
0.176 CPU s per MB, unpacking 0.008, merging 0.019 (it grows with the slice: on 97 MB, 1.9
CPU s), so about 0.15. See `lead_share`."""

PACK_COST = 0.12
"""CPU time a worker process spends packing a slice's result (`_packed`) as a share of the
time the slice takes to read. Measured on the 1M-line bench log, compiled build, 26 MB
slices: reading 0.79-0.92 s, packing 0.09-0.12 s (about 0.065 s of it whatever the
slice's size). See `lead_share`."""

JOB_MIN_BYTES = 4 * 1024 * 1024
"""The least input (bytes on disk) that justifies one more process: below it, starting a
process costs more than the parsing it takes over."""


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def capped_jobs(requested: int, inputs: Sequence[str]) -> int:
    """`requested` processes (`--jobs`), at most one per core available and one per
    `JOB_MIN_BYTES` of input; one for pipes."""
    total = 0
    for name in inputs:
        if name == "-":
            return 1
        try:
            total += os.stat(name).st_size
        except OSError:
            return 1
    return max(1, min(requested, _cores(), total // JOB_MIN_BYTES))


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def lead_share(workers: int) -> float:
    """The share of the input bytes the merging process reads itself as the first slice
    when `workers` processes read (itself included); 0 for one process (no lead).

    Every other slice costs the merging process `MERGE_COST` of its reading time, and the
    worker that read it `PACK_COST`, so with equal slices the merging process is the last
    to finish and the workers wait (on the 1M-line bench log, `-j 2`: the parent 23.0 CPU
    seconds, the worker 18.6). With `c` worker processes, m = `MERGE_COST` and p =
    `PACK_COST`, the share that leaves all as busy solves a + m (1 - a) = (1 - a) (1 + p) / c:
    a = (1 + p - c m) / (c (1 - m) + 1 + p), 0.49 for one worker, 0.29 for two, 0.18 for
    three (never below 0). Leaving out the pack cost (0.46 for one worker), the workers
    were behind when the lead ended: on the 200k-line Exim bench log (`-j 2`, compiled) the
    parent then read the last range itself while the worker idled. Six alternating runs of
    each: 1.18-1.24 s without, 1.13-1.20 s with; the 1M-line Postfix log: 4.22-4.24 s,
    4.17-4.34 s (the same JSON)."""
    children = workers - 1
    if children < 1:
        return 0.0
    m, p = MERGE_COST, PACK_COST
    return max(0.0, (1 + p - children * m) / (children * (1 - m) + 1 + p))


def scan_report(
    inputs: Sequence[str],
    options: ScanOptions,
    jobs: int = 1,
    *,
    min_slice_bytes: int = MIN_SLICE_BYTES,
    processes: int | None = None,
) -> tuple[ReportBuilder, ScanResult]:
    """Read the inputs into a `ReportBuilder`, in `jobs` slices per large input.

    With `jobs` 1 (or when every line must stream to a callback, or be kept) the inputs are
    one partial scan read here. Otherwise plain files are cut into about `jobs` byte ranges
    (at least `min_slice_bytes` each, at most `MAX_SLICE_BYTES`) read by worker processes
    (`processes`, default: `jobs` capped at the usable cores), other inputs are read here
    and handed over in blocks, and the partial scans are merged in log order. The result
    is the one-process report; in the rare case the merge cannot vouch for that
    (`PartialScan.inexact`) the inputs are read again in one pass.
    """
    part = scan_partial(inputs, options, jobs, min_slice_bytes=min_slice_bytes, processes=processes)
    return finish(part, options)


def scan_partial(
    inputs: Sequence[str],
    options: ScanOptions,
    jobs: int = 1,
    *,
    prior_unknown: bool = False,
    min_slice_bytes: int = MIN_SLICE_BYTES,
    processes: int | None = None,
) -> PartialScan:
    """The inputs as one partial scan (see `scan_report`), not yet finished: what a summary
    file holds. `prior_unknown`: the inputs continue a log read before (`--continued`)."""
    names = list(inputs)
    if jobs <= 1 or options.keep_lines or options.on_unparsed is not None or options.overlap:
        # (overlapping inputs are compared line by line in one process)
        return scan_slices([Slice(n) for n in names], options, names, prior_unknown=prior_unknown)
    workers = min(processes or jobs, usable_cores())
    if all(splittable(n) is not None for n in names):
        # Every slice is a byte range: this process reads slices too, between merges (and
        # a larger first one: `lead_share`).
        tasks = plan_tasks(names, options, jobs, min_slice_bytes, lead=lead_share(workers))
        part = run_shared(list(tasks), options, names, workers, prior_unknown=prior_unknown)
    else:
        tasks = plan_tasks(names, options, jobs, min_slice_bytes)
        part = run_tasks(tasks, options, names, workers, prior_unknown=prior_unknown)
    if part.inexact is not None:
        return scan_partial(names, options, 1, prior_unknown=prior_unknown)
    return part


def plan_tasks(
    names: list[str],
    options: ScanOptions,
    jobs: int,
    min_slice_bytes: int,
    *,
    lead: float = 0.0,
) -> Iterator[list[Slice]]:
    """The work of a scan as consecutive groups of slices, in log order (lazily: inputs
    this process reads are read as the groups are taken).

    A plain file is cut into about `jobs` ranges of at least `min_slice_bytes`, at most
    `MAX_SLICE_BYTES`. With a `lead` (a share of all plain files' bytes, see `lead_share`)
    the first input's first range is that share, at most `LEAD_MAX_BYTES` (the process that
    merges reads it, and keeps nothing of it for a merge) and the rest of the input
    is cut for the other `jobs - 1`, its last range in two (2:1), so the merges left when
    the last worker is done are small (`_lead_targets`)."""
    lead_bytes = 0
    if lead > 0:
        total = sum((splittable(n) or (0, None))[0] for n in names)
        lead_bytes = min(int(lead * total), LEAD_MAX_BYTES)
    for index, name in enumerate(names):
        plain = splittable(name)
        if plain is None:
            yield from _stream_blocks(name, options)
            continue
        size, mtime = plain
        targets = None
        if index == 0 and lead_bytes:
            targets = _lead_targets(size, lead_bytes, jobs, min_slice_bytes)
        if targets is None:
            pieces = min(jobs, size // max(1, min_slice_bytes))
            pieces = max(pieces, -(-size // MAX_SLICE_BYTES), 1)
            targets = [size * i // pieces for i in range(1, pieces)]
        if not targets:
            yield [Slice(name)]
            continue
        cuts = cut_points_at(name, size, targets)
        guesses = year_guesses([first_line_at(name, at) for at in cuts[:-1]], mtime, options)
        for i in range(len(cuts) - 1):
            yield [
                Slice(
                    name,
                    cuts[i],
                    cuts[i + 1],
                    first=i == 0,
                    last=i == len(cuts) - 2,
                    years=guesses[i] if i else None,
                )
            ]


def _lead_targets(size: int, lead: int, jobs: int, min_slice_bytes: int) -> list[int] | None:
    """Where to cut an input of `size` bytes whose first range is `lead` bytes (see
    `plan_tasks`); None when the lead or the rest would be under `min_slice_bytes`.

    The rest is cut evenly for `jobs - 1` processes (at most `MAX_SLICE_BYTES` a range),
    and its last range again at two thirds: the merge a slice costs grows with its length
    (`MERGE_COST`), and the last one is what keeps the workers idle at the end. On the
    1M-line bench log (186 MiB, `-j 2`): 91.6, 31.5, 31.5, 21.0 and 10.5 MiB."""
    step = max(1, min_slice_bytes)
    rest = size - lead
    if lead < step or rest < step:
        return None
    pieces = max(min(jobs - 1, rest // step), -(-rest // MAX_SLICE_BYTES), 1)
    targets = [lead + rest * i // pieces for i in range(pieces)]
    last = size - targets[-1]
    if last >= 2 * step:
        targets.append(size - last // 3)
    return targets


def _stream_blocks(name: str, options: ScanOptions) -> Iterator[list[Slice]]:
    """An input read here, handed on in blocks of about `BLOCK_BYTES` of text."""
    try:
        if name == JOURNAL_INPUT and options.journal_cmd is not None:
            source, lines = read_journal(options.journal_cmd)
        else:
            source, lines = read_lines(name)
    except InputError as exc:
        yield [Slice(name, error=exc)]
        return
    probes: list[str] = []
    block: list[str] = []
    size = 0
    first = True
    error: InputError | None = None
    try:
        for line in lines:
            if not block:
                probes.append(line)
            block.append(line)
            size += len(line)
            if size >= BLOCK_BYTES:
                guess = year_guesses(probes, source.mtime, options)[-1] if not first else None
                yield [
                    Slice(
                        name, first=first, last=False, lines=block, mtime=source.mtime, years=guess
                    )
                ]
                first, block, size = False, [], 0
    except InputError as exc:
        error = exc
    guess = year_guesses(probes, source.mtime, options)[-1] if not first and probes else None
    yield [
        Slice(
            name,
            first=first,
            last=True,
            lines=block,
            mtime=source.mtime,
            years=guess,
            error=error,
        )
    ]


def year_guesses(
    first_lines: list[str], mtime: float | None, options: ScanOptions
) -> list[YearInference]:
    """For each slice of an input (given its first line), a guess of the year state it
    starts in: the state after the first traditional syslog stamps of it and the slices
    before it. The merge checks each guess (`timestamps.replays_alike`)."""
    years = YearInference(reference=mtime, fixed=options.year)
    guesses = []
    for line in first_lines:
        month = MONTHS.get(line[:3])
        if month is not None and line[3:4] == " ":
            day = line[4:6].strip()
            if day.isdigit():
                years.year_for(month, int(day), options.zone)
        guesses.append(YearInference(years.reference, years.fixed, *years.state()))
    return guesses


def run_tasks(
    tasks: Iterable[list[Slice]],
    options: ScanOptions,
    names: list[str],
    workers: int,
    *,
    prior_unknown: bool = False,
) -> PartialScan:
    """Read the groups of slices in `workers` processes (one more group than workers
    under way at a time) and merge their partial scans in order."""
    quiet = replace(options, progress=None, on_unparsed=None)
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )
    done_lines = 0
    merged: PartialScan | None = None
    pending: list[Future[bytes]] = []
    try:
        first = not prior_unknown
        for task in tasks:
            pending.append(pool.submit(_scan_packed, task, quiet, names, not first))
            first = False
            while len(pending) > workers:
                merged, done_lines = _take(pending.pop(0), merged, options, done_lines)
        while pending:
            merged, done_lines = _take(pending.pop(0), merged, options, done_lines)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    assert merged is not None
    return merged


def _take(
    future: Future[bytes], merged: PartialScan | None, options: ScanOptions, lines: int
) -> tuple[PartialScan, int]:
    data = future.result()
    del future  # (it holds its bytes: they are not needed once unpacked)
    part = _unpacked(data)
    del data
    lines += part.counts.total
    merged = part if merged is None else merge(merged, part, options)
    if options.progress is not None:
        options.progress(0, lines)
    return merged, lines


def run_shared(
    tasks: list[list[Slice]],
    options: ScanOptions,
    names: list[str],
    workers: int,
    *,
    prior_unknown: bool = False,
) -> PartialScan:
    """Read the groups of slices (byte ranges, in log order) with `workers` processes, this
    one included, and merge their partial scans in order.

    This process is one of the workers: on `workers` cores, a parent that only waited and
    merged would leave a core idle while the workers run (or compete with them). Each
    worker process takes the next group not yet taken as soon as it is done with one (a
    callback of the pool's result thread hands it on); this process takes the first group,
    then the next one too (or the last one, when that is the smaller: `_takes_last`), and
    between groups merges what is ready in log order, so the merged scan grows from the
    log's start and results wait only while an earlier group is being read. A worker's
    result comes back as pickled bytes (`_packed`), unpacked only when merged.
    """
    quiet = replace(options, progress=None, on_unparsed=None)
    children = max(0, min(workers, len(tasks)) - 1)
    results: dict[int, Future[bytes] | PartialScan | bytes | None] = {}
    """Group index -> its result: a worker's future, a scan read here (packed while it
    waits for an earlier group), or None while a worker's group is being handed over."""
    lock = threading.Condition()
    unclaimed = deque(range(len(tasks)))
    sizes = [_group_bytes(task) for task in tasks]
    stopped = False

    def claim(merging: bool = False) -> int | None:
        """The next group not yet taken; for this process (`merging`), the last one instead
        when it is the smaller (see `_takes_last`)."""
        with lock:
            if stopped or not unclaimed:
                return None
            if merging and _takes_last(sizes[unclaimed[0]], sizes[unclaimed[-1]]):
                index = unclaimed.pop()
            else:
                index = unclaimed.popleft()
            results[index] = None
            return index

    pool: ProcessPoolExecutor | None = None

    def hand_on(_done: object = None) -> None:
        """Give a worker process the next group (called again when it is done)."""
        index = claim()
        if index is None or pool is None:
            return
        prior = prior_unknown or index > 0
        try:
            future = pool.submit(_scan_packed, tasks[index], quiet, names, prior)
        except RuntimeError:  # the pool was shut down (an error elsewhere): stop handing on
            return
        with lock:
            results[index] = future
            lock.notify_all()
        future.add_done_callback(_notify(lock))
        future.add_done_callback(hand_on)

    if children:
        pool = ProcessPoolExecutor(
            max_workers=children,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )
    merged: PartialScan | None = None
    done_lines = 0
    next_merge = 0
    switch = sys.getswitchinterval()
    if children:
        # The pool's threads here take a worker's result and hand it its next group; each
        # step needs the interpreter lock, which this thread's scan holds for the whole
        # switch interval (5 ms) every time: measured on 1M lines, a worker then waited
        # 1.2-1.7 s between groups (24.1 s in all); at 0.2 ms, 0.06-0.09 s (19.2 s). A
        # scan alone on its thread never switches, so it costs nothing otherwise.
        sys.setswitchinterval(SWITCH_SECONDS)
    try:
        # This process reads the first group itself: the merged scan starts as it is read,
        # with nothing to pack or unpack (a worker that took it would pack it, and this
        # process pack its own later group while it waited for it).
        own = claim()
        for _ in range(children):
            hand_on()
        while next_merge < len(tasks):
            if own is None:
                merged, next_merge, done_lines = _merge_ready(
                    results, merged, next_merge, options, done_lines, lock
                )
                own = claim(merging=True)
            if own is not None:
                index, own = own, None
                prior = prior_unknown or index > 0
                part = scan_slices(tasks[index], quiet, names, prior_unknown=prior)
                merged, next_merge, done_lines = _merge_ready(
                    results, merged, next_merge, options, done_lines, lock
                )
                # A group that cannot be merged yet (an earlier one is still being read)
                # waits packed, as a worker's does: its objects would otherwise pile up.
                # The last group stays whole: nothing is left to read, so it is the only
                # one of this process to wait, and packing it would add a pack and an
                # unpack to the run's serial end (1M-line bench log, `-j 2`, compiled:
                # 0.04 + 0.02 s).
                whole = index == next_merge or index == len(tasks) - 1
                kept: PartialScan | bytes = part if whole else _packed(part)
                del part
                with lock:
                    results[index] = kept
                continue
            with lock:  # everything is taken: wait for the next group in order
                while next_merge < len(tasks) and not _ready(results.get(next_merge)):
                    lock.wait(0.5)
    except BaseException:
        with lock:
            stopped = True
        if pool is not None:
            _stop(pool)
        raise
    finally:
        sys.setswitchinterval(switch)
    if pool is not None:
        pool.shutdown()
    assert merged is not None
    return merged


def _group_bytes(group: list[Slice]) -> int:
    """The bytes a group of byte ranges covers (a range to the end: to the file's size)."""
    total = 0
    for piece in group:
        end = piece.end
        if end is None:
            end = (splittable(piece.name) or (0, None))[0]
        total += end - piece.start
    return total


LAST_SHARE = 0.75
"""The merging process takes the last group left rather than the next when the last is
at most this share of the next's bytes (cuts at line boundaries make equal ranges differ by
a line or so)."""


def _takes_last(next_bytes: int, last_bytes: int) -> bool:
    """Whether the merging process, once its first group is read, should take the last group
    not yet taken rather than the next. The plan ends on smaller ranges (`plan_tasks`)
    so that little is left to merge when the workers are done; the process that also merges
    should read the smallest of them, and the workers the larger ones before it. Taking
    the next in order instead, it read the larger one whenever its lead ended just before
    a worker's range did (1M-line bench log, `-j 2`, compiled: a 17 MB range while the
    worker took the 8 MB last one, then idled for 0.7 s)."""
    return last_bytes <= LAST_SHARE * next_bytes


def _ready(result: Future[bytes] | PartialScan | bytes | None) -> bool:
    return result is not None and (not isinstance(result, Future) or result.done())


def _notify(lock: threading.Condition) -> Callable[[object], None]:
    def notify(_done: object) -> None:
        with lock:
            lock.notify_all()

    return notify


def _merge_ready(
    results: dict[int, Future[bytes] | PartialScan | bytes | None],
    merged: PartialScan | None,
    next_merge: int,
    options: ScanOptions,
    lines: int,
    lock: threading.Condition,
) -> tuple[PartialScan | None, int, int]:
    """Merge the results that are ready, in log order from `next_merge` on (a worker's
    error is raised here)."""
    while True:
        with lock:
            result = results.get(next_merge)
            if not _ready(result):
                return merged, next_merge, lines
            del results[next_merge]
        assert result is not None
        if isinstance(result, PartialScan):
            part = result
        else:
            data = result.result() if isinstance(result, Future) else result
            del result  # (a future holds its bytes: they are not needed once unpacked)
            part = _unpacked(data)
            del data
        lines += part.counts.total
        merged = part if merged is None else merge(merged, part, options)
        # What is left of a merged scan (its head, born keys) goes now, not after the
        # next result is unpacked.
        part = result = None  # type: ignore[assignment]
        next_merge += 1
        if options.progress is not None:
            options.progress(0, lines)


def _scan_packed(
    slices: list[Slice], options: ScanOptions, names: list[str], prior_unknown: bool
) -> bytes:
    """In a worker process: the partial scan of `slices`, pickled (see `_packed`)."""
    return _packed(scan_slices(slices, options, names, prior_unknown=prior_unknown))


def _packed(part: PartialScan) -> bytes:
    """A partial scan as pickled bytes (compact records, see `_Packer`), with the cyclic
    garbage collector paused.

    Pickling and unpickling a partial scan allocate tens of thousands of containers; with
    the collector on, each batch of them starts a collection that walks every live object
    of the process (measured on a 100,000-line slice: about 0.5 s to load with the
    collector, 0.1 s without; dumping 0.27-0.53 s, 0.25 s without). Bytes also keep a
    result that waits for its merge compact (a few MB rather than its objects)."""
    with collector_paused():
        out = io.BytesIO()
        _Packer(out, protocol=pickle.HIGHEST_PROTOCOL).dump(part)
        return out.getvalue()


def _unpacked(data: bytes) -> PartialScan:
    """The partial scan `_packed` gave (see there for why the collector pauses)."""
    with collector_paused():
        part: PartialScan = pickle.loads(data)  # noqa: S301 - our own worker's bytes
    return part


def _counter_reduced(counts: Counter[Any]) -> tuple[Any, ...]:
    """A `Counter` made empty (no `__init__`) and filled item by item: no copy of it as a
    plain dict, which default pickling makes and keeps alive to the end of the load."""
    return _NEWOBJ, (Counter,), None, None, iter(counts.items()) if counts else None


_NEWOBJ: Callable[..., Any] = copyreg.__newobj__  # type: ignore[attr-defined]
"""`cls.__new__(cls)`: the pickler writes it as its NEWOBJ opcode."""


def _record_reducer(cls: type, names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    get = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (cls, (get(obj),))
    return lambda obj: (cls, get(obj))


def _slot_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of a dataclass whose slots (over its bases), or under the accelerated
    build whose compiled attributes, are exactly its fields, in `__init__` order; None for
    any other class."""
    if not is_dataclass(cls):
        return None
    compiled = vars(cls).get("__mypyc_attrs__")  # a class of the accelerated build (mypyc)
    if compiled is not None:
        slots = set(compiled)
        slots.discard("__dict__")
    elif "__slots__" not in vars(cls):
        return None
    else:
        slots = set()
        for base in cls.__mro__:
            declared = vars(base).get("__slots__", ())
            slots.update((declared,) if isinstance(declared, str) else declared)
        slots.discard("__weakref__")
    names = tuple(f.name for f in fields(cls))
    if set(names) != slots or not all(f.init for f in fields(cls)):
        return None
    return names


def _reducers() -> dict[type, Callable[[Any], Any]]:
    """Compact pickling for the records of a partial scan (every slotted dataclass a
    summary may hold, `partial.record_classes`) and for `Counter`s."""
    classes, _ = record_classes()
    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    table[Counter] = _counter_reduced
    for cls in classes.values():
        names = _slot_fields(cls)
        if names:
            table[cls] = _record_reducer(cls, names)
    return table


class _Packer(pickle.Pickler):
    """Pickles a slotted dataclass record as its class and a tuple of its field values
    (rebuilt by calling the class), not as the default `(None, {slot: value})` state.

    The unpickler keeps every object it built until the load ends (its memo), and with the
    default a dict of field names per record is among them: on a 32 MB slice of the bench
    log (247,000 objects, 45,000 records, 23,000 Counters) the load peaked at 39.8 MiB for
    a result of 17.7 MiB; records as tuples and Counters filled in place: 25.6 MiB, and
    the bytes shrink from 5.6 to 4.4 MB (`tests/test_packing.py` checks the round trip)."""

    dispatch_table = _reducers()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (an interrupt, or a failure): none outlives the scan."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()


def _worker_start(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent (which stops the workers), and die
    with the parent whatever ends it (Linux `PR_SET_PDEATHSIG`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
