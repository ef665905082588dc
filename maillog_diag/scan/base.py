"""What every way of running a scan shares: its options, its result besides messages,
and the callback that adds finished messages to a report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.model import Message
from maillog_diag.core.window import MessageFilter
from maillog_diag.errors import InputError, UnparsableLine
from maillog_diag.input.sources import MAX_LINE_BYTES
from maillog_diag.scan.lines import LineCounts

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
"""Lines between two progress callbacks."""


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
