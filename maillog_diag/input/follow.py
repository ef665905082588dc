"""Following a growing log file like `tail -F`: new complete lines as they are written.

A `Follower` keeps the file open and remembers how far it read. On each `poll` it reads
what was appended, then looks at the path again:

* another file now has the name (device or inode differ: the log was rotated by renaming,
  and a new one started): the rest of the old file is read first, then the new file from
  its start;
* the file is shorter than what was read (truncated in place, `copytruncate`): it is read
  again from its start. Like `tail -F`, a file truncated and refilled past the old offset
  between two polls cannot be told from one that grew;
* the path is missing (between a rotation's rename and the new file): it is waited for.

Lines are read as the batch reader reads them (`sources._text_lines`): only LF ends a line,
CRLF loses its CR, UTF-8 is decoded with replacement characters, and a line longer than
`max_line` bytes is skipped to its newline without being kept and handed on as a `LongLine`
(counted as unparsed), so memory stays bounded whatever the file holds and a cut piece of a
long line is never read as a line of its own.
"""

from __future__ import annotations

import os
import stat

from maillog_diag.errors import InputError
from maillog_diag.input.sources import MAX_LINE_BYTES, chunk_lines, long_line

READ_CHUNK = 1 << 20
"""Bytes read at most per `read` call."""

POLL_BYTES = 8 << 20
"""Bytes one `poll` reads at most: the lines it returns stay a bounded list."""


class Follower:
    """Follows one path; `poll()` returns the complete lines written since the last poll."""

    def __init__(
        self, path: str, *, from_start: bool = False, max_line: int = MAX_LINE_BYTES
    ) -> None:
        self.path = path
        self._max_line = max_line
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._pending = b""
        self._skipping: tuple[bytes, int] | None = None
        """While a line longer than `max_line` is being skipped: its first bytes and the
        length seen so far."""
        self.rotations = 0
        """How often another file took the name (renamed rotations)."""
        self.truncations = 0
        """How often the file was found shorter than what had been read."""
        self._open(at_end=not from_start)

    def _open(self, *, at_end: bool) -> bool:
        """Open the path (at its end, or its start); False when it does not exist. Raises
        InputError for a directory."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise InputError(self.path, "is a directory (name the log file)")
        self._fd = fd
        self._ident = (st.st_dev, st.st_ino)
        self._offset = st.st_size if at_end else 0
        self._pending = b""
        self._skipping = None
        return True

    @property
    def is_open(self) -> bool:
        """Whether a file is being followed (False while the path is missing)."""
        return self._fd is not None

    def _drain(self) -> tuple[list[str], bool]:
        """What was appended to the open file since the last read, as complete lines: at
        most `POLL_BYTES` (a long file read from its start comes in pieces); and whether
        the end of the file was reached."""
        assert self._fd is not None
        lines: list[str] = []
        budget = POLL_BYTES
        while budget > 0:
            try:
                chunk = os.pread(self._fd, min(READ_CHUNK, budget), self._offset)
            except OSError:  # the file went bad under us: reopen it at the next poll
                self.close()
                return lines, False
            if not chunk:
                return lines, True
            self._offset += len(chunk)
            budget -= len(chunk)
            lines += self._split(chunk)
        return lines, False

    def _split(self, chunk: bytes) -> list[str]:
        limit = self._max_line
        out: list[str] = []
        if self._skipping is not None:
            head, length = self._skipping
            newline = chunk.find(b"\n")
            if newline < 0:
                self._skipping = (head, length + len(chunk))
                return out
            out.append(long_line(head, length + newline + 1, limit))
            self._skipping = None
            chunk = chunk[newline + 1 :]
        data = self._pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
        else:
            rest = data[cut + 1 :]
            out += chunk_lines(data[:cut], limit)
        if len(rest) > limit:
            self._skipping = (rest[: min(300, limit + 1)], len(rest))
            rest = b""
        self._pending = rest
        return out

    def poll(self) -> list[str]:
        """The complete lines written since the last call (rotations and truncations
        handled as the module says)."""
        if self._fd is None:
            return self._drain()[0] if self._open(at_end=False) else []
        lines, at_end = self._drain()
        if not at_end or self._fd is None:
            return lines  # more to read: rotations are looked for once it is read
        try:
            st = os.stat(self.path)
        except OSError:
            return lines  # renamed away, the new file not there yet: keep the old one
        if (st.st_dev, st.st_ino) != self._ident:
            lines += self._finish_old()
            self.rotations += 1
            if self._open(at_end=False):
                lines += self._drain()[0]
        elif st.st_size < self._offset:
            self.truncations += 1
            self._offset = 0
            self._pending = b""
            self._skipping = None
            lines += self._drain()[0]
        return lines

    def _finish_old(self) -> list[str]:
        """Close the rotated file; a last line without its newline is handed on whole."""
        rest: list[str] = []
        if self._skipping is not None:
            head, length = self._skipping
            rest.append(long_line(head, length, self._max_line))
        elif self._pending:
            rest.append(self._pending.decode("utf-8", errors="replace"))
        self.close()
        return rest

    def close(self) -> None:
        """Stop following (the file is closed)."""
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._pending = b""
