"""Where a log was read to, and where it continues after the file was rotated (`--state`).

A *position* remembers, for one input, the file it was read from (device and inode), the
byte offset just past the last complete line read, the file's size then, and a
*fingerprint* of its first bytes (SHA-256 of up to `FINGERPRINT_BYTES`, with their count).
The fingerprint, not the inode, says whether a file holds the same log: logrotate's
`create` gives the live name a new inode, `compress` gives the rotated copy a new one, and
`copytruncate` keeps the inode while the content starts again.

`continuation` looks at the files as they are now and says what to read, in order:

* the same file grown (same fingerprint, size at least the offset): from the offset;
* the file renamed away and a new one started (mail.log -> mail.log.1, or
  mail.log.1.gz, mail.log-20261201, ...): the rotated copy, found among the rotations by
  fingerprint, from the offset (a compressed copy is decompressed and the offset skipped),
  then the new live file from its start;
* copytruncate (same inode, other first bytes or shorter than the offset): the copy's
  unread part as above, then the live file from its start;
* when no rotated copy holds the old log, what it held past the offset is lost: the
  continuation says so (`lost`), and the live file is read from its start.

Offsets count bytes of the (decompressed) log text. Only complete lines are read from a
live file: a last line without its newline may still be being written, and is read next
time.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from maillog_diag.errors import InputError
from maillog_diag.input.sources import (
    MAX_LINE_BYTES,
    open_source,
    read_range,
    rotations_of,
    text_lines,
)

FINGERPRINT_BYTES = 1024
"""How many first bytes of a log identify it (a syslog line stamp and text vary enough)."""

_TAIL_STEP = 64 * 1024


@dataclass(slots=True)
class Position:
    """How far one input was read (see the module docstring). Offsets and sizes are bytes;
    `last_time` is the POSIX time (UTC) of the last line's stamp, None if unknown."""

    path: str
    dev: int
    inode: int
    offset: int
    size: int
    fingerprint: str
    fingerprint_len: int
    last_time: float | None = None


@dataclass(slots=True)
class Piece:
    """One part of a file to read: bytes `[start, end)` (`end` None: to the end) of `path`,
    which is `compressed` (read decompressed, then `start` bytes skipped) or plain."""

    path: str
    start: int
    end: int | None
    compressed: bool
    fresh: bool = False
    """Whether the piece starts a new file (the live file after a rotation)."""


@dataclass(slots=True)
class Continuation:
    """What to read of one input now, and what could not be recovered."""

    pieces: list[Piece] = field(default_factory=list)
    lost: str | None = None
    """Why part of the log is lost (one line), or None."""
    rotated: str | None = None
    """How the file was rotated since the position was taken (for the report), or None."""


def fingerprint_of(head: bytes) -> str:
    """The fingerprint of a file's first bytes (SHA-256, hex)."""
    return hashlib.sha256(head).hexdigest()


def _head(path: str, length: int) -> tuple[bytes, bool]:
    """The first `length` bytes of `path`'s log text (decompressed) and whether it is
    compressed; `InputError` when it cannot be read."""
    source, stream = open_source(path)
    try:
        compressed = not _is_plain(stream)
        data = stream.read(length) if length else b""
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(path, f"read failed: {exc}") from None
    finally:
        stream.close()
    del source
    return data, compressed


def _is_plain(stream: io.BufferedReader) -> bool:
    raw = getattr(stream, "raw", None)
    return isinstance(raw, io.FileIO)


def complete_end(path: str, size: int) -> int:
    """The offset just past the last newline in the first `size` bytes of a plain file
    (0 when there is none): where its complete lines end."""
    with open(path, "rb") as f:
        end = size
        while end > 0:
            start = max(0, end - _TAIL_STEP)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return start + cut + 1
            end = start
    return 0


def take_position(path: str, offset: int, last_time: float | None) -> Position:
    """The position of a plain file read to `offset` (bytes)."""
    st = os.stat(path)
    length = min(FINGERPRINT_BYTES, offset) if offset else min(FINGERPRINT_BYTES, st.st_size)
    head, _ = _head(path, length)
    return Position(
        path, st.st_dev, st.st_ino, offset, st.st_size, fingerprint_of(head), len(head), last_time
    )


def start_of(path: str) -> tuple[Piece, int]:
    """The first read of a plain file: its complete lines, and the offset they end at."""
    st = _stat(path)
    end = complete_end(path, st.st_size)
    return Piece(path, 0, end, compressed=False), end


def _stat(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "is not a regular file (--state reads files)")
    return st


def _matches(path: str, pos: Position) -> tuple[bool, bool]:
    """Whether `path` starts with the log `pos` was taken of, and whether it is compressed."""
    try:
        head, compressed = _head(path, pos.fingerprint_len)
    except InputError:
        return False, False
    return len(head) == pos.fingerprint_len and fingerprint_of(head) == pos.fingerprint, compressed


def _rotated_copy(pos: Position) -> list[Piece] | None:
    """The rotated copy of the log `pos` was taken of (newest rotation first), as the piece
    that remains to be read of it, followed by any rotation newer than it (the log was
    rotated more than once since: those are read whole); None when no rotation starts
    with its fingerprint."""
    older = rotations_of(pos.path)[:-1]
    for i in range(len(older) - 1, -1, -1):
        same, compressed = _matches(older[i], pos)
        if same:
            pieces = [Piece(older[i], pos.offset, None, compressed=compressed)]
            for newer in older[i + 1 :]:
                _, packed = _matches(newer, Position(newer, 0, 0, 0, 0, "", 0))
                pieces.append(Piece(newer, 0, None, compressed=packed, fresh=True))
            return pieces
    return None


def piece_lines(piece: Piece, max_line: int = MAX_LINE_BYTES) -> Iterator[str]:
    """The lines of a piece, split and decoded as `sources.read_lines` does."""
    if not piece.compressed:
        end = piece.end if piece.end is not None else _stat(piece.path).st_size
        yield from read_range(piece.path, piece.start, end, max_line)
        return
    _source, stream = open_source(piece.path)
    try:
        left = piece.start
        while left > 0:
            skipped = stream.read(min(left, _TAIL_STEP))
            if not skipped:
                return
            left -= len(skipped)
        yield from text_lines(stream, max_line)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(piece.path, f"read failed: {exc}") from None
    finally:
        stream.close()


def continuation(pos: Position) -> tuple[Continuation, int]:
    """What to read of the input `pos` was taken of, and the offset in the live file the
    read will end at (its complete lines). `InputError` when the live file cannot be read
    and no rotated copy holds the rest."""
    out = Continuation()
    try:
        st = _stat(pos.path)
    except InputError:
        rest = _rotated_copy(pos)
        if rest is None:
            raise
        out.pieces += rest
        out.rotated = f"{pos.path} was renamed to {rest[0].path}; no new {pos.path} yet"
        return out, 0
    same, _ = _matches(pos.path, pos)
    if same and st.st_size >= pos.offset:
        end = complete_end(pos.path, st.st_size)
        out.pieces.append(Piece(pos.path, pos.offset, end, compressed=False))
        return out, end
    how = (
        "truncated in place (copytruncate), or replaced"
        if (st.st_dev, st.st_ino) == (pos.dev, pos.inode)
        else "replaced by a new file (rotated)"
    )
    rest = _rotated_copy(pos)
    if rest is not None:
        out.pieces += rest
        out.rotated = f"{pos.path} was {how}; its old part read from {rest[0].path}"
    else:
        out.lost = (
            f"{pos.path} was {how} and no rotated copy of it starts with the log read "
            f"before: what it held after byte {pos.offset:,} (the last run's end) is lost"
        )
    end = complete_end(pos.path, st.st_size)
    out.pieces.append(Piece(pos.path, 0, end, compressed=False, fresh=True))
    return out, end
