"""Running a command's scan: options resolved into inputs and a window, the progress bar,
unparsed lines, and what goes to stderr and the exit status afterwards."""

from __future__ import annotations

import io
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from enum import IntEnum
from pathlib import Path
from typing import IO, Any

import typer

from maillog_diag.cli.config import Config, ConfigError, load_config
from maillog_diag.cli.options import DEFAULT_LOG, ReadArgs
from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.model import Message
from maillog_diag.core.queuecheck import QueueComparison, compare_queue
from maillog_diag.core.window import MessageFilter, parse_moment, stale_log_warning
from maillog_diag.errors import InputError, UnparsableLine
from maillog_diag.input.journal import journalctl_command
from maillog_diag.input.queue import parse_listing, read_listing_file, run_queue_command
from maillog_diag.input.sources import (
    JOURNAL_INPUT,
    MAX_LINE_BYTES,
    expand_inputs,
    rotations_of,
    total_bytes,
)
from maillog_diag.input.timestamps import format_time, resolve_zone
from maillog_diag.mta import journal_units
from maillog_diag.output.escape import visible
from maillog_diag.output.render import make_console
from maillog_diag.scan.cluster import ClusterError, scan_on_cluster
from maillog_diag.scan.lines import LineCounts
from maillog_diag.scan.order import plan_inputs
from maillog_diag.scan.partial import PartialScan
from maillog_diag.scan.partial import finish as finish_partial
from maillog_diag.scan.pipeline import (
    ScanOptions,
    ScanResult,
    capped_jobs,
    default_jobs,
    scan,
    scan_partial,
    scan_report,
)
from maillog_diag.scan.state import (
    LOCK_WAIT_SECONDS,
    StateError,
    StateMismatch,
    advance,
    check_settings,
    complete_since,
    encode_state,
    locked,
    narrowed,
    plan_reads,
    read_state,
    write_atomically,
)
from maillog_diag.scan.state import Settings as StateSettings


class ExitCode(IntEnum):
    """The exit statuses the README documents."""

    OK = 0
    USAGE = 2
    INPUT = 3
    INTERNAL = 70
    MAIL = 75
    """`daily --mail-to`: the message could not be handed to sendmail (EX_TEMPFAIL)."""


FAILURES: list[str] = []
"""Every message `fail` wrote, in order: `check` repeats the last one in its status line,
which is all a monitoring system shows."""


def fail(message: str, code: ExitCode) -> typer.Exit:
    sys.stderr.write(f"maillog-diag: {visible(message)}\n")
    FAILURES.append(message)
    return typer.Exit(int(code))


def zone_of(tz: str | None) -> tzinfo:
    try:
        return resolve_zone(tz)
    except ValueError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None


class UnparsedSink:
    """Writes every unparsed line to a file when asked to (`--unparsed`)."""

    def __init__(self, target: Path | None) -> None:
        self._file: IO[str] | None = None
        if target is None:
            return
        if str(target) == "-":
            self._file = sys.stderr
        else:
            try:
                self._file = open(target, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise fail(f"{target}: cannot write: {exc.strerror}", ExitCode.USAGE) from None

    def __call__(self, exc: UnparsableLine) -> None:
        assert self._file is not None
        text = f"{exc.source}:{exc.lineno}: {exc.context}\n    {exc.text}\n"
        # The file gets the exact text; a terminal (stderr) gets control characters escaped.
        self._file.write(visible(text[:-1]) + "\n" if self._file is sys.stderr else text)

    @property
    def callback(self) -> Callable[[UnparsableLine], None] | None:
        return self if self._file is not None else None

    def close(self) -> None:
        if self._file is not None and self._file is not sys.stderr:
            self._file.close()


NOW_VAR = "MAILLOG_DIAG_NOW"
"""An ISO 8601 moment to use as "now" (for tests and for re-running yesterday's job)."""


def _now() -> float:
    value = os.environ.get(NOW_VAR)
    if not value:
        return time.time()
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise fail(f"{NOW_VAR}={value!r} is not an ISO 8601 time", ExitCode.USAGE) from None


@dataclass(slots=True)
class Setup:
    """What a command reads and how: resolved from options, the config file and defaults."""

    read: ReadArgs

    names: list[str]
    zone: tzinfo
    window: MessageFilter
    config: Config
    now: float
    journal_cmd: tuple[str, ...] | None = None
    overlap: tuple[float, float] | None = None
    """Where the inputs overlap in time (`scan.order.InputPlan.overlap`)."""


def resolve(read: ReadArgs, *, stdin_default: bool = True) -> Setup:
    """Resolve what a command reads from its options, the config file and the defaults.

    `stdin_default`: with no file named, read a standard input that brings data
    (`stdin_is_data`); `check` turns it off, since monitoring daemons may hand a plugin a
    pipe they never close."""
    config = read.config
    since = read.since or read.since_default
    until = read.until or read.until_default
    try:
        cfg = load_config(str(config) if config is not None else None)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    zone = zone_of(read.tz or cfg.tz)
    now = _now()
    try:
        since_t = parse_moment(since, zone, now) if since else None
        until_t = parse_moment(until, zone, now) if until else None
    except ValueError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    if since_t is not None and until_t is not None and since_t >= until_t:
        raise fail(
            f"--since ({format_time(since_t, zone)}) is not before --until "
            f"({format_time(until_t, zone)})",
            ExitCode.USAGE,
        )
    ends_now = since_t is not None and (until_t is None or until_t > now)
    window = MessageFilter(
        since_t, until_t, frozenset(cfg.exclude_domains), held_until=now if ends_now else None
    )
    files = read.files
    if read.journal or (cfg.journal and not files):
        if files:
            raise fail("--journal reads the journal: name no files with it", ExitCode.USAGE)
        try:
            cmd = journalctl_command(since_t, until_t, units=journal_units())
        except InputError as exc:
            raise fail(str(exc), ExitCode.INPUT) from None
        return Setup(read, [JOURNAL_INPUT], zone, window, cfg, now, tuple(cmd))
    chosen = read.rotated if read.rotated is not None else cfg.rotated
    try:
        names = expand_inputs(
            files or cfg.inputs or (["-"] if stdin_default and stdin_is_data() else [DEFAULT_LOG]),
            rotated=chosen if chosen is not None else read.rotated_default,
        )
    except InputError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    plan = plan_inputs(names, zone, read.year)
    for note in plan.notes:
        sys.stderr.write(f"maillog-diag: {note}\n")
    return Setup(read, plan.names, zone, window, cfg, now, overlap=plan.overlap)


def stdin_is_data() -> bool:
    """Whether standard input brings a log (`cat mail.log | maillog-diag report`): then it
    is read when no file is named. A terminal, `/dev/null` (a device, as daemons and most
    schedulers give) or a closed stdin does not; nor does an empty pipe or file: cron
    gives every job a pipe it closes at once, and `daily` from cron must still read the
    default log. (Waiting for the first byte blocks until the writer writes or closes.)"""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return False
    buffer = sys.stdin.buffer
    if not isinstance(buffer, io.BufferedReader):
        return False
    try:
        return bool(buffer.peek(1))
    except (OSError, ValueError):
        return False


def stale_note(setup: Setup, result: ScanResult, *, held: bool) -> str | None:
    """The warning when the log ends long before the window ends (now, when the window is
    open at the end; see `window.STALE_LOG_SECONDS`), else None. Without a window the log
    is only called stale when mail was still queued at its end (`held`): then the held
    times, which run to the log's last line, are a floor."""
    window = setup.window
    if result.last_time is None:
        return None
    if window.since is None and window.until is None and not held:
        return None
    end = setup.now if window.until is None else min(window.until, setup.now)
    zone = setup.zone

    def show(t: float) -> str:
        return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M %Z").rstrip()

    return stale_log_warning(result.last_time, end, setup.now, show)


def warn_if_stale(setup: Setup, result: ScanResult, *, held: bool) -> None:
    """Write the stale-log warning (if any) on stderr."""
    note = stale_note(setup, result, held=held)
    if note is not None:
        sys.stderr.write(f"maillog-diag: warning: {note}\n")


def require_input(result: ScanResult) -> None:
    """When no input could be read at all, say why and exit 3 before any report is
    printed: an empty report beside the error would read as an all-clear."""
    if result.input_errors and result.counts.total == 0:
        finish(result)


PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Inputs smaller than this are read without a progress bar."""


@contextmanager
def progress_bar(names: list[str]) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal and the inputs are large files."""
    total = total_bytes(names)
    if not sys.stderr.isatty() or total is None or total < PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("reading"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rate]} lines/s"),
        TimeRemainingColumn(),
        console=make_console(stderr=True),
        transient=True,
    )
    task = bar.add_task("read", total=total, rate="-")
    started = time.monotonic()

    def update(done: int, lines: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        bar.update(task, completed=done, rate=f"{lines / elapsed:,.0f}")

    with bar:
        yield update


MAX_LINE_VAR = "MAILLOG_DIAG_MAX_LINE"
"""The longest line read, in bytes (default `sources.MAX_LINE_BYTES`, 1 MiB)."""


def max_line() -> int:
    """The longest line read (bytes): `MAILLOG_DIAG_MAX_LINE`, else 1 MiB (a usage error
    names a bad value)."""
    value = os.environ.get(MAX_LINE_VAR)
    if not value:
        return MAX_LINE_BYTES
    if not value.isdigit() or not 0 < int(value) <= 1 << 30:
        raise fail(f"{MAX_LINE_VAR}={value!r} is not a number of bytes (1 to 2^30)", ExitCode.USAGE)
    return int(value)


def _scan_options(setup: Setup, sink: UnparsedSink, **extra: Any) -> ScanOptions:
    return ScanOptions(
        max_line=max_line(),
        zone=setup.zone,
        year=setup.read.year,
        on_unparsed=sink.callback,
        journal_cmd=setup.journal_cmd,
        window=setup.window,
        overlap=setup.overlap,
        **extra,
    )


def run(setup: Setup, emit: Callable[[Message], None], *, keep_lines: bool = False) -> ScanResult:
    """One streaming pass: `emit` gets each finished message the window touches."""
    sink = UnparsedSink(setup.read.unparsed)
    window = setup.window
    target = emit
    if window.since is not None or window.until is not None:

        def target(msg: Message) -> None:
            if window.touches(msg):
                emit(msg)

    try:
        with progress_bar(setup.names) as progress:
            options = _scan_options(setup, sink, keep_lines=keep_lines, progress=progress)
            result = scan(setup.names, options, target)
    finally:
        sink.close()
    return result


def report_run(
    setup: Setup, *, jobs: int | None = None, by: str = "destination"
) -> tuple[ReportBuilder, ScanResult]:
    """A pass into the report statistics, with `jobs` processes (default: `--jobs`, else
    what the input size justifies), grouped also `by` (see `analysis.GROUPINGS`)."""
    names = setup.names
    if setup.read.state is not None:
        chosen = jobs or setup.read.jobs
        return state_run(setup, by=by, jobs=capped_jobs(chosen, names) if chosen else None)
    sink = UnparsedSink(setup.read.unparsed)
    jobs = jobs or setup.read.jobs
    try:
        with progress_bar(names) as progress:
            options = replace(_scan_options(setup, sink, progress=progress), group_by=by)
            if setup.read.dask:
                return finish_partial(_on_cluster(names, options, setup.read.dask), options)
            builder, result = scan_report(
                names, options, capped_jobs(jobs, names) if jobs else default_jobs(names)
            )
    finally:
        sink.close()
    return builder, result


STATE_WAIT_VAR = "MAILLOG_DIAG_STATE_WAIT"
"""Seconds a `--state` run waits for another run's lock (default
`state.LOCK_WAIT_SECONDS`)."""


def _state_wait() -> float:
    value = os.environ.get(STATE_WAIT_VAR)
    if not value:
        return LOCK_WAIT_SECONDS
    try:
        wait = float(value)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 86400:
        raise fail(f"{STATE_WAIT_VAR}={value!r} is not a number of seconds", ExitCode.USAGE)
    return wait


def state_run(
    setup: Setup, *, by: str = "destination", jobs: int | None = None
) -> tuple[ReportBuilder, ScanResult]:
    """A pass that continues the state file `--state` names (see `scan.state`): reads only
    what the logs gained since, saves the new state (atomically, under its lock, only when
    every input was read), and gives the report of everything the state has seen, through
    the window (the mail finished inside it comes from the state's recent messages, kept
    from the previous windowed run's start). `jobs`: processes for a log read from its
    start (default: what its size justifies)."""
    read = setup.read
    assert read.state is not None
    path = str(read.state)
    if "-" in setup.names or read.dask:
        why = "standard input" if "-" in setup.names else "a Dask cluster"
        raise fail(f"--state reads files or the journal: not {why}", ExitCode.USAGE)
    window = setup.window
    keep = MessageFilter(exclude_domains=window.exclude_domains)
    settings = StateSettings(
        read.tz or setup.config.tz, read.year, by, sorted(window.exclude_domains)
    )
    sink = UnparsedSink(read.unparsed)
    options = replace(_scan_options(setup, sink), group_by=by, window=keep, overlap=None)
    windowed = window.since is not None or window.until is not None
    try:
        with locked(path, _state_wait()):
            saved = None if read.state_reset else read_state(path)
            if saved is not None:
                check_settings(path, saved, settings)
            complete = complete_since(saved)
            streams = _streams(setup)
            plans = plan_reads(streams, saved, rotated_first=_rotated(setup))
            procs = jobs if jobs is not None else default_jobs(streams)
            through = None
            if windowed:
                through, kept, kept_since = narrowed(plans, options, saved, window)
            outcome = advance(plans, options, saved, jobs=procs)
            if windowed:
                outcome.recent, outcome.recent_since = kept, kept_since
            part = outcome.scan
            if not part.input_errors and not _unreadable_counts(part.counts):
                write_atomically(path, encode_state(outcome, settings))
    except StateMismatch as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except StateError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    except OSError as exc:
        raise fail(f"state {path}: cannot write: {exc.strerror}", ExitCode.INPUT) from None
    finally:
        sink.close()
    report_options = replace(options, window=window)
    builder, result = finish_partial(through.scan if through else outcome.scan, report_options)
    if complete is not None and window.since is not None and window.since < complete:
        result.notes.append(
            f"state {path}: the window starts at {format_time(window.since, setup.zone)}, but "
            f"the state keeps the mail that left the queue only from "
            f"{format_time(complete, setup.zone)}: earlier mail is in its totals, not in this "
            "window"
        )
    result.input_errors += outcome.lost
    return builder, result


def _streams(setup: Setup) -> list[str]:
    """The inputs a state follows, by absolute path (a run from another directory, or
    naming `./mail.log`, continues the same input): the named logs, not their rotations
    (rotated copies are found by fingerprint)."""
    names = [n if n == JOURNAL_INPUT else os.path.abspath(n) for n in setup.names]
    if not _rotated(setup):
        return names
    live = [n for n in names if rotations_of(n)[-1:] == [n]]
    rotated = {r for n in live for r in rotations_of(n)[:-1]}
    return [n for n in names if n not in rotated]


def _rotated(setup: Setup) -> bool:
    read = setup.read
    chosen = read.rotated if read.rotated is not None else setup.config.rotated
    return bool(chosen if chosen is not None else read.rotated_default)


def _unreadable_counts(counts: LineCounts) -> bool:
    return bool(counts.total and not counts.used and counts.unparsed)


def unreadable(result: ScanResult) -> bool:
    """No line of the input could be read as an MTA log (there were lines, none used)."""
    counts = result.counts
    return bool(counts.total and not counts.used and counts.unparsed)


@contextmanager
def stop_on_signals() -> Iterator[tuple[threading.Event, list[int]]]:
    """SIGTERM and SIGINT set the event (and are noted in the list) instead of killing the
    process, while the block runs; the previous handlers come back after it."""
    stop = threading.Event()
    got: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        got.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop, got
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_status(got: list[int]) -> int:
    """The exit status after `stop_on_signals`: 0 for SIGTERM (a service stopped as asked),
    130 for SIGINT (interrupted at a terminal)."""
    return 130 if got and got[-1] == signal.SIGINT else 0


def wait_for_stop(stop: threading.Event) -> int:
    """Block until SIGTERM or SIGINT (or `stop` is set elsewhere); the exit status as
    `stop_status` gives it."""
    with stop_on_signals() as (signalled, got):
        while not (stop.is_set() or signalled.wait(0.5)):
            pass
        stop.set()
    return stop_status(got)


def _on_cluster(
    names: list[str], options: ScanOptions, address: str, *, continued: bool = False
) -> PartialScan:
    """The scan as tasks on a Dask cluster (`--dask`); a usage error when it cannot run."""
    if options.on_unparsed is not None:
        raise fail("--unparsed streams every line here: it does not go with --dask", ExitCode.USAGE)
    try:
        return scan_on_cluster(names, options, address, prior_unknown=continued)
    except ClusterError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None


def partial_run(setup: Setup, *, continued: bool = False) -> tuple[PartialScan, ScanResult]:
    """A pass into a partial scan (for a summary file) and what it saw so far."""
    names = setup.names
    sink = UnparsedSink(setup.read.unparsed)
    try:
        with progress_bar(names) as progress:
            options = _scan_options(setup, sink, progress=progress)
            if setup.read.dask:
                part = _on_cluster(names, options, setup.read.dask, continued=continued)
            else:
                jobs = setup.read.jobs or default_jobs(names)
                part = scan_partial(names, options, jobs, prior_unknown=continued)
    finally:
        sink.close()
    result = ScanResult(
        counts=part.counts, unparsed_sample=part.unparsed_sample, input_errors=part.input_errors
    )
    return part, result


def finish(result: ScanResult, *, show_sample: bool = True) -> None:
    """Report unparsed lines and input errors on stderr; raise the right exit."""
    counts = result.counts
    if counts.unparsed and show_sample:
        sys.stderr.write(
            f"maillog-diag: {counts.unparsed} of {counts.total} lines could not be parsed"
            f" (all of them with --unparsed FILE); first ones:\n"
        )
        for exc in result.unparsed_sample:
            sys.stderr.write(visible(f"  {exc.source}:{exc.lineno}: {exc.context}") + "\n")
            sys.stderr.write(visible(f"    {exc.text[:300]}") + "\n")
    for note in result.notes:
        sys.stderr.write(f"maillog-diag: {visible(note)}\n")
    for err in result.input_errors:
        sys.stderr.write(visible(f"maillog-diag: {err}") + "\n")
    if result.input_errors:
        raise typer.Exit(int(ExitCode.INPUT))
    if unreadable(result):
        raise fail("no line of the input could be read as an MTA log", ExitCode.INPUT)


def queue_comparison(
    builder: ReportBuilder, setup: Setup, *, ask: bool, listing_file: Path | None
) -> QueueComparison | None:
    """The held mail against the queue (`--queue` runs the MTA's listing command for the
    MTAs the log shows, most recipients first; `--queue-file` reads a saved one); None
    when neither was asked for. Exits 2 for both at once, 3 when the listing cannot be
    had or read."""
    if ask and listing_file is not None:
        raise fail("--queue and --queue-file exclude each other", ExitCode.USAGE)
    try:
        if listing_file is not None:
            text, taken = read_listing_file(str(listing_file))
            source = str(listing_file)
        elif ask:
            seen: dict[str, int] = {}
            for d in builder.destinations.values():
                for mta, n in d.mtas.items():
                    seen[mta] = seen.get(mta, 0) + n
            taken = time.time()
            source, text = run_queue_command(sorted(seen, key=lambda m: -seen[m]))
        else:
            return None
        listing = parse_listing(text, taken, setup.zone, source=source)
    except InputError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    return compare_queue(builder.held_mail, listing, source)
