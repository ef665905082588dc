"""Opening inputs: files (plain or compressed, detected by content) and standard input.

An input that cannot be opened or read raises `InputError` naming it; lines read before
a fault (a truncated gzip member, say) have already been handed on and are kept.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from .errors import InputError

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


@dataclass(frozen=True, slots=True)
class Source:
    """One input: its display name, and the POSIX time it was last written (None for a pipe)."""

    name: str
    mtime: float | None


def _compression(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _open_binary(name: str) -> tuple[IO[bytes], float | None]:
    if name == "-":
        return sys.stdin.buffer, None
    try:
        if os.path.isdir(name):
            raise InputError(name, "is a directory")
        raw = open(name, "rb")  # noqa: SIM115 - closed by the caller
        mtime = os.fstat(raw.fileno()).st_mtime
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
    return raw, mtime


def open_source(
    name: str,
) -> tuple[Source, IO[bytes] | gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile]:
    """Open `name` (`-` for stdin), unwrapping gzip, bzip2 or xz compression by content."""
    raw, mtime = _open_binary(name)
    buffered: io.BufferedReader = (
        raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    )
    try:
        head = buffered.peek(8)[:8]
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
    kind = _compression(head)
    stream: IO[bytes] | gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=buffered)
    elif kind == "bzip2":
        stream = bz2.BZ2File(buffered)
    elif kind == "xz":
        stream = lzma.LZMAFile(buffered)
    elif kind == "zstd":
        raise InputError(name, "zstd-compressed input is not supported yet; decompress it first")
    else:
        stream = buffered
    return Source(name, mtime), stream


def read_lines(name: str) -> tuple[Source, Iterator[str]]:
    """The source and its lines as text (without newlines; undecodable bytes replaced)."""
    source, stream = open_source(name)

    def lines() -> Iterator[str]:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)
        try:
            for line in text:
                yield line.rstrip("\n")
        except (OSError, EOFError, lzma.LZMAError) as exc:
            reason = str(exc) or type(exc).__name__
            raise InputError(name, f"read failed: {reason}") from None
        finally:
            if name != "-":
                text.close()

    return source, lines()
