"""Dump what the reason folder and the classifier answer for many real reply texts.

A change meant to make `reasons.folds`, `reason_key`, `classify` or `classify_timeless` cheaper
must not change one answer. Run this script on the code before the change and after it, and
compare the two outputs byte for byte (`cmp`):

    python tools/bench/classify_equality.py --out /tmp/before.txt LOG... --catalogue CATALOGUE.md
    (change the code)
    python tools/bench/classify_equality.py --out /tmp/after.txt LOG... --catalogue CATALOGUE.md
    cmp /tmp/before.txt /tmp/after.txt

Reply texts come from the deferral and bounce lines of the logs named (read with the package's
own line parser, so each text arrives with the dsn, relay and stage the report passes on), from
the back-quoted texts of a reply catalogue (Markdown) and the test fixture's TSV, and from a few
variants of each (upper-cased, with non-ASCII look-alike letters such as the long s and the
Kelvin sign, with repeated whitespace) that probe the case-insensitive matching. Each text is
asked with the combination it came with and with a few fixed ones.

Standard library and the package only; every path comes from the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from maillog_diag.core import reasons
from maillog_diag.core.classify import Stage, classify, classify_timeless
from maillog_diag.core.diagnosis import relay_host
from maillog_diag.core.model import Delivery, Status
from maillog_diag.errors import UnparsableLine
from maillog_diag.input.sources import read_lines
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.scan.lines import LineParser

Combo = tuple[str | None, str | None, Stage | None]

FIXED: tuple[Combo, ...] = (
    (None, None, None),
    ("4.7.1", "gmail-smtp-in.l.google.com", None),
    (None, "mx1.hotmail.com", Stage.RCPT),
    ("5.1.1", "mta7.am0.yahoodns.net", Stage.CONNECT),
    ("4.2.0", "unknown.example.net[192.0.2.7]:25", Stage.END_OF_DATA),
)
"""Combinations asked of every text: none, provider relays (Gmail, Microsoft, Yahoo) with
and without a dsn and stage, and a relay in the raw `host[ip]:port` form."""

AT = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
"""The line time passed to `classify` (absolute retry times are measured from it)."""

VARIANT_CHARS = (
    ("s", "\u017f"),
    ("i", "\u0131"),
    ("k", "\u212a"),
    ("i", "\u0130"),
    ("e", "\u00e9"),
)
"""ASCII letter -> ſ (long s), ı (dotless i), K (Kelvin sign), İ (dotted capital I), é: letters
whose case mapping is not plain ASCII (the first three match ASCII letters case-insensitively)."""


def _stage(value: str | None) -> Stage | None:
    try:
        return Stage(value) if value is not None else None
    except ValueError:
        return None


def log_replies(path: str) -> Iterator[tuple[str, Combo]]:
    """(reply, (dsn, relay host, stage)) of every non-sent delivery line with a reply."""
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    parser.start_input(YearInference(fixed=2026))
    _, lines = read_lines(path)
    for lineno, line in enumerate(lines, 1):
        try:
            event = parser.parse(line, path, lineno)
        except UnparsableLine:
            continue
        if isinstance(event, Delivery) and event.status is not Status.SENT and event.reply:
            yield event.reply, (event.dsn, relay_host(event.relay), _stage(event.stage))


_QUOTED = re.compile(r"`([^`]{8,})`")


def catalogue_replies(path: str) -> Iterator[str]:
    """Back-quoted texts of a Markdown catalogue, or the `reply` column of a TSV fixture."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".tsv"):
        rows = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        header = rows[0].split("\t")
        col = header.index("reply")
        for row in rows[1:]:
            fields = row.split("\t")
            if len(fields) > col:
                yield fields[col]
        return
    for m in _QUOTED.finditer(text):
        yield m.group(1).replace("…", "...")


def variants(text: str) -> Iterator[str]:
    """Texts that probe case folding and white space (see `VARIANT_CHARS`)."""
    yield text.upper()
    yield text.title()
    for ascii_letter, other in VARIANT_CHARS:
        yield text.replace(ascii_letter, other, 3)
    yield "  " + text.replace(" ", " \t ", 5) + " \n"


def collect(logs: Iterable[str], catalogues: Iterable[str], every: int) -> dict[str, set[Combo]]:
    """Every text with the combinations it was seen with (catalogue texts: none), and the
    variants of every catalogue text and of every `every`-th log text (in sorted order)."""
    texts: dict[str, set[Combo]] = {}
    for path in logs:
        for reply, combo in log_replies(path):
            texts.setdefault(reply, set()).add(combo)
    probed = sorted(texts)[::every]
    for path in catalogues:
        for reply in catalogue_replies(path):
            texts.setdefault(reply, set())
            probed.append(reply)
    for reply in probed:
        for variant in variants(reply):
            texts.setdefault(variant, set())
    return texts


def _key(combo: Combo) -> tuple[str, str, str]:
    return tuple("" if x is None else str(x) for x in combo)  # type: ignore[return-value]


def dump(texts: dict[str, set[Combo]]) -> Iterator[str]:
    """The lines of the dump, texts in sorted order, combinations in sorted order."""
    for text in sorted(texts):
        yield f"T {text!r}"
        plain, detailed = reasons.folds(text)
        yield f"F {plain!r} {detailed!r}"
        yield f"K {reasons.reason_key(text)!r}"
        for dsn, relay, stage in sorted(set(FIXED) | texts[text], key=_key):
            args = f"{dsn!r} {relay!r} {stage!r}"
            yield f"C {args} {classify(text, dsn=dsn, relay=relay, stage=stage, at=AT)!r}"
            yield f"N {args} {classify(text, dsn=dsn, relay=relay, stage=stage)!r}"
            yield f"L {args} {classify_timeless(text, dsn, relay, stage)!r}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("logs", nargs="*", help="log files (deferral and bounce replies are taken)")
    ap.add_argument("--catalogue", action="append", default=[], help="CATALOGUE.md or a .tsv")
    ap.add_argument("--out", required=True, help="file to write the dump to")
    ap.add_argument("--variants-every", type=int, default=10, metavar="N",
                    help="probe variants of every N-th log text (default 10)")  # fmt: skip
    args = ap.parse_args(argv)
    texts = collect(args.logs, args.catalogue, args.variants_every)
    digest = hashlib.sha256()
    lines = 0
    with open(args.out, "w", encoding="utf-8", errors="surrogateescape") as f:
        for line in dump(texts):
            f.write(line + "\n")
            digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
            lines += 1
    asked = sum(len(set(FIXED) | c) for c in texts.values())
    print(f"{len(texts)} texts, {asked} (text, dsn, relay, stage) questions, {lines} lines, "
          f"sha256 {digest.hexdigest()}", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
