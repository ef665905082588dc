"""Partial scans: one slice of input read into a mergeable summary.

Every way of running a scan is built on this model. A *slice* is a byte range of a plain
file cut at line starts, a whole input (compressed file, pipe, journal), or a block of
lines a reader handed over. `scan_slices` reads consecutive slices into a `PartialScan`:
line accounting, per-destination statistics and reasons (the `ReportBuilder` of the
messages finished in it), the correlator's state at its end (messages still open, session
notes pending per process) and, for a slice that does not start the scan, what it could
not decide alone (`core.correlate`). `merge(a, b)` continues `a` with `b`, the scan that
follows it: merging the slices of a log in order gives exactly the one-process answer, and
merging is associative. `finish` closes what is still open and gives the report.

Line numbers of a slice that starts inside an input count from the slice's start until it
is merged after the slice before it (which knows how many lines came first).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, is_dataclass
from enum import Enum
from typing import Any

from maillog_diag.core import (
    analysis,
    causes,
    classify,
    correlate,
    diagnosis,
    hints,
    model,
    quantiles,
    window,
)
from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.correlate import PACKED_FIELD, Correlator, HeadReference, HeadRetries
from maillog_diag.core.model import Event, LineRef, Message
from maillog_diag.errors import InputError, UnparsableLine
from maillog_diag.input import timestamps
from maillog_diag.input.sources import JOURNAL_INPUT, read_journal, read_lines, read_range
from maillog_diag.input.timestamps import (
    TimeParser,
    YearInference,
    format_duration,
    replays_alike,
)
from maillog_diag.mta import no_removal_line
from maillog_diag.scan import lines as lines_module
from maillog_diag.scan.base import (
    PROGRESS_EVERY,
    UNPARSED_SAMPLE,
    ScanOptions,
    ScanResult,
    input_order,
    report_emitter,
)
from maillog_diag.scan.lines import LineCounts, LineParser

BACKWARD_SLACK_SECONDS = 60.0
"""How far a line's stamp may lie before an earlier line's of the same input without a
warning: processes write to syslog a little out of order."""

DUPLICATE_REASON = "same line in an earlier input"
"""The ignored-line reason of a line read once already from an overlapping input."""


@dataclass(slots=True)
class Slice:
    """One piece of one input: a byte range `[start, end)` of a plain file, the whole input
    (`end` None), or lines handed over in `text`."""

    name: str
    """The input as given (`-` for stdin)."""
    start: int = 0
    end: int | None = None
    first: bool = True
    """Whether the slice starts its input."""
    last: bool = True
    """Whether the slice ends its input."""
    years: YearInference | None = None
    """For a slice inside an input: the year inference state it starts in (a guess the
    merge checks)."""
    lines: list[str] | None = None
    """Lines handed over by a reader instead of a range."""
    mtime: float | None = None
    """With `lines`: the modification time of the input (year inference)."""
    error: InputError | None = None
    """With `lines`: the error that ended reading the input after them."""
    reader_state: dict[str, Any] | None = None
    """For a slice that continues a scan read before (`--state`): what the stateful readers
    remembered at its end (`PartialScan.reader_state`), so the cut loses nothing."""

    @property
    def label(self) -> str:
        """The name line references use."""
        return "<stdin>" if self.name == "-" else self.name


@dataclass(slots=True)
class PartialScan:
    """What one or more consecutive slices gave (see the module docstring)."""

    inputs: list[str]
    """Display names of all inputs of the scan, in order (ranks examples)."""
    builder: ReportBuilder
    state: dict[str, Any]
    """The correlator's state at the end (`Correlator.export`)."""
    counts: LineCounts = field(default_factory=LineCounts)
    unparsed_sample: list[UnparsableLine] = field(default_factory=list)
    input_errors: list[InputError] = field(default_factory=list)
    backwards: list[tuple[str, int, float, float]] = field(default_factory=list)
    """Stamps well before an earlier line of the same slice: (input, line number, POSIX
    seconds of the line, of the latest line before it); the first per input is noted."""
    lines: dict[str, int] = field(default_factory=dict)
    """Lines read per input name."""
    relative: str | None = None
    """The input whose line numbers here count from this scan's start (not the input's)."""
    years_start: YearInference | None = None
    """For a scan starting inside an input: the year state it started in."""
    years_trail: list[tuple[int, int]] | None = None
    years_end: YearInference | None = None
    """The year state of the last input at the end (None: no input read)."""
    end_time: float | None = None
    """The latest time stamp of an input's last line (the log ends there, used or not)."""
    inexact: str | None = None
    """Why this scan is not the one-pass answer (then scan again in one pass)."""
    reader_state: dict[str, Any] | None = None
    """What the readers that carry state across lines remembered at the end
    (`LineParser.export_state`), for a scan that continues this one (`--state`)."""


def _new_correlator(prior_unknown: bool) -> Correlator:
    return Correlator(_no_emit, no_removal_line=no_removal_line(), prior_unknown=prior_unknown)


def _no_emit(msg: object) -> None:  # pragma: no cover - replaced before use
    raise AssertionError("correlator without a report")


def scan_slices(
    slices: Iterable[Slice],
    options: ScanOptions,
    inputs: list[str],
    *,
    prior_unknown: bool,
) -> PartialScan:
    """Read consecutive slices (in log order) into one partial scan.

    `options` is a `pipeline.ScanOptions`; `prior_unknown` is False only when the first
    slice starts the whole scan (the first input's beginning).
    """
    builder = ReportBuilder(input_order(inputs), by=options.group_by)
    correlator = _new_correlator(prior_unknown)
    correlator.set_emit(report_emitter(builder, options.window))
    time_parser = TimeParser(options.zone)
    parser = LineParser(time_parser)
    part = PartialScan(inputs, builder, {}, parser.counts)
    feed = correlator.feed
    sample = part.unparsed_sample
    progress = options.progress
    done_bytes = 0
    total_lines = 0
    years: YearInference | None = None
    first_years: YearInference | None = None
    previous = ""
    earlier_lines: set[int] = set()  # hashes of earlier inputs' lines inside `overlap`
    carried = False  # the reader state of the scan before was taken up
    for piece in slices:
        label = piece.label
        try:
            lines, mtime, position = _open_slice(piece, options)
        except InputError as exc:
            part.input_errors.append(exc)
            continue
        if piece.first:
            years = YearInference(reference=mtime, fixed=options.year)
        elif years is None or label != previous:
            # A slice inside an input: start from the guess; the merge checks it.
            guess = piece.years or YearInference(reference=mtime, fixed=options.year)
            years = YearInference(guess.reference, guess.fixed, *guess.state(), trail=[])
            if first_years is None:
                first_years = years
                part.years_start = YearInference(guess.reference, guess.fixed, *guess.state())
        previous = label
        if not piece.first and part.relative is None and not part.lines:
            part.relative = label
        parser.start_input(years)
        if piece.reader_state is not None:
            parser.restore_state(piece.reader_state)
            carried = True
        read = read_input(
            lines,
            label,
            parser,
            feed,
            options,
            sample,
            earlier_lines,
            position,
            (done_bytes, total_lines),
        )
        lineno, line = read.lines, read.last_line
        if read.backwards is not None:
            part.backwards.append(read.backwards)
        if read.error is not None:
            part.input_errors.append(read.error)
        if piece.error is not None and piece.lines is not None:
            part.input_errors.append(piece.error)
        part.lines[label] = part.lines.get(label, 0) + lineno
        total_lines += lineno
        done_bytes += position()
        if progress is not None:
            progress(done_bytes, total_lines)
        if line and piece.last:
            last = parser.line_time(line)
            if last is not None and (part.end_time is None or last > part.end_time):
                part.end_time = last
    if first_years is not None:
        part.years_trail = first_years.trail
    if years is not None:
        part.years_end = YearInference(years.reference, years.fixed, *years.state())
    part.state = correlator.export()
    part.inexact = correlator.inexact
    part.reader_state = parser.export_state() or None
    stateful = parser.stateful is not None and not carried
    if stateful and part.years_start is not None and not part.inexact:
        # (years_start is set exactly when the scan starts inside an input)
        part.inexact = f"{parser.stateful} lines carry reader state across a cut"
    return part


@dataclass(slots=True)
class InputRead:
    """What reading one input (or slice) gave besides the events it fed."""

    lines: int
    """Lines read."""
    last_line: str
    """The last line ("" for none): where the log ends, used or not."""
    backwards: tuple[str, int, float, float] | None
    """The first backwards jump of the stamps (input, line number, time, latest before)."""
    error: InputError | None
    """The read fault that ended it early, if one did."""


def read_input(
    lines: Iterable[str],
    label: str,
    parser: LineParser,
    feed: Callable[[Event], None],
    options: ScanOptions,
    sample: list[UnparsableLine],
    earlier_lines: set[int],
    position: Callable[[], int],
    done: tuple[int, int],
) -> InputRead:
    """Parse the lines of one input in order and feed their events: the one per-line loop
    of every way of scanning (`scan_slices`, `pipeline.scan`).

    Unparsed lines go to `sample` only once a line of the same input was read as a log
    line (used or ignored): a file that is no mail log at all (say a link planted as
    mail.log.1 -> /etc/shadow) never has its lines echoed. Lines inside `options.overlap`
    already read from an earlier input (their hashes in `earlier_lines`) are set aside;
    this input's lines there are added to it. `options.progress` hears of the bytes and lines
    done: `done` (before this input) plus `position()` and this input's lines.
    """
    parse = parser.parse
    progress = options.progress
    on_unparsed = options.on_unparsed
    keep_text = options.keep_lines
    overlap = options.overlap
    lineno = 0
    line = ""
    past_overlap = False
    latest = -float("inf")
    backwards: tuple[str, int, float, float] | None = None
    error: InputError | None = None
    this_input: set[int] = set()
    held: list[UnparsableLine] | None = []
    counts = parser.counts
    readable_before = counts.used + counts.ignored
    with collector_relaxed():
        try:
            for line in lines:
                lineno += 1
                if progress is not None and not lineno % PROGRESS_EVERY:
                    progress(done[0] + position(), done[1] + lineno)
                if overlap is not None and not past_overlap:
                    seen = _seen_before(parser, line, overlap, earlier_lines, this_input)
                    if seen is None:
                        past_overlap = True  # the rest of this input is later still
                    elif seen:
                        parser.ignore_line(DUPLICATE_REASON)
                        continue
                try:
                    event = parse(line, label, lineno)
                except UnparsableLine as exc:
                    if held is None:
                        if len(sample) < UNPARSED_SAMPLE:
                            sample.append(exc)
                    elif len(held) < UNPARSED_SAMPLE:
                        held.append(exc)
                    if on_unparsed is not None:
                        on_unparsed(exc)
                    continue
                if held is not None and counts.used + counts.ignored > readable_before:
                    sample.extend(held[: max(0, UNPARSED_SAMPLE - len(sample))])
                    held = None
                if event is not None:
                    # The raw text only where an output shows it (`trace`): without it a
                    # message in flight costs its events, not its log lines.
                    event.ref = LineRef(label, lineno, line if keep_text else "")
                    if event.time > latest:
                        latest = event.time
                    elif event.time < latest - BACKWARD_SLACK_SECONDS and backwards is None:
                        backwards = (label, lineno, event.time, latest)  # one per input
                    feed(event)
        except InputError as exc:
            error = exc
    earlier_lines |= this_input
    return InputRead(lineno, line, backwards, error)


def _seen_before(
    parser: LineParser,
    line: str,
    overlap: tuple[float, float],
    earlier: set[int],
    this_input: set[int],
) -> bool | None:
    """Whether `line` lies in the overlap range and was read from an earlier input; a
    line in the range is remembered (by its hash) for the inputs after this one. None
    when the line lies well past the range (more than `BACKWARD_SLACK_SECONDS`): the
    rest of its input need not be looked at (each stamp costs a parse)."""
    when = parser.line_time(line)
    if when is not None and when > overlap[1] + BACKWARD_SLACK_SECONDS:
        return None
    if when is None or not overlap[0] <= when <= overlap[1]:
        return False
    key = hash(line)
    if key in earlier:
        return True
    this_input.add(key)
    return False


def _backwards(label: str, lineno: int, when: float, latest: float) -> str:
    """The warning for a line stamped well before an earlier line of the same input."""
    back = format_duration(latest - when)
    return (
        f"{label}:{lineno}: time stamps jump backwards by {back} inside this file"
        " (a concatenation out of order?): held times around it may be wrong"
    )


def _open_slice(
    piece: Slice, options: ScanOptions
) -> tuple[Iterator[str], float | None, Callable[[], int]]:
    """The lines of a slice, the modification time of its input (for year inference) and
    how many bytes of it have been consumed (for progress)."""
    if piece.lines is not None:
        size = sum(map(len, piece.lines))
        return iter(piece.lines), piece.mtime, lambda: size
    if piece.error is not None:
        raise piece.error
    if piece.end is not None:
        try:
            mtime = os.stat(piece.name).st_mtime
        except OSError as exc:
            raise InputError(piece.name, exc.strerror or str(exc)) from None
        size = piece.end - piece.start
        return read_range(piece.name, piece.start, piece.end, options.max_line), mtime, lambda: size
    if piece.name == JOURNAL_INPUT and options.journal_cmd is not None:
        source, lines = read_journal(options.journal_cmd)
    else:
        source, lines = read_lines(piece.name, options.max_line)
    return lines, source.mtime, source.position


def merge(a: PartialScan, b: PartialScan, options: ScanOptions) -> PartialScan:
    """`a` continued by `b`, the partial scan of the slices that follow `a`'s.

    `a` is changed and returned; `b` must not be used afterwards. (The cyclic collector
    pauses meanwhile: see `collector_paused`.)
    """
    with collector_paused():
        return _merge(a, b, options)


def _merge(a: PartialScan, b: PartialScan, options: ScanOptions) -> PartialScan:
    if b.relative is not None:
        delta = a.lines.get(b.relative, 0)
        if delta:
            shift_lines(b, b.relative, delta)
    inexact = a.inexact or b.inexact
    if b.years_start is not None:
        trail = b.years_trail
        if a.years_end is None or trail is None:
            inexact = inexact or "a slice's years could not be checked"
        elif not replays_alike(a.years_end, b.years_start, trail, options.zone):
            inexact = inexact or "yearless stamps would get another year across a cut"
    mine = _new_correlator(False)
    mine.restore(a.state)
    mine.set_emit(report_emitter(a.builder, options.window))
    theirs = _new_correlator(False)
    theirs.restore(b.state)
    mine.absorb(theirs)
    a.builder.merge(b.builder, a.builder.order)
    a.state = mine.export()
    a.inexact = inexact or mine.inexact
    counts, other = a.counts, b.counts
    counts.total += other.total
    counts.used += other.used
    counts.ignored += other.ignored
    counts.unparsed += other.unparsed
    for reason, n in other.ignored_by_reason.items():
        counts.ignored_by_reason[reason] = counts.ignored_by_reason.get(reason, 0) + n
    order = a.builder.order
    for reason, example in other.problem_examples.items():
        known = counts.problem_examples.get(reason)
        rank = (order.get(example[0], 0), example[1])
        if known is None or rank < (order.get(known[0], 0), known[1]):
            counts.problem_examples[reason] = example
    merged = a.unparsed_sample + b.unparsed_sample
    merged.sort(key=lambda e: (order.get(e.source, 0), e.lineno))
    a.unparsed_sample = merged[:UNPARSED_SAMPLE]
    a.input_errors += b.input_errors
    a.backwards += b.backwards
    for name, n in b.lines.items():
        a.lines[name] = a.lines.get(name, 0) + n
    if b.end_time is not None and (a.end_time is None or b.end_time > a.end_time):
        a.end_time = b.end_time
    if b.reader_state is not None:
        a.reader_state = b.reader_state
    if b.years_end is not None and (b.years_trail != [] or len(b.lines) > 1):
        a.years_end = b.years_end  # (a slice that never placed a yearless stamp: a's stands)
    if a.years_start is not None and a.years_trail is not None:
        a.years_trail = _joined_trail(a.years_trail, b.years_trail)
    return a


def _joined_trail(
    first: list[tuple[int, int]], second: list[tuple[int, int]] | None
) -> list[tuple[int, int]] | None:
    if second is None:
        return None
    joined = list(first)
    for month, day in second:
        if not joined or joined[-1][0] != month:
            joined.append((month, day))
    return joined


def finish(part: PartialScan, options: ScanOptions) -> tuple[ReportBuilder, ScanResult]:
    """Close what is still open at the end of the log; the report and the `ScanResult`.
    (The cyclic collector pauses meanwhile: see `collector_paused`.)"""
    with collector_paused():
        return _finish(part, options)


def _finish(part: PartialScan, options: ScanOptions) -> tuple[ReportBuilder, ScanResult]:
    correlator = _new_correlator(False)
    correlator.restore(part.state)
    correlator.set_emit(report_emitter(part.builder, options.window))
    end = part.end_time
    if end is not None and (correlator.last_time is None or end > correlator.last_time):
        correlator.last_time = end
    correlator.finish()
    result = ScanResult(
        counts=part.counts,
        first_time=correlator.first_time,
        last_time=correlator.last_time,
        unparsed_sample=part.unparsed_sample,
        input_errors=part.input_errors,
        max_open_messages=correlator.max_open,
    )
    noted: set[str] = set()
    for label, lineno, when, latest in part.backwards:
        if label not in noted:  # one warning per input
            noted.add(label)
            result.notes.append(_backwards(label, lineno, when, latest))
    return part.builder, result


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bounded step over a large heap:
    merging, finishing, pickling a partial scan.

    These steps allocate many objects that live on; with the collector on, every so many
    of them start a collection that walks every object of the scan again. Measured on the
    200,000-line bench log (CPU seconds, collector on / paused): merging two slices 0.14-0.24
    / 0.13, finishing 0.16-0.27 / 0.13-0.14, loading a slice's pickled result 0.4-0.6 / 0.1.
    Garbage is still freed by reference counting; the reading of lines itself (where hostile
    input could make cyclic garbage without end) keeps the collector on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


READING_COLLECTION_THRESHOLD = 10_000
"""Container objects allocated (net) between two young collections while lines are read
(Python's default: 700). See `collector_relaxed`."""


@contextmanager
def collector_relaxed() -> Iterator[None]:
    """Keep the cyclic collector on while lines are read (hostile input could make cyclic
    garbage without end), but spare it what it cannot collect: the objects that exist
    before the reading (modules, grammars, caches, the state carried in) are frozen out of
    its walks, and a young collection waits for `READING_COLLECTION_THRESHOLD` net
    allocations. Collection time on the 1M-line bench log, `-j 1`, compiled build (measured
    with `gc.callbacks`): 0.65 s (345 young, 31 middle, 3 full collections) -> 0.24 s (16
    young, 1 middle). Cyclic garbage is still collected, after at most that many objects."""
    before = gc.get_threshold()
    outermost = gc.get_freeze_count() == 0
    gc.freeze()
    gc.set_threshold(READING_COLLECTION_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if outermost:
            gc.unfreeze()


def shift_lines(part: PartialScan, source: str, delta: int) -> None:
    """Add `delta` to every line number of `source` in a partial scan (line references in
    statistics, open messages and pending events, unparsed samples).

    The holders of line references are visited by name, not by walking every object of
    the scan: the walk cost about 0.1 s per merge on a 100,000-line slice (most of a merge's
    serial time), this about a tenth. A reference held in several places (an attempt's line
    is also its reason's and cause's example) moves once. `tests/test_engine_equality.py`
    checks against a walk of every object that no holder is missed."""
    for exc in part.unparsed_sample:
        if exc.source == source:
            exc.lineno += delta
    part.backwards = [
        (where, lineno + delta if where == source else lineno, when, latest)
        for where, lineno, when, latest in part.backwards
    ]
    examples = part.counts.problem_examples
    for reason, (where, lineno, text) in list(examples.items()):
        if where == source:
            examples[reason] = (where, lineno + delta, text)
    moved: set[int] = set()

    def move(ref: LineRef | None) -> None:
        if ref is not None and ref.source == source and id(ref) not in moved:
            moved.add(id(ref))
            ref.lineno += delta

    builder = part.builder
    for rows in (builder.destinations, builder.groups):
        for stats in rows.values():
            for stat in stats.reasons.values():
                move(stat.example_ref)
            for cause in stats.causes.values():
                move(cause.example_ref)
            for final in stats.final_reasons.values():
                move(final.example_ref)
    for cause in builder.causes.values():
        move(cause.example_ref)
    state = part.state
    for msg in (state.get("_open") or {}).values():
        _shift_message(msg, move)
    for packs in (state.get(PACKED_FIELD) or {}).values():
        for packed in packs.values():
            packed.shift(source, delta)
    for notes in (state.get("_pending") or {}).values():
        for note in notes:
            move(note.ref)
    for item in state.get("head") or ():
        if isinstance(item, HeadReference):
            move(item.ref)
            continue
        if isinstance(item, HeadRetries):
            for records in item.attempts.values():
                for attempt in records:
                    move(attempt.ref)
            for packed in (item.packed or {}).values():
                packed.shift(source, delta)
            continue
        move(item.event.ref)
        for note in item.notes or ():
            move(note.ref)
    for parked in state.get("parked") or ():
        _shift_message(parked.message, move)


def shift_message_lines(messages: Iterable[Message], source: str, delta: int) -> None:
    """Add `delta` to every line number of `source` in these messages (a reference held
    twice moves once)."""
    moved: set[int] = set()

    def move(ref: LineRef | None) -> None:
        if ref is not None and ref.source == source and id(ref) not in moved:
            moved.add(id(ref))
            ref.lineno += delta

    for msg in messages:
        _shift_message(msg, move)


def _shift_message(msg: Message, move: Callable[[LineRef | None], None]) -> None:
    for rcpt in msg.recipients.values():
        for attempt in rcpt.attempts:
            move(attempt.ref)
    for note in msg.notes:
        move(note.ref)
    for ref in msg.lines:
        move(ref)


def record_classes() -> tuple[dict[str, type], dict[str, type[Enum]]]:
    """The classes a partial scan's values are built of, by name: every dataclass and enum
    of the modules whose records it holds, and `ReportBuilder`. A summary file may build
    only these (`summary.CLASSES`); a worker's result packs them compactly
    (`pipeline._Packer`)."""
    classes: dict[str, type] = {}
    enums: dict[str, type[Enum]] = {}
    for module in (
        model,
        analysis,
        causes,
        classify,
        correlate,
        diagnosis,
        hints,
        quantiles,
        window,
        timestamps,
        lines_module,
        sys.modules[__name__],
    ):
        for name, value in vars(module).items():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if issubclass(value, Enum):
                enums[name] = value
            elif is_dataclass(value):
                classes[name] = value
    classes["ReportBuilder"] = analysis.ReportBuilder
    return classes, enums
