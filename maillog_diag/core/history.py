"""A recipient's earlier attempts, kept in columns while its message is in flight.

Mail in flight is what a scan's memory must be bounded by, and a held message's memory is
its retry history: each attempt as an `Attempt` costs 240-330 bytes (the record, its
time, its `LineRef` and line number, its `delays` text), so a queue of 10,000 messages
retried 90 times held 340 MiB. Most of an attempt repeats the one before (the relay, the
DSN code, the status, often the reply), and what is its own (the time, the line, the
`delays`) fits in a few array slots. `PackedAttempts` keeps that: about 50 bytes an attempt, and
its reply when that is its own.

It is the correlator's private store (see `Correlator._pack`): every message it emits,
exports or lets a live view read has its attempts unpacked again into `Attempt` records
equal, field by field, to the ones packed. A `LineRef` comes back as a new object with the
same source, line number and text.
"""

from __future__ import annotations

from array import array

from maillog_diag.core.model import Attempt, LineRef, Status

_Kind = tuple[Status, str | None, str | None, bool, str | None, bool, str | None]
"""What an attempt shares with its neighbours: status, relay, dsn, suspended, stage,
handoff, program. (The reply is not part of it: many receivers put an id of the session in
every reply, Gmail's `- gsmtp` line among them, so a kind holding it would be one per
attempt.)"""

_NO_REF = -1
"""`sources` value of an attempt without a line reference."""

_NO_DELAYS = -1
"""`delays_len` value of an attempt without a `delays` text."""

SCAN_KINDS = 8
"""Kinds a pack looks through in a list before it indexes them in a dict: a held
recipient's attempts have a few kinds (a dict cost about 270 bytes a pack, and a pack is
made for every recipient deferred a fourth time); a hostile log's, one per relay."""


class PackedAttempts:
    """Attempts in the order packed, one array slot (or a few bytes) per field."""

    __slots__ = (
        "times",
        "linenos",
        "sources",
        "kinds",
        "replies",
        "delays_len",
        "delays_blob",
        "texts",
        "_source_names",
        "_kind_list",
        "_kind_index",
    )

    def __init__(self) -> None:
        self.times = array("d")
        """POSIX seconds of each attempt."""
        self.linenos = array("q")
        self.sources = array("i")
        """Index into `_source_names`, or `_NO_REF`."""
        self.kinds = array("I")
        """Index into `_kind_list`."""
        self.replies: list[str | None] = []
        """Each attempt's reply (the same object where replies repeat: the correlator
        shares them)."""
        self.delays_len = array("i")
        """Bytes of each attempt's `delays` in `delays_blob` (UTF-8, surrogates kept), or
        `_NO_DELAYS`."""
        self.delays_blob = bytearray()
        self.texts: dict[int, str] | None = None
        """Line texts that are not empty, by attempt index (only `trace` keeps them)."""
        self._source_names: list[str] = []
        """The inputs the attempts' lines came from (a message's lines lie in one or a few
        files: looked up in the list)."""
        self._kind_list: list[_Kind] = []
        self._kind_index: dict[_Kind, int] | None = None
        """`_kind_list`'s positions, once it holds more than `SCAN_KINDS`."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickled as its columns (a worker's result, a Dask task's): bytes, not records."""
        return _rebuild, (
            self.times.tobytes(),
            self.linenos.tobytes(),
            self.sources.tobytes(),
            self.kinds.tobytes(),
            self.replies,
            self.delays_len.tobytes(),
            bytes(self.delays_blob),
            self.texts,
            self._source_names,
            self._kind_list,
        )

    def shift(self, source: str, delta: int) -> None:
        """Add `delta` to the line numbers of `source` (a slice's lines renumbered when
        merged after the slices before it)."""
        if source not in self._source_names:
            return
        index = self._source_names.index(source)
        linenos = self.linenos
        for i, at in enumerate(self.sources):
            if at == index:
                linenos[i] += delta

    def __len__(self) -> int:
        return len(self.times)

    def add(self, attempt: Attempt) -> None:
        """Append one attempt (its objects are not kept, only their values)."""
        kind: _Kind = (
            attempt.status,
            attempt.relay,
            attempt.dsn,
            attempt.suspended,
            attempt.stage,
            attempt.handoff,
            attempt.program,
        )
        index = self._kind_at(kind)
        ref = attempt.ref
        if ref is None:
            self.sources.append(_NO_REF)
            self.linenos.append(0)
        else:
            names = self._source_names
            if names and names[-1] == ref.source:
                source = len(names) - 1
            elif ref.source in names:
                source = names.index(ref.source)
            else:
                source = len(names)
                names.append(ref.source)
            self.sources.append(source)
            self.linenos.append(ref.lineno)
            if ref.text:
                if self.texts is None:
                    self.texts = {}
                self.texts[len(self.times)] = ref.text
        delays = attempt.delays
        if delays is None:
            self.delays_len.append(_NO_DELAYS)
        else:
            raw = delays.encode("utf-8", "surrogatepass")
            self.delays_len.append(len(raw))
            self.delays_blob += raw
        self.kinds.append(index)
        self.replies.append(attempt.reply)
        self.times.append(attempt.time)

    def extend(self, other: PackedAttempts) -> None:
        """Append all of `other`'s attempts, in order (a run of retries folded in another
        process, see `correlate.HeadRetries`): column by column, not record by record."""
        kinds = [self._kind_at(kind) for kind in other._kind_list]
        names = self._source_names
        sources: list[int] = []
        for name in other._source_names:
            if name not in names:
                names.append(name)
            sources.append(names.index(name))
        offset = len(self.times)
        if other.texts:
            texts = self.texts
            if texts is None:
                texts = self.texts = {}
            for index, text in other.texts.items():
                texts[offset + index] = text
        if kinds == list(range(len(kinds))):
            self.kinds.extend(other.kinds)
        else:
            self.kinds.extend(array("I", [kinds[k] for k in other.kinds]))
        if sources == list(range(len(sources))):
            self.sources.extend(other.sources)
        else:
            self.sources.extend(
                array("i", [s if s == _NO_REF else sources[s] for s in other.sources])
            )
        self.times.extend(other.times)
        self.linenos.extend(other.linenos)
        self.replies.extend(other.replies)
        self.delays_len.extend(other.delays_len)
        self.delays_blob += other.delays_blob

    def _kind_at(self, kind: _Kind) -> int:
        """The position of `kind` in `_kind_list`, added at the end if new."""
        kinds = self._kind_list
        index_of = self._kind_index
        if index_of is not None:
            index = index_of.get(kind, -1)
        else:
            index = -1
            for i in range(len(kinds)):
                if kinds[i] == kind:
                    index = i
                    break
        if index < 0:
            index = len(kinds)
            kinds.append(kind)
            if index_of is not None:
                index_of[kind] = index
            elif index >= SCAN_KINDS:
                self._kind_index = {known: i for i, known in enumerate(kinds)}
        return index

    def unpack(self) -> list[Attempt]:
        """The attempts as records, in the order added."""
        out: list[Attempt] = []
        kinds = self._kind_list
        replies = self.replies
        names = self._source_names
        texts = self.texts or {}
        blob = self.delays_blob
        at = 0
        for i in range(len(self.times)):
            status, relay, dsn, suspended, stage, handoff, program = kinds[self.kinds[i]]
            source = self.sources[i]
            ref = (
                None
                if source == _NO_REF
                else LineRef(names[source], self.linenos[i], texts.get(i, ""))
            )
            size = self.delays_len[i]
            delays: str | None = None
            if size != _NO_DELAYS:
                delays = blob[at : at + size].decode("utf-8", "surrogatepass")
                at += size
            out.append(
                Attempt(
                    self.times[i],
                    status,
                    relay,
                    dsn,
                    replies[i],
                    delays,
                    suspended,
                    stage,
                    ref,
                    handoff,
                    program,
                )
            )
        return out

    def shared_texts(self) -> list[str]:
        """The texts these attempts share with others (relay, dsn, reply, program)."""
        texts = [
            text
            for _, relay, dsn, _, _, _, program in self._kind_list
            for text in (relay, dsn, program)
            if text is not None
        ]
        texts.extend(reply for reply in self.replies if reply is not None)
        return texts


def _rebuild(
    times: bytes,
    linenos: bytes,
    sources: bytes,
    kinds: bytes,
    replies: list[str | None],
    delays_len: bytes,
    delays_blob: bytes,
    texts: dict[int, str] | None,
    source_names: list[str],
    kind_list: list[_Kind],
) -> PackedAttempts:
    """The `PackedAttempts` that `__reduce__` took apart."""
    packed = PackedAttempts()
    packed.times.frombytes(times)
    packed.linenos.frombytes(linenos)
    packed.sources.frombytes(sources)
    packed.kinds.frombytes(kinds)
    packed.replies = replies
    packed.delays_len.frombytes(delays_len)
    packed.delays_blob += delays_blob
    packed.texts = texts
    packed._source_names = source_names
    packed._kind_list = kind_list
    if len(kind_list) > SCAN_KINDS:
        packed._kind_index = {kind: i for i, kind in enumerate(kind_list)}
    return packed
