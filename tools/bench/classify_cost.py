"""CPU cost of folding distinct replies and of classifying distinct keys, in-process.

A report folds each distinct reply text once (`reasons.folds`: cache misses) and classifies
each distinct (shape, dsn, relay, stage) key once (`classify_timeless`). This script takes the
deferral and bounce replies of the logs named, as the report would see them, and times both
phases from cold caches: the minimum of `time.process_time()` over several rounds (the
machine is shared; the minimum is the least disturbed round).

    python tools/bench/classify_cost.py LOG... [--rounds 5] [--only fold|classify]
    python tools/bench/classify_cost.py LOG... --save-inputs inputs.json --rounds 0
    valgrind --tool=callgrind python tools/bench/classify_cost.py --inputs inputs.json \
        --rounds 1 --only classify

Standard library and the package only. With `--inputs` (the replies and keys saved by an
earlier `--save-inputs`, so that no log is parsed) and `--only`, a run is short enough for
`valgrind --tool=callgrind`: compare total instruction counts before and after a change.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from classify_equality import log_replies  # type: ignore[import-not-found]

from maillog_diag.core import classify as classify_module
from maillog_diag.core import hints, reasons
from maillog_diag.core.classify import Stage, classify_timeless


def _clear_caches() -> None:
    """Every cache the two phases fill, so that each round starts cold."""
    for func in (
        reasons.folds,
        reasons._token_pair,
        classify_module._timeless_shape,
        classify_module._classify_static,
        classify_module.stage_from_text,
        hints._scan,
        hints._span_meaning,
    ):
        cache_clear: Callable[[], None] | None = getattr(func, "cache_clear", None)
        if cache_clear is not None:
            cache_clear()
    table = getattr(reasons, "_TOKENS", None)  # the per-token table, where there is one
    if table is not None:
        table.clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("logs", nargs="*")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=("fold", "classify"))
    ap.add_argument("--inputs", help="read replies and keys from this file (no log parsed)")
    ap.add_argument("--save-inputs", help="write the replies and keys found to this file")
    args = ap.parse_args(argv)

    replies: dict[str, None] = {}
    keys: dict[tuple[str, str | None, str | None, Stage | None], None] = {}
    if args.inputs:
        with open(args.inputs, encoding="utf-8") as f:
            saved = json.load(f)
        replies = dict.fromkeys(saved["replies"])
        for reply, dsn, relay, stage in saved["keys"]:
            keys[(reply, dsn, relay, Stage(stage) if stage else None)] = None
    for path in args.logs:
        for reply, (dsn, relay, stage) in log_replies(path):
            replies[reply] = None
            keys[(reply, dsn, relay, stage)] = None
    if args.save_inputs:
        with open(args.save_inputs, "w", encoding="utf-8") as f:
            json.dump({"replies": list(replies), "keys": [list(k) for k in keys]}, f)
    # One representative reply per distinct classifier key, as a report meets them.
    shapes: dict[tuple[str, str | None, str | None, Stage | None], str] = {}
    for reply, dsn, relay, stage in keys:
        shapes.setdefault((reasons.folds(reply)[1], dsn, relay, stage), reply)
    texts = list(replies)
    work = [(reply, dsn, relay, stage) for (_, dsn, relay, stage), reply in shapes.items()]
    print(f"{len(texts)} distinct replies, {len(work)} distinct (shape, dsn, relay, stage) keys")

    fold_times: list[float] = []
    classify_times: list[float] = []
    for _ in range(args.rounds):
        _clear_caches()
        if args.only != "classify":
            t0 = time.process_time()
            for text in texts:
                reasons.folds(text)
            fold_times.append(time.process_time() - t0)
        if args.only != "fold":
            for reply, *_ in work:  # the shapes are folded already in a report
                reasons.folds(reply)
            t0 = time.process_time()
            for reply, dsn, relay, stage in work:
                classify_timeless(reply, dsn, relay, stage)
            classify_times.append(time.process_time() - t0)
    if fold_times:
        best = min(fold_times)
        print(f"fold: min {best:.3f} s over {args.rounds} rounds = "
              f"{best / len(texts) * 1e6:.1f} us per distinct reply")  # fmt: skip
    if classify_times:
        best = min(classify_times)
        print(f"classify: min {best:.3f} s over {args.rounds} rounds = "
              f"{best / len(work) * 1e6:.1f} us per distinct key")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
