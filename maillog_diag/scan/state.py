"""State files (`--state FILE`): a scan that continues where the last run stopped.

A state file is a saved partial scan (the summary codec of `scan.summary`: versioned JSON,
never pickle) plus, for each input, where it was read to (`input.positions.Position`) and
the year inference of its yearless stamps at that point. The next run reads only what was
written since (following renames, compression and copytruncate by fingerprint), scans it
as partial scans that continue the saved one (`prior_unknown`), and merges them in order:
the merge contract of `scan.partial` makes two runs over the two halves of a log give the
one-pass answer. The saved scan is never finished (open messages stay open) and never
windowed: a window narrows the report of one run, not what the state keeps.

The file is replaced atomically (a temporary file in the same directory, fsync, rename,
mode 0600) and only after the run succeeded, under an exclusive lock on `FILE.lock`, so
that overlapping cron runs wait for each other (for at most `lock_wait` seconds) instead
of corrupting it. The format is documented in `docs/state-format.md`.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import gzip
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.correlate import settle_packed
from maillog_diag.core.model import Message
from maillog_diag.core.window import MessageFilter
from maillog_diag.errors import InputError, MaillogError
from maillog_diag.input.positions import (
    Continuation,
    Piece,
    Position,
    continuation,
    piece_lines,
    start_of,
    take_position,
)
from maillog_diag.input.sources import (
    JOURNAL_INPUT,
    cut_points,
    first_line_at,
    read_journal,
    rotations_of,
    splittable,
)
from maillog_diag.input.timestamps import YearInference
from maillog_diag.scan.base import ScanOptions, input_order, report_emitter
from maillog_diag.scan.partial import (
    PartialScan,
    Slice,
    merge,
    scan_slices,
    shift_message_lines,
)
from maillog_diag.scan.pipeline import (
    MAX_SLICE_BYTES,
    MIN_SLICE_BYTES,
    run_tasks,
    usable_cores,
    year_guesses,
)
from maillog_diag.scan.summary import Envelope, decode_document, encode

FORMAT = "maillog-diag-state"
VERSION = 4
"""Bumped when a reader of this version could misread a newer file. (4: a scan's head
may hold runs of retries, as in summary version 5; 3: a destination's
causes hold no table of domains, and a cause's hint kinds are four counts, as in summary
version 4; 2: a cause's retry intervals are one table, as in summary version 3.)"""

LOCK_WAIT_SECONDS = 60.0
"""How long a run waits for another run holding the state's lock before it gives up."""

COMPRESS_LEVEL = 1
"""gzip level of the state file: fast (the file is read and written on every run)."""


class StateError(MaillogError):
    """A state file that cannot be used (one line, naming the file)."""


class StateMismatch(StateError):
    """A state made with other settings than this run's (a usage error)."""


@dataclass(slots=True)
class Settings:
    """What the saved numbers depend on besides the log (a state is continued only with the
    same): the zone of stamps without one (as named; None: local), a fixed year, the
    report grouping (`--by`) and the left-out domains."""

    zone: str | None
    year: int | None
    by: str
    exclude: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "year": self.year, "by": self.by, "exclude": self.exclude}


_OPTION_OF = {"zone": "--tz", "year": "--year", "by": "--by", "exclude": "exclude_domains"}


@dataclass(frozen=True, slots=True)
class Retaining(MessageFilter):
    """A window that also keeps a copy of each finished message it is shown whose last
    line came at or after `since` (none without a `since`): what a later run's window
    (starting no earlier) needs of the mail this run finished (`Saved.recent`). Read in
    this process only."""

    kept: list[Message] = field(default_factory=list, compare=False, hash=False)

    def clip(self, msg: Message) -> tuple[Message, frozenset[str]] | None:
        if self.since is not None and msg.last_seen >= self.since:
            self.kept.append(copy.deepcopy(msg))
        return MessageFilter.clip(self, msg)


def _shift_kept(options: ScanOptions, start: int, source: str, delta: int) -> None:
    """Line numbers of the messages a `Retaining` window kept since `start`, counted from
    a slice's start, made to count from the input's (as `merge` does for the slice)."""
    window = options.window
    if not isinstance(window, Retaining) or not delta or len(window.kept) <= start:
        return
    shift_message_lines(window.kept[start:], source, delta)


def _kept_count(options: ScanOptions) -> int:
    window = options.window
    return len(window.kept) if isinstance(window, Retaining) else 0


@dataclass(slots=True)
class Track:
    """One input of the state: its position and its year state (yearless stamps)."""

    name: str
    position: Position
    years: YearInference | None
    reader_state: dict[str, Any] | None = None
    """What the stateful readers (Sendmail, OpenSMTPD) remembered at the position."""
    cursor: str | None = None
    """For the journal (`--journal`): the cursor of the last record read."""


@dataclass(slots=True)
class Saved:
    """A state file's content."""

    scan: PartialScan
    settings: dict[str, Any]
    tracks: dict[str, Track]
    lost: int = 0
    """How many times part of a log could not be recovered, over the state's life."""
    recent: list[Message] = field(default_factory=list)
    """Finished messages whose last line came at or after `recent_since` (for windows)."""
    recent_since: float | None = None
    """From when (POSIX seconds) `recent` holds every finished message; None: none kept."""


@dataclass(slots=True)
class Outcome:
    """What one state run read: the merged (unfinished) scan and what to save."""

    scan: PartialScan
    tracks: dict[str, Track]
    previous_end: float | None
    """The last time stamp the state had seen before this run (None: a new state)."""
    lines_read: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)
    """How inputs were rotated since the last run (kept in the state file's `last_run`)."""
    lost: list[InputError] = field(default_factory=list)
    """What could not be recovered (each one line)."""
    lost_total: int = 0
    recent: list[Message] = field(default_factory=list)
    recent_since: float | None = None


def lock_path(path: str) -> str:
    return path + ".lock"


@contextlib.contextmanager
def locked(path: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the exclusive lock of state `path` (on `path.lock`, created mode 0600), waiting
    at most `wait` seconds for another run to release it; `StateError` after that."""
    name = lock_path(path)
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"state {path}: cannot create its lock {name}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise StateError(f"state {path}: cannot lock {name}: {exc.strerror}") from None
            if time.monotonic() >= deadline:
                raise StateError(
                    f"state {path}: another maillog-diag run holds its lock ({name}) for more "
                    f"than {wait:g}s; not run"
                )
            time.sleep(min(0.1, max(wait / 20, 0.01)))
        yield
    finally:
        os.close(fd)


def read_state(path: str) -> Saved | None:
    """The state file at `path`, None when there is none yet; `StateError` (one line) when
    it is damaged, foreign or of a newer version."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"state {path}: cannot read: {exc.strerror}") from None
    return decode_state(path, data)


def decode_state(path: str, data: bytes) -> Saved:
    """A state file's content from its bytes (see `read_state`)."""
    where = f"state {path}"
    doc, part, settings = decode_document(
        data,
        where,
        StateError,
        Envelope(
            FORMAT,
            VERSION,
            "state file",
            "upgrade maillog-diag, or start over with --state-reset",
        ),
        unreadable="damaged or not a state file",
        noun="state file",
    )
    try:
        tracks = {t["name"]: _track(t) for t in doc["inputs"]}
        lost = int(doc.get("lost", 0))
        recent = doc.get("recent", [])
        since = doc.get("recent_since")
        if not isinstance(recent, list) or not all(isinstance(m, Message) for m in recent):
            raise ValueError("recent is not a list of messages")
        if since is not None and not isinstance(since, (int, float)):
            raise ValueError("recent_since is not a time")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"{where}: damaged state file ({str(exc)[:200]})") from None
    return Saved(part, settings, tracks, lost, recent, since)


def _track(item: dict[str, Any]) -> Track:
    pos = item["position"]
    if not isinstance(pos, dict):
        raise ValueError("position is not an object")
    position = Position(
        path=str(pos["path"]),
        dev=int(pos["dev"]),
        inode=int(pos["inode"]),
        offset=int(pos["offset"]),
        size=int(pos["size"]),
        fingerprint=str(pos["fingerprint"]),
        fingerprint_len=int(pos["fingerprint_len"]),
        last_time=None if pos.get("last_time") is None else float(pos["last_time"]),
    )
    if position.offset < 0 or not 0 <= position.fingerprint_len <= 1 << 20:
        raise ValueError("position out of range")
    years = item.get("years")
    if years is not None and not isinstance(years, YearInference):
        raise ValueError("years is not a year state")
    carried = item.get("reader_state")
    if carried is not None and not isinstance(carried, dict):
        raise ValueError("reader_state is not an object")
    cursor = item.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError("cursor is not a string")
    return Track(str(item["name"]), position, years, carried, cursor)


def check_settings(path: str, saved: Saved, settings: Settings) -> None:
    """`StateMismatch` naming the first option that differs from the state's."""
    mine = settings.as_json()
    for key, value in mine.items():
        theirs = saved.settings.get(key)
        if theirs != value:
            raise StateMismatch(
                f"state {path} was built with {_OPTION_OF[key]} {_shown(theirs)}, this run "
                f"has {_shown(value)}: use the same, or start over with --state-reset"
            )


def _shown(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(none)"
    return str(value)


def encode_state(outcome: Outcome, settings: Settings) -> bytes:
    """The bytes of a state file (gzip-compressed JSON) for what a run read."""
    from maillog_diag import __version__

    settle_packed(outcome.scan.state)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "producer": f"maillog-diag {__version__}",
        "settings": settings.as_json(),
        "inputs": [
            {
                "name": t.name,
                "position": {
                    "path": t.position.path,
                    "dev": t.position.dev,
                    "inode": t.position.inode,
                    "offset": t.position.offset,
                    "size": t.position.size,
                    "fingerprint": t.position.fingerprint,
                    "fingerprint_len": t.position.fingerprint_len,
                    "last_time": t.position.last_time,
                },
                "years": encode(t.years),
                "reader_state": encode(t.reader_state),
                "cursor": t.cursor,
            }
            for t in outcome.tracks.values()
        ],
        "lost": outcome.lost_total,
        "recent_since": outcome.recent_since,
        "recent": encode(outcome.recent),
        "last_run": {
            "lines": outcome.lines_read,
            "bytes": outcome.bytes_read,
            "rotated": outcome.notes,
        },
        "scan": encode(outcome.scan),
    }
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return gzip.compress(data, compresslevel=COMPRESS_LEVEL, mtime=0)


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data`: a temporary file in the same directory (mode 0600),
    written and fsynced, renamed over `path`, the directory fsynced; nothing is left
    behind on failure (`OSError` then)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(slots=True)
class Plan:
    """What to read of one input: from its start (`track` None: an input the state does
    not know yet, rotations first with `rotations`) or its continuation."""

    name: str
    track: Track | None = None
    cont: Continuation | None = None
    end: int = 0
    """The offset in the live file the read ends at (complete lines)."""
    start: Piece | None = None
    rotations: list[str] = field(default_factory=list)
    error: InputError | None = None


def plan_reads(streams: Sequence[str], saved: Saved | None, *, rotated_first: bool) -> list[Plan]:
    """Look at the files once: what each input needs read now (see `advance`). With
    `rotated_first`, an input new to the state is read with its rotations first."""
    plans = []
    for name in streams:
        track = saved.tracks.get(name) if saved is not None else None
        plan = Plan(name, track)
        if name == JOURNAL_INPUT:
            plans.append(plan)  # read through journalctl, from the cursor (`_read_journal`)
            continue
        try:
            if track is None:
                plan.start, plan.end = start_of(name)
                plan.rotations = rotations_of(name)[:-1] if rotated_first else []
            else:
                plan.cont, plan.end = continuation(track.position)
        except InputError as exc:
            plan.error = exc
        plans.append(plan)
    return plans


def advance(
    plans: Sequence[Plan], options: ScanOptions, saved: Saved | None, *, jobs: int = 1
) -> Outcome:
    """Read what `plans` say onto the saved scan (a new one without `saved`), through
    `options` (with a window: a report of this run only; the state keeps all mail). An
    input read from its start is cut into byte ranges read by `jobs` processes when it is
    large (as `pipeline.scan_partial` does).

    Input errors are recorded in the scan (`input_errors`), as a scan records them."""
    if saved is None:
        inputs = [n for p in plans for n in [*p.rotations, p.name]]
        scan = PartialScan(inputs, ReportBuilder(input_order(inputs), by=options.group_by), {})
        out = Outcome(scan, {}, None)
        fresh = True
    else:
        out = Outcome(saved.scan, dict(saved.tracks), saved.scan.end_time, lost_total=saved.lost)
        fresh = False
        for plan in plans:
            if plan.name not in out.scan.inputs:
                out.scan.inputs.append(plan.name)
                out.scan.builder.order = input_order(out.scan.inputs)
    for plan in plans:
        if plan.name == JOURNAL_INPUT:
            fresh = _read_journal(plan, out, options, first=fresh)
        elif plan.error is not None:
            out.scan.input_errors.append(plan.error)
        elif plan.cont is not None and plan.track is not None:
            _follow(plan.name, plan.track, plan.cont, plan.end, out, options)
        else:
            fresh = _read_new(plan, out, options, first=fresh, jobs=jobs)
    return out


def narrowed(
    plans: Sequence[Plan],
    options: ScanOptions,
    saved: Saved | None,
    window: MessageFilter,
) -> tuple[Outcome, list[Message], float | None]:
    """The same reads through `window`, for this run's report: the saved open mail, the
    recent finished messages (`Saved.recent`) and the new lines; in one process, since the
    messages this run finishes are kept (copies) for the next run's window. Also the kept
    messages and from when they are complete (None: nothing kept: no `since`)."""
    tap = Retaining(window.since, window.until, window.exclude_domains, window.held_until)
    mine = _copy_state(saved)
    if mine is not None and saved is not None:
        emit = report_emitter(mine.scan.builder, tap)
        for msg in saved.recent:
            emit(msg)
    # (the lines are read twice: only the other pass hands unparsed lines on)
    out = advance(plans, replace(options, window=tap, on_unparsed=None), mine)
    if window.since is None:
        return out, [], None
    complete = complete_since(saved)
    return out, tap.kept, max(window.since, complete) if complete is not None else window.since


def complete_since(saved: Saved | None) -> float | None:
    """From when the state can give every finished message again (POSIX seconds): the
    start of its kept messages, else its end (None: a new state, all is read now)."""
    if saved is None:
        return None
    if saved.recent_since is not None:
        return saved.recent_since
    return saved.scan.end_time if saved.scan.end_time is not None else float("-inf")


def _copy_state(saved: Saved | None) -> Saved | None:
    """The saved state with its own open mail and an empty report (the messages the state
    finished before are in its totals; a window gets them from `Saved.recent`)."""
    if saved is None:
        return None
    part = saved.scan
    fresh = ReportBuilder(part.builder.order, by=part.builder.by)
    scan = replace(
        part,
        inputs=list(part.inputs),
        builder=fresh,
        state=copy.deepcopy(part.state),
        counts=copy.deepcopy(part.counts),
        unparsed_sample=list(part.unparsed_sample),
        input_errors=list(part.input_errors),
        backwards=list(part.backwards),
        lines=dict(part.lines),
    )
    return Saved(scan, saved.settings, dict(saved.tracks), saved.lost)


def _read_new(
    plan: Plan, out: Outcome, options: ScanOptions, *, first: bool, jobs: int = 1
) -> bool:
    """An input the state did not know yet, read from its start (its rotations first) onto
    the scan; `first`: nothing was read before it. Whether nothing is read still."""
    assert plan.start is not None
    slices = [Slice(r) for r in plan.rotations]
    slices.append(Slice(plan.name, 0, plan.end))
    part = None
    parallel = jobs > 1 and options.on_unparsed is None  # (every line goes to the callback)
    if parallel and not plan.rotations and plan.end >= 2 * MIN_SLICE_BYTES:
        part = _read_in_ranges(plan, options, out.scan.inputs, first=first, jobs=jobs)
    if part is None:
        part = scan_slices(slices, options, out.scan.inputs, prior_unknown=not first)
    out.lines_read += part.counts.total
    out.bytes_read += plan.end
    position = take_position(plan.start.path, plan.end, part.end_time)
    out.tracks[plan.name] = Track(plan.name, position, part.years_end, part.reader_state)
    out.scan = part if first else merge(out.scan, part, options)
    return False


def _read_in_ranges(
    plan: Plan, options: ScanOptions, inputs: list[str], *, first: bool, jobs: int
) -> PartialScan | None:
    """A plain file's first `plan.end` bytes cut into byte ranges read by `jobs` worker
    processes and merged in order; None when the merge cannot vouch for the one-pass
    answer (then the caller reads it in one pass) or the file is not plain."""
    plain = splittable(plan.name)
    if plain is None:
        return None
    size, mtime = plain
    end = min(plan.end, size)
    pieces = max(min(jobs, end // MIN_SLICE_BYTES), -(-end // MAX_SLICE_BYTES), 1)
    cuts = cut_points(plan.name, end, pieces)
    guesses = year_guesses([first_line_at(plan.name, at) for at in cuts[:-1]], mtime, options)
    last = len(cuts) - 2
    tasks = [
        [
            Slice(
                plan.name,
                cuts[i],
                cuts[i + 1],
                first=i == 0,
                last=i == last,
                years=guesses[i] if i else None,
            )
        ]
        for i in range(len(cuts) - 1)
    ]
    workers = min(jobs, usable_cores())
    part = run_tasks(tasks, options, inputs, workers, prior_unknown=not first)
    return None if part.inexact is not None else part


CURSOR_PREFIX = "-- cursor: "
"""How `journalctl --show-cursor` writes the cursor of the last record, after them."""


def journal_command(base: Sequence[str], cursor: str | None) -> list[str]:
    """The `journalctl` command of a state run: `base` (`journal.journalctl_command`)
    showing the last record's cursor, from after `cursor` when there is one (then without
    the window's `--since`), never stopped at the window's `--until` (the state reads all)."""
    dropped = ("--until=", "--since=") if cursor is not None else ("--until=",)
    cmd = [a for a in base[1:] if not a.startswith(dropped)]
    extra = ["--show-cursor"] + ([f"--after-cursor={cursor}"] if cursor is not None else [])
    return [base[0], *extra, *cmd]


def _read_journal(plan: Plan, out: Outcome, options: ScanOptions, *, first: bool) -> bool:
    """The journal records after the state's cursor, onto the scan; whether nothing is
    read still (as `_read_new`)."""
    assert options.journal_cmd is not None
    track = plan.track
    cursor = track.cursor if track is not None else None
    lines: list[str] = []
    last = cursor
    try:
        _source, records = read_journal(journal_command(options.journal_cmd, cursor))
        for line in records:
            if line.startswith(CURSOR_PREFIX):
                last = line[len(CURSOR_PREFIX) :].strip()
            else:
                lines.append(line)
    except InputError as exc:
        out.scan.input_errors.append(exc)
        return first
    years = track.years if track is not None else None
    carry = track.reader_state if track is not None else None
    fresh = track is None
    piece = Slice(plan.name, first=fresh, years=years, lines=lines, mtime=None, reader_state=carry)
    kept_from = _kept_count(options)
    part = scan_slices([piece], options, out.scan.inputs, prior_unknown=not (first and fresh))
    if not fresh:
        _shift_kept(options, kept_from, plan.name, out.scan.lines.get(plan.name, 0))
    out.lines_read += part.counts.total
    out.bytes_read += sum(len(line) + 1 for line in lines)
    end = (
        part.end_time
        if part.end_time is not None
        else (track.position.last_time if track is not None else None)
    )
    reader = part.reader_state if part.reader_state is not None else carry
    position = Position(plan.name, 0, 0, 0, 0, "", 0, end)
    out.tracks[plan.name] = Track(plan.name, position, part.years_end or years, reader, last)
    if first and fresh:
        out.scan = part
        return False
    kept = out.scan.years_end
    if years is not None:
        out.scan.years_end = years
    out.scan = merge(out.scan, part, options)
    out.scan.years_end = out.scan.years_end or kept
    return False


def _follow(
    name: str, track: Track, cont: Continuation, end: int, out: Outcome, options: ScanOptions
) -> None:
    """Read the pieces of one input's continuation onto `out.scan`, in order."""
    if cont.rotated is not None:
        out.notes.append(cont.rotated)
    if cont.lost is not None:
        out.lost.append(InputError(name, cont.lost))
        out.lost_total += 1
    years = track.years
    carry = track.reader_state
    last_time = track.position.last_time
    live = False
    for piece in cont.pieces:
        part = _scan_piece(name, piece, years, carry, options, out)
        if part is None:
            return  # the error is recorded; the position stays where it was
        if part.end_time is not None:
            last_time = part.end_time
        kept = out.scan.years_end
        if years is not None:
            out.scan.years_end = years  # the merge checks this input's years, not another's
        out.scan = merge(out.scan, part, options)
        years = part.years_end or years
        carry = part.reader_state if part.reader_state is not None else carry
        out.scan.years_end = out.scan.years_end or kept
        live = piece.path == name and not piece.compressed
    if live:
        out.tracks[name] = Track(name, take_position(name, end, last_time), years, carry)
    else:  # no live file yet: whatever appears under the name next is new
        nothing = Position(name, 0, 0, 0, 0, "", 0, last_time)
        out.tracks[name] = Track(name, nothing, years, carry)


def _scan_piece(
    name: str,
    piece: Piece,
    years: YearInference | None,
    carry: dict[str, Any] | None,
    options: ScanOptions,
    out: Outcome,
) -> PartialScan | None:
    """One piece of an input as a partial scan continuing the state (its lines labelled
    with the input's name, so that line numbers run on from the state's)."""
    inputs = out.scan.inputs
    carry = carry or {}
    kept_from = _kept_count(options)
    if piece.path == name and not piece.compressed and piece.end is not None:
        part = scan_slices(
            [Slice(name, piece.start, piece.end, first=False, years=years, reader_state=carry)],
            options,
            inputs,
            prior_unknown=True,
        )
        size = piece.end - piece.start
    else:
        try:
            lines = list(piece_lines(piece, options.max_line))
            mtime = os.stat(piece.path).st_mtime
        except (InputError, OSError) as exc:
            error = exc if isinstance(exc, InputError) else InputError(piece.path, str(exc))
            out.scan.input_errors.append(error)
            return None
        part = scan_slices(
            [
                Slice(
                    name,
                    first=False,
                    years=years,
                    lines=lines,
                    mtime=mtime,
                    reader_state=carry,
                )
            ],
            options,
            inputs,
            prior_unknown=True,
        )
        size = sum(len(line) + 1 for line in lines)
    if part.input_errors:
        out.scan.input_errors += part.input_errors
        return None
    _shift_kept(options, kept_from, name, out.scan.lines.get(name, 0))
    out.lines_read += part.counts.total
    out.bytes_read += size
    return part
