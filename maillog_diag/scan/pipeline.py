"""One pass over the inputs: read, parse, correlate, and hand finished messages on.

This is the library entry point (`iter_messages`, `scan`); the CLI adds options and output.
Inputs are read one after another as one stream, so a message that starts in one file and
ends in the next is one message. Each input gets its own year inference (yearless syslog
stamps are placed relative to that file's modification time).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import tzinfo

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.model import LineRef, Message
from maillog_diag.core.window import MessageFilter
from maillog_diag.errors import InputError, UnparsableLine
from maillog_diag.input.sources import (
    JOURNAL_INPUT,
    MAX_LINE_BYTES,
    read_journal,
    read_lines,
)
from maillog_diag.input.timestamps import TimeParser, YearInference, format_duration
from maillog_diag.mta import no_removal_line
from maillog_diag.scan.lines import LineCounts, LineParser

UNPARSED_SAMPLE = 5
"""How many unparsed lines a run keeps as a sample for stderr."""


@dataclass(slots=True)
class ScanResult:
    """What a pass saw besides messages: line accounting, time span, unparsed lines."""

    counts: LineCounts = field(default_factory=LineCounts)
    first_time: float | None = None
    last_time: float | None = None
    unparsed_sample: list[UnparsableLine] = field(default_factory=list)
    input_errors: list[InputError] = field(default_factory=list)
    max_open_messages: int = 0
    notes: list[str] = field(default_factory=list)
    """Warnings for stderr about the inputs (stamps that jump backwards inside a file)."""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to read: the zone of yearless stamps, a fixed year, whether to keep all lines."""

    zone: tzinfo
    year: int | None = None
    keep_lines: bool = False
    on_unparsed: Callable[[UnparsableLine], None] | None = None
    partition: tuple[int, int] | None = None
    """`(k, n)`: read only the messages whose queue ids fall in partition k of n (see
    `scan_parallel`); None reads everything."""
    journal_cmd: tuple[str, ...] | None = None
    """The `journalctl` command the input `sources.JOURNAL_INPUT` stands for."""
    progress: Callable[[int, int], None] | None = None
    """Called now and then with (bytes of the inputs consumed, lines read) so far; bytes
    are compressed bytes for compressed files, 0 for pipes."""
    window: MessageFilter | None = None
    """Which mail a report covers (`--since`, `--until`, left-out domains); None: all."""
    group_by: str = "destination"
    """What a report's `groups` are keyed by (`analysis.GROUPINGS`)."""
    overlap: tuple[float, float] | None = None
    """The time range (POSIX seconds, inclusive) in which inputs overlap
    (`order.InputPlan.overlap`): there a line already read from an earlier input is
    ignored, so that a log named twice or beside a copy counts once."""
    max_line: int = MAX_LINE_BYTES
    """The longest line read, in bytes; a longer one is counted as unparsed."""


PROGRESS_EVERY = 8192

BACKWARD_SLACK_SECONDS = 60.0
"""How far a line's stamp may lie before an earlier line's of the same input without a
warning: processes write to syslog a little out of order."""

DUPLICATE_REASON = "same line in an earlier input"
"""The ignored-line reason of a line read once already from an overlapping input."""
"""Lines between two progress callbacks."""


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
    parser = LineParser(time_parser, options.partition)
    parse = parser.parse
    feed = correlator.feed
    sample = result.unparsed_sample
    on_unparsed = options.on_unparsed
    progress = options.progress
    keep_text = options.keep_lines
    done_bytes = 0
    total_lines = 0
    overlap = options.overlap
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
        lineno = 0
        line = ""
        latest = -float("inf")
        warned = False
        past_overlap = False
        this_input: set[int] = set()
        # Unparsed lines go to the sample (stderr, cron mail) only once a line of the same
        # input was read as a log line (used or ignored): a file that is no mail log at all
        # (say a link planted as mail.log.1 -> /etc/shadow) never has its lines echoed.
        held: list[UnparsableLine] | None = []
        counts = parser.counts
        readable_before = counts.used + counts.ignored
        try:
            for line in lines:
                lineno += 1
                if progress is not None and not lineno % PROGRESS_EVERY:
                    progress(done_bytes + source.position(), total_lines + lineno)
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
                    elif event.time < latest - BACKWARD_SLACK_SECONDS and not warned:
                        result.notes.append(_backwards(label, lineno, event.time, latest))
                        warned = True  # one warning per input
                    feed(event)
        except InputError as exc:
            result.input_errors.append(exc)
        earlier_lines |= this_input
        total_lines += lineno
        done_bytes += source.size if source.size is not None else source.position()
        if progress is not None:
            progress(done_bytes, total_lines)
        if line:
            # The log ends at its last line, used or not: held time runs to it. (Every
            # partition of a parallel scan sees that line, so all agree.)
            last = parser.line_time(line)
            if last is not None and (correlator.last_time is None or last > correlator.last_time):
                correlator.last_time = last
    correlator.finish()
    result.counts = parser.counts
    result.first_time = correlator.first_time
    result.last_time = correlator.last_time
    result.max_open_messages = correlator.max_open
    return result


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


def _die_with_parent(parent: int) -> None:
    """Worker start-up: end this worker when the parent process ends, by any signal
    (Linux `PR_SET_PDEATHSIG`); a worker left behind would block forever on its pipe."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)


def input_order(inputs: Sequence[str]) -> dict[str, int]:
    """Rank of each input's display name (as line references name it)."""
    order = {("<stdin>" if name == "-" else name): i for i, name in enumerate(inputs)}
    return order


def report_emitter(
    builder: ReportBuilder, window: MessageFilter | None
) -> Callable[[Message], None]:
    """The callback that adds each finished message to `builder`, as `window` sees it."""
    if window is None or window.is_open:
        return builder.add
    clip = window.clip
    add = builder.add

    def emit(msg: Message) -> None:
        clipped = clip(msg)
        if clipped is not None:
            add(*clipped)

    return emit


def _partition_scan(inputs: list[str], options: ScanOptions) -> tuple[ReportBuilder, ScanResult]:
    builder = ReportBuilder(input_order(inputs), by=options.group_by)
    result = scan(inputs, options, report_emitter(builder, options.window))
    return builder, result


def scan_report(
    inputs: Sequence[str], options: ScanOptions, jobs: int = 1
) -> tuple[ReportBuilder, ScanResult]:
    """Read the inputs into a `ReportBuilder`, with `jobs` processes.

    With several processes each one reads every line but parses and correlates only the
    messages whose queue ids fall in its partition (a stable hash of the id), so every
    message is whole in exactly one process; lines of other MTAs and lines without a queue
    id are read by the first. The partial reports are merged. The result is the same as
    with one process (`tests/test_parallel.py` checks it); it is faster because parsing,
    the dominant cost, is spread over the cores.
    """
    names = list(inputs)
    if jobs <= 1 or options.keep_lines or options.on_unparsed is not None:
        return _partition_scan(names, options)
    context = multiprocessing.get_context("fork")
    quiet = replace(options, progress=None)
    with ProcessPoolExecutor(
        max_workers=jobs - 1,
        mp_context=context,
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [
            pool.submit(_partition_scan, names, replace(quiet, partition=(k, jobs)))
            for k in range(1, jobs)
        ]
        # The first partition runs here, so that it can report progress.
        parts = [_partition_scan(names, replace(options, partition=(0, jobs)))]
        parts += [f.result() for f in futures]
    builder, result = parts[0]
    order = input_order(names)
    for other_builder, other_result in parts[1:]:
        builder.merge(other_builder, order)
        _merge_results(result, other_result, order)
    return builder, result


def _merge_results(into: ScanResult, other: ScanResult, order: dict[str, int]) -> None:
    c, o = into.counts, other.counts
    c.total += o.total
    c.used += o.used
    c.ignored += o.ignored
    c.unparsed += o.unparsed
    for reason, n in o.ignored_by_reason.items():
        c.ignored_by_reason[reason] = c.ignored_by_reason.get(reason, 0) + n
    for reason, example in o.problem_examples.items():
        mine = c.problem_examples.get(reason)
        theirs = (order.get(example[0], 0), example[1])
        if mine is None or theirs < (order.get(mine[0], 0), mine[1]):
            c.problem_examples[reason] = example
    if other.first_time is not None and (
        into.first_time is None or other.first_time < into.first_time
    ):
        into.first_time = other.first_time
    if other.last_time is not None and (into.last_time is None or other.last_time > into.last_time):
        into.last_time = other.last_time
    sample = into.unparsed_sample + other.unparsed_sample
    sample.sort(key=lambda e: (order.get(e.source, 0), e.lineno))
    into.unparsed_sample = sample[:UNPARSED_SAMPLE]
    into.max_open_messages += other.max_open_messages
    into.notes += [note for note in other.notes if note not in into.notes]
