"""Where a `maillog-diag` run's memory goes, phase by phase (issue 12).

Runs the CLI in this process with hooks that print, on stderr, the resident set (VmRSS)
and its peak (VmHWM) after each step of the scan engine: every slice read
(`scan_slices`, in whichever process read it), every worker result unpacked, every merge
(with the merged state's open messages and destinations), `finish`, `report_dict` and
`write_json`; and every `--tick` seconds. `--trace` adds Python's traced memory (current
and peak since the last line, `tracemalloc`: slow, and it inflates the RSS); `--heap`
prints, before `finish`, the live objects by type, the filled caches and the allocator's
arena statistics (`sys._debugmallocstats`: arenas held against bytes in use shows memory
freed but not given back).

    python tools/bench/mem_phases.py -- report /var/tmp/bench/postfix-1000000-seed20261126.log \\
        --format json --jobs 2 > /dev/null
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import importlib
import os
import sys
import threading
import time
import tracemalloc
import types
from typing import Any

MIB = 1 << 20
START = time.time()


def _status() -> dict[str, int]:
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                found[key] = int(value.split()[0]) // 1024
    return found


def log(what: str) -> None:
    seen = _status()
    traced = ""
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        traced = f" traced {current / MIB:.1f} (peak {peak / MIB:.1f}) MiB"
    sys.stderr.write(
        f"[{time.time() - START:7.1f} s pid {os.getpid()}] RSS {seen['VmRSS']} MiB"
        f" HWM {seen['VmHWM']} MiB{traced}  {what}\n"
    )


def heap() -> None:
    objects = gc.get_objects()
    kinds = collections.Counter(type(o).__name__ for o in objects)
    sys.stderr.write(f"gc-tracked objects: {len(objects)}, by type: {kinds.most_common(12)}\n")
    for obj in objects:
        if isinstance(obj, functools._lru_cache_wrapper):
            info = obj.cache_info()
            if info.currsize > 100:
                sys.stderr.write(f"  cache {obj.__module__}.{obj.__qualname__}: {info}\n")
    del objects
    sys._debugmallocstats()


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes (`sys.getsizeof`) of `root` and what it reaches that `seen` has not counted
    yet; modules, classes, functions and code are not followed (they are the program,
    not the data). Allocator overhead is not counted."""
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def owners(part: Any) -> None:
    """Deep sizes of what holds the memory before `finish`: the filled caches first, then
    the scan's parts (each object counted once, in the first owner that reaches it)."""
    seen: set[int] = set()
    rows: list[tuple[str, int]] = []
    kept: list[object] = []  # (a freed list's id comes back: `seen` would skip the next one)
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and obj.cache_info().currsize:
            kept.append(contents := gc.get_referents(obj))
            rows.append((f"cache {obj.__qualname__}", deep_size(contents, seen)))
    builder = getattr(part, "builder", None)
    fields: collections.Counter[str] = collections.Counter()
    for stats in getattr(builder, "destinations", {}).values():
        for name in getattr(stats, "__dataclass_fields__", ()):
            fields[f"destinations[*].{name}"] += deep_size(getattr(stats, name), seen)
    rows.extend(fields.items())
    state = getattr(part, "state", None) or {}
    for key, value in state.items():
        rows.append((f"state[{key!r}]", deep_size(value, seen)))
    names = getattr(builder, "__dataclass_fields__", None)
    if names is None:
        try:
            names = vars(builder or object())
        except TypeError:  # a class compiled by mypyc has no __dict__: its state has the names
            names = builder.__getstate__() if builder is not None else {}
    rows.extend((f"builder.{n}", deep_size(getattr(builder, n, None), seen)) for n in names)
    rows.append(("the rest of the scan", deep_size(part, seen)))
    for name, size in sorted(rows, key=lambda r: -r[1])[:40]:
        sys.stderr.write(f"  {size / MIB:8.2f} MiB  {name}\n")


def install(args: argparse.Namespace) -> None:
    from maillog_diag.scan import partial, pipeline

    app = importlib.import_module("maillog_diag.cli.app")

    def wrap(owner: Any, name: str, before: Any = None, after: Any = None) -> None:
        original = getattr(owner, name)

        def hooked(*a: Any, **k: Any) -> Any:
            if before is not None:
                before(*a, **k)
            result = original(*a, **k)
            if after is not None:
                after(result, *a, **k)
            return result

        setattr(owner, name, hooked)

    merges = [0]

    def merged(result: Any, *_: Any) -> None:
        merges[0] += 1
        state = result.state
        log(
            f"merge #{merges[0]}: open {len(state.get('_open') or {})},"
            f" destinations {len(result.builder.destinations)}"
        )

    def sliced(result: Any, slices: Any, *_: Any, **__: Any) -> None:
        log(f"read {[(s.name.rsplit('/', 1)[-1], s.start, s.end) for s in slices]}")

    def before_finish(*a: Any, **__: Any) -> None:
        log("before finish")
        if args.heap:
            heap()
        if args.owners and a:
            owners(a[0])

    wrap(pipeline, "merge", after=merged)
    wrap(pipeline, "scan_slices", after=sliced)
    wrap(pipeline, "_unpacked", before=lambda data: log(f"unpacking {len(data) / MIB:.1f} MiB"))
    wrap(pipeline, "finish", before=before_finish, after=lambda *_: log("after finish"))
    wrap(partial, "finish", before=before_finish, after=lambda *_: log("after finish"))
    wrap(app, "report_dict", after=lambda *_, **__: log("after report_dict"))
    wrap(app, "write_json", after=lambda *_, **__: log("after write_json"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", action="store_true", help="tracemalloc (slow)")
    ap.add_argument("--heap", action="store_true", help="objects, caches, arenas before finish")
    ap.add_argument(
        "--owners", action="store_true", help="deep sizes of caches and scan parts before finish"
    )
    ap.add_argument("--tick", type=float, default=5.0, help="seconds between RSS lines")
    ap.add_argument("cli", nargs=argparse.REMAINDER, help="-- then maillog-diag's arguments")
    args = ap.parse_args()
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    if args.trace:
        tracemalloc.start()
    install(args)

    def ticker() -> None:
        while True:
            time.sleep(args.tick)
            log("tick")

    threading.Thread(target=ticker, daemon=True).start()
    log("imported")
    sys.argv = ["maillog-diag", *cli]
    app = importlib.import_module("maillog_diag.cli.app")
    try:
        app.main()
    finally:
        log("end")


if __name__ == "__main__":
    main()
