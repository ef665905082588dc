"""Summary files: a partial scan written to disk, to merge later (fleets, `--state`).

A summary may come from another machine, so it is plain JSON (never pickle), optionally
gzip-compressed (recognised by its magic bytes), and decoding builds only the classes
listed in `CLASSES`. The format is documented in `docs/summary-format.md`:

    {"format": "maillog-diag-summary", "version": 1, "producer": "maillog-diag 0.1.0",
     "settings": {"zone": "UTC", "year": null, "window": {...}},
     "scan": <PartialScan>}

Values are encoded field by field, so a field another module adds to one of these classes
is written and read without a change here (a reader of an older file fills it with its
default). A dataclass or other object becomes `{"@": "ClassName", "field": value, ...}`;
an enum member `{"@e": "Status", "v": "sent"}`; a dict `{"@d": [[key, value], ...]}` (keys
may be tuples); a tuple `{"@t": [...]}`; a set `{"@s": [...]}` (sorted, so the same scan
gives the same bytes); a `Counter` `{"@c": [[key, count], ...]}`. Lists, strings, numbers,
booleans and null are themselves.
"""

from __future__ import annotations

import gzip
import json
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from types import UnionType
from typing import IO, Any, get_args, get_origin, get_type_hints

from maillog_diag.core import analysis, correlate
from maillog_diag.core.counts import SortedCounts
from maillog_diag.core.hours import HourCounts
from maillog_diag.errors import InputError, MaillogError, UnparsableLine
from maillog_diag.scan import lines
from maillog_diag.scan.partial import PartialScan, record_classes

FORMAT = "maillog-diag-summary"
VERSION = 5
"""Bumped when a reader of this version could misread a newer file. (5: a head may hold
runs of retries, `HeadRetries`, which a version 4 reader would refuse as damage; 4: a destination's
causes hold no table of domains, null where version 3 had one, and a cause's hint kinds
are four counts, not a table; 3: a cause's retry intervals are one table, `hints`; a
version 2 reader would find no `stated` table and report no median interval.)"""


class SummaryError(MaillogError):
    """A summary file that cannot be used: damaged, foreign, newer, or not mergeable."""


CLASSES, ENUMS = record_classes()
"""The only classes a summary may build, by name."""

_EXCEPTIONS: dict[str, type[Exception]] = {
    "UnparsableLine": UnparsableLine,
    "InputError": InputError,
}


_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
"""Exact types written as themselves (an enum member, a str subclass, is not one)."""

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def encode(value: Any) -> Any:
    """A JSON-ready form of a partial scan's values (see the module docstring)."""
    kind = type(value)
    if kind in _LEAF_TYPES:
        return value
    if kind is list:
        return [v if type(v) in _LEAF_TYPES else encode(v) for v in value]
    if kind is dict:
        return {"@d": [[encode(k), encode(v)] for k, v in value.items()]}
    names = _FIELD_NAMES.get(kind)
    if names is not None:  # a registered dataclass met before
        out: dict[str, Any] = {"@": kind.__name__}
        for key in names:
            item = getattr(value, key)
            out[key] = item if type(item) in _LEAF_TYPES else encode(item)
        return out
    return _encode_other(value)


def _encode_other(value: Any) -> Any:
    if isinstance(value, Enum):  # before str: the enums here are StrEnums
        return {"@e": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, array):  # (held times: read back by `_READ_AS`)
        return value.tolist()
    if isinstance(value, Counter):
        return {"@c": [[encode(k), n] for k, n in value.items()]}
    # (`type() is`, not `isinstance`: see `core.counts`)
    if type(value) is HourCounts:  # (read back as a Counter: DestinationStats takes it)
        return {"@c": [[hour, n] for hour, n in value.items()]}
    if type(value) is SortedCounts:  # (read back as a Counter, then by `_READ_AS`)
        return {"@c": [[v, n] for v, n in value.pairs()]}
    if isinstance(value, dict):
        return {"@d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"@t": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"@s": sorted((encode(v) for v in value), key=_sort_key)}
    if isinstance(value, UnparsableLine):
        args = [value.source, value.lineno, value.text, value.context]
        return {"@x": "UnparsableLine", "a": args}
    if isinstance(value, InputError):
        return {"@x": "InputError", "a": [value.source, value.reason]}
    name = type(value).__name__
    if CLASSES.get(name) is not type(value):
        raise TypeError(f"{name} cannot be written to a summary")
    items: list[tuple[str, Any]]
    if is_dataclass(value):
        names = tuple(f.name for f in fields(value) if not callable(getattr(value, f.name)))
        _FIELD_NAMES[type(value)] = names
        items = [(key, getattr(value, key)) for key in names]
    else:
        items = list(_instance_state(value).items())
    out: dict[str, Any] = {"@": name}
    for key, item in items:
        if not callable(item):
            out[key] = encode(item)
    return out


def _instance_state(value: Any) -> dict[str, Any]:
    """The attributes of a record that is not a dataclass (`ReportBuilder`), in the order
    they were set: its `__dict__`; under the accelerated build, where a compiled class has
    none, what mypyc's `__getstate__` gives (the same names, in the order of `__init__`)."""
    try:
        attributes: dict[str, Any] = vars(value)
    except TypeError:
        state: dict[str, Any] = value.__getstate__()
        return state
    return attributes


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def decode(value: Any) -> Any:
    """Build the values `encode` wrote (already parsed JSON); `ValueError` otherwise."""
    return json.loads(json.dumps(value), object_hook=_record)


def _as_hours(values: Any) -> HourCounts:
    return values if type(values) is HourCounts else HourCounts(values)


def _as_floats(values: Any) -> Any:
    return None if values is None else array("d", values)


def _as_sorted_counts(values: Any) -> SortedCounts:
    if type(values) is SortedCounts:
        return values
    return SortedCounts("d", {float(v): n for v, n in _as_counter(values).items()})


def _as_counter(values: Any) -> Counter[Any]:
    """Counts as written (`{"@c": ...}`), or a version 1 file's list of values."""
    if type(values) is Counter:
        return values
    if not isinstance(values, list):  # (a string would be counted letter by letter)
        raise ValueError(f"a table of counts holds {type(values).__name__}")
    return Counter(values)


def _no_columns(value: Any) -> None:
    if value is not None:
        raise ValueError("a run of retries holds columns")


_READ_AS: dict[str, dict[str, Callable[[Any], Any]]] = {
    # Hour counts are written as plain counts (`{"@c": ...}`, read as a `Counter`).
    "DestinationStats": {"hourly_deferrals": _as_hours, "hourly_held": _as_hours},
    "HeldTimes": {"values": _as_floats},
    # A version 1 summary holds the schedule's intervals as lists of values, not counts.
    "ScheduleStats": {
        "hints": _as_counter,
        **dict.fromkeys(("gaps", "early_gaps", "late_gaps"), _as_sorted_counts),
    },
    # A frozenset is written as a set is (`{"@s": ...}`, read as a `set`).
    "MessageFilter": {"exclude_domains": frozenset},
    # A file holds a run's attempts as records only (`correlate.settle_packed`).
    "HeadRetries": {"packed": _no_columns},
}
"""Fields read into another type than the JSON gives, by record kind: the classes take
only their own field types (compiled by mypyc, a class checks them when it is built)."""


_RENAMED: dict[str, dict[str, str]] = {
    # Versions 1 and 2 kept a cause's intervals twice: `stated` (the receiver's own
    # replies) and `hints` (with the MTA's repeats in older files): `stated` is what
    # `hints` counts now.
    "CauseStat": {"stated": "hints"},
}
"""Fields of older files read as another field (replacing what the file holds there)."""


def _hint_kinds_as_fields(value: dict[str, Any]) -> None:
    """A cause's table of hint kinds (versions 1 to 3, and the first files of 4) as the
    four counts that hold it now (a kind this version does not know is refused)."""
    kinds = value.pop("hint_kinds", None)
    if kinds is None:
        return
    if not isinstance(kinds, dict):
        raise ValueError("CauseStat.hint_kinds is not a table of counts")
    for kind, n in kinds.items():
        name = _HINT_FIELDS.get(kind)
        if name is None or type(n) is not int:
            raise ValueError(f"CauseStat.hint_kinds holds {kind!r}: {n!r}")
        value[name] = value.get(name, 0) + n


_HINT_FIELDS = {
    "explicit": "explicit_hints",
    "documented": "documented_hints",
    "vague": "vague_hints",
    "none": "no_hints",
}
"""Where a table of hint kinds (`HintKind` values) goes in a `CauseStat`."""

_UPGRADED: dict[str, Callable[[dict[str, Any]], None]] = {
    "CauseStat": _hint_kinds_as_fields,
}
"""Record kinds whose older fields are rewritten into the current ones, in place."""


def loads(text: str | bytes) -> Any:
    """Parse and build in one pass (each JSON object is built as soon as it is read)."""
    return json.loads(text, object_hook=_record)


def _record(value: dict[str, Any]) -> Any:
    """One JSON object of a summary as the value it stands for."""
    if "@" in value:
        name = value.pop("@")
        known = _DATACLASSES.get(name) if isinstance(name, str) else None
        convert = _READ_AS.get(name) if isinstance(name, str) else None
        if convert is not None:
            for key, read in convert.items():
                if key in value:
                    value[key] = read(value[key])
        if known is not None and known[1].issuperset(value):
            _check_fields(name, value)
            return known[0](**value)  # the common case, checked in one step
        cls = CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"unknown record kind {name!r}")
        if is_dataclass(cls):
            for old, new in _RENAMED.get(name, {}).items():
                if old in value:
                    value[new] = value.pop(old)
            upgrade = _UPGRADED.get(name)
            if upgrade is not None:
                upgrade(value)
            unknown = set(value) - _known(cls)
            if unknown:
                raise ValueError(f"{name} has unknown fields {sorted(unknown)}")
            _check_fields(name, value)
            return cls(**value)
        made: Any = cls
        obj: Any = made.__new__(made)
        setstate = getattr(obj, "__setstate__", None)
        if setstate is None:
            obj.__dict__.update(value)
        else:  # a class compiled by mypyc (see `_instance_state`)
            setstate(value)
        return obj
    if len(value) == 1:
        (tag, items), *_ = value.items()
        if tag == "@d":
            return {_hashable(k): v for k, v in items}
        if tag == "@t":
            return tuple(items)
        if tag == "@s":
            return {_hashable(v) for v in items}
        if tag == "@c":
            return Counter({_hashable(k): int(n) for k, n in items})
    if "@e" in value:
        enum = ENUMS.get(value["@e"])
        if enum is None:
            raise ValueError(f"unknown value kind {value['@e']!r}")
        return enum(value["v"])
    if "@x" in value:
        exc = _EXCEPTIONS.get(value["@x"])
        if exc is None:
            raise ValueError(f"unknown error kind {value['@x']!r}")
        return exc(*value["a"])
    return value  # the envelope and its settings are plain objects


_KNOWN: dict[type, frozenset[str]] = {}

_DATACLASSES: dict[str, tuple[Any, frozenset[str]]] = {
    name: (cls, frozenset(f.name for f in fields(cls)))
    for name, cls in CLASSES.items()
    if is_dataclass(cls)
}
"""Registered dataclasses by name, with their field names (decoding's fast path)."""


def _accepted(hint: Any) -> tuple[type, ...] | None:
    """The types a field of this annotation may hold in a summary, or None where this
    check does not look (records, mappings of the scan's own types, arrays: the classes
    and conversions that build them check those)."""
    parts = get_args(hint) if isinstance(hint, UnionType) else (hint,)
    accepted: list[type] = []
    for part in parts:
        origin = get_origin(part) or part
        if part is float:
            accepted += [float, int]  # (an integral float may be written as an int)
        elif origin in (int, str, bool, list, tuple, Counter) or part is type(None):
            accepted.append(origin)
        elif origin in (dict, set, frozenset):
            accepted += [dict] if origin is dict else [set, frozenset]
        elif isinstance(origin, type) and issubclass(origin, Enum):
            accepted.append(origin)
        else:
            return None
    return tuple(accepted)


def _field_checks(cls: Any) -> dict[str, tuple[type, ...]]:
    try:
        hints = get_type_hints(cls)
    except (NameError, TypeError, AttributeError):  # (an annotation it cannot resolve)
        return {}
    checks: dict[str, tuple[type, ...]] = {}
    for field in fields(cls):
        accepted = _accepted(hints.get(field.name))
        if accepted is not None:
            checks[field.name] = accepted
    return checks


_CHECKS: dict[str, dict[str, tuple[type, ...]]] = {
    name: _field_checks(cls) for name, (cls, _) in _DATACLASSES.items()
}
"""The types each record's plain fields may hold, by record kind: a hostile or damaged
summary's `"count": "x"` is refused as it is read, not met later as a crash in the
middle of a merge (compiled by mypyc, a class checks its fields itself; this checks them
for both builds alike)."""


def _check_fields(name: str, value: dict[str, Any]) -> None:
    for key, accepted in _CHECKS.get(name, {}).items():
        held = value.get(key, _ABSENT)
        if held is not _ABSENT and not isinstance(held, accepted):
            raise ValueError(f"{name}.{key} holds {type(held).__name__}")


_ABSENT: Any = object()


def _known(cls: type) -> frozenset[str]:
    names = _KNOWN.get(cls)
    if names is None:
        names = _KNOWN[cls] = frozenset(f.name for f in fields(cls))
    return names


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def settings_of(zone: str | None, year: int | None, window: Any) -> dict[str, Any]:
    """What a summary's numbers depend on besides the log: the zone of stamps without one
    (as named; None: the local zone), a fixed year, and the window (which mail counts).
    Summaries merge only when these agree."""
    return {"zone": zone, "year": year, "window": encode(window)}


def write_summary(
    part: PartialScan, settings: dict[str, Any], out: IO[bytes], *, compress: bool
) -> None:
    """Write a partial scan as a summary file (gzip-compressed when `compress`)."""
    from maillog_diag import __version__

    correlate.settle_packed(part.state)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "producer": f"maillog-diag {__version__}",
        "settings": settings,
        "scan": encode(part),
    }
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    out.write(gzip.compress(data, compresslevel=6, mtime=0) if compress else data)


def read_summary(name: str, data: bytes) -> tuple[PartialScan, dict[str, Any]]:
    """A summary file's partial scan and settings; `SummaryError` (one line) otherwise."""
    _, part, settings = decode_document(
        data, name, SummaryError, Envelope(FORMAT, VERSION), unreadable="not a readable summary"
    )
    return part, settings


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a file of ours says it is: `format` and the newest `version` this code reads;
    `kind` names it in messages, `upgrade` says what to do with a newer one."""

    format: str
    version: int
    kind: str = "summary"
    upgrade: str = "upgrade maillog-diag"

    def check(self, where: str, doc: Any, error: type[MaillogError]) -> None:
        """`error` (one line) unless `doc` is of this format and no newer version."""
        if not isinstance(doc, dict) or doc.get("format") != self.format:
            raise error(f"{where}: not a maillog-diag {self.kind}")
        version = doc.get("version")
        if not isinstance(version, int) or version > self.version:
            raise error(
                f"{where}: {self.kind.split()[0]} format version {version!r} is newer than this"
                f" maillog-diag reads ({self.version}): {self.upgrade}"
            )


def decode_document(
    data: bytes,
    where: str,
    error: type[MaillogError],
    envelope: Envelope,
    *,
    unreadable: str,
    noun: str = "summary",
) -> tuple[dict[str, Any], PartialScan, dict[str, Any]]:
    """The document of a summary or state file (gzip-compressed or not), its partial scan
    and its settings. A file that is damaged, foreign (`envelope` decides) or of a newer
    version raises `error` with one line starting with `where`; `unreadable` says what a
    file is that cannot even be decompressed or decoded."""
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise error(f"{where}: {unreadable} ({type(exc).__name__})") from None
    try:
        doc = loads(text)  # builds the records as it parses
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Say why as precisely as the envelope allows: foreign, newer, or damaged.
        try:
            plain = json.loads(text)
        except ValueError:
            raise error(f"{where}: damaged or not a {noun} (not valid JSON)") from None
        envelope.check(where, plain, error)
        raise error(f"{where}: damaged {noun} ({str(exc)[:200]})") from None
    envelope.check(where, doc, error)
    try:
        part = doc["scan"]
        settings = doc["settings"]
        if not isinstance(part, PartialScan) or not isinstance(settings, dict):
            raise ValueError("no partial scan")
        check_shape(part)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise error(f"{where}: damaged {noun} ({str(exc)[:200]})") from None
    return doc, part, settings


def check_shape(part: PartialScan) -> None:
    """The shape checks a merge relies on (a damaged file fails here, not in a merge)."""
    if not isinstance(part.builder, analysis.ReportBuilder) or not isinstance(part.state, dict):
        raise ValueError("no report or state")
    for name in ("destinations", "causes", "held_mail", "order"):
        if not hasattr(part.builder, name):
            raise ValueError(f"report without {name}")
    if not isinstance(part.counts, lines.LineCounts) or not isinstance(part.inputs, list):
        raise ValueError("no line counts")
    for name in correlate.STATE_FIELDS:
        if name != "_seen" and name not in part.state:
            raise ValueError(f"state without {name}")


def merge_summaries(
    parts: Iterable[tuple[str, PartialScan, dict[str, Any]]], options: Any
) -> PartialScan:
    """Merge summaries in the order given: each one either continues the ones before it
    (made with `--continued`) or covers other hosts. `SummaryError` when they cannot be
    merged (other settings, or the same host in two summaries that each start a log).

    `parts` is consumed one at a time and each is dropped once merged: given a generator
    that reads each summary when asked, memory holds the merged scan and one summary, not
    all of them (a fleet of a thousand hosts)."""
    from maillog_diag.scan.base import input_order
    from maillog_diag.scan.partial import merge

    them = iter(parts)
    first = next(them, None)
    if first is None:
        raise SummaryError("no summary to merge")
    first_name, merged, settings = first
    del first
    hosts = set(merged.state.get("hosts", ()))
    for name, part, other in them:
        if other != settings:
            raise SummaryError(
                f"{name} was made with other settings (zone, year or window) than {first_name}"
            )
        theirs = set(part.state.get("hosts", ()))
        if not part.state.get("prior_unknown"):
            shared = sorted(hosts & theirs)
            if shared:
                raise SummaryError(
                    f"{name} and an earlier summary both start the log of host {shared[0]!r}:"
                    " summarize a host's logs once (or later ones with --continued)"
                )
        hosts |= theirs
        merged.inputs = merged.inputs + [n for n in part.inputs if n not in merged.inputs]
        merged.builder.order = input_order(merged.inputs)
        merged = merge(merged, part, options)
        del part  # (before the next summary is read)
    return merged
