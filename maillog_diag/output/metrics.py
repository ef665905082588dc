"""Prometheus metrics of a report: the figures `core.analysis.ReportBuilder` computed,
as families for `prometheus_client` (the text exposition format, a node_exporter textfile
or an HTTP `/metrics` endpoint).

Nothing is counted here that the report does not count: each family reads the builder's
statistics (`DestinationStats`, `held_mail`, `final_held`, `last_delivered`) and the scan's
line accounting. Counters cover every line the run read (no window): a later run over a
grown log gives larger values, a run after the log was rotated away smaller ones, which
Prometheus' `rate()` and `increase()` read as a counter reset.

Label values come from log text (a destination domain is whatever a stranger put after the
`@`), so they are made safe before `prometheus_client` escapes them: control and line
separator characters are spelled out as `\\xNN`/`\\uNNNN`, values are capped at
`MAX_LABEL_CHARS`, and series whose labels become equal are added together. Destinations
are capped at the top N by impact (recipient-seconds of delay) plus `other`, so that
cardinality stays bounded whatever the log holds.
"""

from __future__ import annotations

import os
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.metrics_core import HistogramMetricFamily, Metric

# prometheus_client is imported where metrics are made (about 40 ms of start-up that the
# other commands need not pay).

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.causes import Cause
from maillog_diag.scan.pipeline import ScanResult

PREFIX = "maillog_diag_"

OTHER = "other"
"""The destination label of every domain outside the top N (and of a domain named so)."""

DEFAULT_TOP_DESTINATIONS = 20
"""Destinations with a label of their own unless `--top-destinations` says otherwise."""

MAX_LABEL_CHARS = 255
"""A label value longer than this (a DNS name has at most 253 characters) is cut."""

HELD_BUCKETS: tuple[int, ...] = (
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    3 * 86400,
    5 * 86400,
)
"""Upper bounds (seconds) of the `held_seconds` histogram: 1 minute to 5 days (Postfix's
and Sendmail's default queue lifetime), then +Inf."""


def label_value(text: str) -> str:
    """A label value that shows log text as logged, but with every control, format and
    line separator character spelled out (`\\x0b`), cut at `MAX_LABEL_CHARS`."""
    if text.isprintable() and len(text) <= MAX_LABEL_CHARS:
        return text
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    value = "".join(out)
    return value if len(value) <= MAX_LABEL_CHARS else value[: MAX_LABEL_CHARS - 1] + "…"


def destination_labels(builder: ReportBuilder, top: int) -> dict[str, str]:
    """The label of each of the `top` destinations with the most impact (the report's
    order); any domain not in it is `OTHER`."""
    ranked = [d.domain for d in builder.ranked(include_all=True) if d.domain != OTHER]
    return {domain: label_value(domain) for domain in ranked[: max(top, 0)]}


def report_families(
    builder: ReportBuilder, result: ScanResult, *, top: int = DEFAULT_TOP_DESTINATIONS
) -> list[Metric]:
    """Every family, with its samples in a fixed order (the same input gives the same
    text)."""
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily

    labels = destination_labels(builder, top)
    shown = sorted({*labels.values(), OTHER})
    mtas_at: dict[str, set[str]] = {lbl: set() for lbl in shown}
    deferred: Counter[tuple[str, str, str, bool]] = Counter()
    outcomes: dict[str, Counter[str]] = {
        name: Counter() for name in ("delivered", "bounced", "expired")
    }
    splits: Counter[str] = Counter()
    for d in builder.destinations.values():
        lbl = labels.get(d.domain, OTHER)
        mtas_at[lbl].update(d.mtas)
        for (mta, cause, suspended), n in d.deferrals_by_mta.items():
            deferred[(mta, cause.value, lbl, suspended)] += n
        outcomes["delivered"][lbl] += d.delivered
        outcomes["bounced"][lbl] += d.bounced
        outcomes["expired"][lbl] += d.expired
        splits[lbl] += d.split_deferrals
    every_mta = set().union(*mtas_at.values())
    mtas_at[OTHER] |= every_mta

    attempts = CounterMetricFamily(
        PREFIX + "deferrals",
        "Deferred delivery attempts (the receiver or the network said 4xx or failed), "
        "by the MTA that logged them, cause and destination.",
        labels=["mta", "cause", "destination"],
    )
    repeats = CounterMetricFamily(
        PREFIX + "deferrals_repeated",
        "Deferrals the MTA logged without trying (it repeated an earlier failure: Postfix "
        "'delivery temporarily suspended', Exim 'retry time not reached'), by the cause "
        "they repeat.",
        labels=["mta", "cause", "destination"],
    )
    for lbl in shown:
        for mta in sorted(mtas_at[lbl]):
            for cause in Cause:
                attempts.add_metric(
                    [mta, cause.value, lbl], deferred[(mta, cause.value, lbl, False)]
                )
                repeats.add_metric([mta, cause.value, lbl], deferred[(mta, cause.value, lbl, True)])
    families: list[Metric] = [attempts, repeats]
    helps = {
        "delivered": "Recipients delivered to the destination (delayed or not).",
        "bounced": "Recipients bounced (permanent failure).",
        "expired": "Recipients returned because the queue lifetime ran out.",
    }
    for name, counts in outcomes.items():
        family = CounterMetricFamily(PREFIX + name, helps[name], labels=["destination"])
        for lbl in shown:
            family.add_metric([lbl], counts[lbl])
        families.append(family)
    split = CounterMetricFamily(
        PREFIX + "forced_splits",
        "Deferrals that were forced splits: the receiver accepted part of a transaction and "
        "asked for the other recipients to be sent separately (not a failure).",
        labels=["destination"],
    )
    for lbl in shown:
        split.add_metric([lbl], splits[lbl])
    families.append(split)
    families.append(
        CounterMetricFamily(
            PREFIX + "unparsed_lines",
            "Input lines no reader could read (a sample goes to stderr; --unparsed FILE).",
            value=result.counts.unparsed,
        )
    )
    families.append(_held_histogram(builder))
    families += _queue_gauges(builder, labels, shown)
    last = GaugeMetricFamily(
        PREFIX + "last_success_timestamp_seconds",
        "When the log last showed a delivery to a destination (POSIX seconds); absent when "
        "it showed none.",
    )
    if builder.last_delivered is not None:
        last.add_metric([], builder.last_delivered)
    families.append(last)
    end = GaugeMetricFamily(
        PREFIX + "log_end_timestamp_seconds",
        "The time of the last line read (POSIX seconds): queued ages are measured to it.",
    )
    if result.last_time is not None:
        end.add_metric([], result.last_time)
    families.append(end)
    return families


def _held_histogram(builder: ReportBuilder) -> HistogramMetricFamily:
    """Held time of each recipient at its final outcome, from `ReportBuilder.final_held`
    (whole seconds rounded up, so `n <= bound` counts exactly the held times within it)."""
    from prometheus_client.metrics_core import HistogramMetricFamily

    ordered = sorted(builder.final_held.items())
    buckets: list[tuple[str, float]] = []
    i = cumulative = 0
    for bound in HELD_BUCKETS:
        while i < len(ordered) and ordered[i][0] <= bound:
            cumulative += ordered[i][1]
            i += 1
        buckets.append((repr(float(bound)), cumulative))  # le="60.0", as Prometheus writes it
    buckets.append(("+Inf", sum(builder.final_held.values())))
    return HistogramMetricFamily(
        PREFIX + "held_seconds",
        "Seconds from arrival in the queue to the final outcome (delivered, bounced, "
        "expired), observed once per recipient, delayed or not.",
        buckets=buckets,
        sum_value=builder.final_held_sum,
    )


def _queue_gauges(
    builder: ReportBuilder, labels: dict[str, str], shown: Sequence[str]
) -> list[Metric]:
    """Recipients still queued when the log ends, and the oldest of them, by destination
    (0 where none is queued)."""
    from prometheus_client.metrics_core import GaugeMetricFamily

    queued: Counter[str] = Counter()
    oldest: dict[str, float] = {}
    for held in builder.held_mail:
        lbl = labels.get(held.domain, OTHER)
        queued[lbl] += 1
        seconds = held.held_seconds or 0.0
        oldest[lbl] = max(oldest.get(lbl, 0.0), seconds)
    count = GaugeMetricFamily(
        PREFIX + "queued_recipients",
        "Recipients the log shows still queued at its last line.",
        labels=["destination"],
    )
    age = GaugeMetricFamily(
        PREFIX + "oldest_queued_seconds",
        "Held time of the oldest recipient still queued, to the log's last line (0: none).",
        labels=["destination"],
    )
    for lbl in shown:
        count.add_metric([lbl], queued[lbl])
        age.add_metric([lbl], round(oldest.get(lbl, 0.0), 3))
    return [count, age]


class StaticCollector:
    """A `prometheus_client` collector that yields families computed beforehand."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        """The families, as computed."""
        return iter(self._families)


class LiveCollector:
    """What `--listen` serves: the families of the last good scan, refreshed in the
    background every `interval` seconds by `refresh` (which returns None when a scan
    failed; the previous figures are then kept, and `last_scan_ok` says 0)."""

    def __init__(
        self,
        first: list[Metric],
        refresh: Callable[[], list[Metric] | None],
        interval: float,
    ) -> None:
        self._families = first
        self._refresh = refresh
        self._interval = interval
        self._ok = True
        self._scanned = time.time()
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def collect(self) -> Iterator[Metric]:
        """The latest families, and whether the last scan worked."""
        from prometheus_client.metrics_core import GaugeMetricFamily

        with self._lock:
            families = list(self._families)
            ok, scanned = self._ok, self._scanned
        families.append(
            GaugeMetricFamily(
                PREFIX + "last_scan_ok",
                "1 when the last re-read of the logs worked, 0 when it failed (the figures "
                "are then those of the last scan that worked).",
                value=1 if ok else 0,
            )
        )
        families.append(
            GaugeMetricFamily(
                PREFIX + "last_scan_timestamp_seconds",
                "When the logs were last read (POSIX seconds, wall clock).",
                value=scanned,
            )
        )
        return iter(families)

    def run(self) -> None:
        """Re-read the logs every `interval` seconds until `stop` is set."""
        while not self.stop.wait(self._interval):
            families = self._refresh()
            with self._lock:
                self._ok = families is not None
                self._scanned = time.time()
                if families is not None:
                    self._families = families


def exposition(families: Iterable[Metric]) -> str:
    """The text exposition format (what `/metrics` and a textfile contain)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    registry = CollectorRegistry()
    registry.register(StaticCollector(families))
    return generate_latest(registry).decode("utf-8")


def write_textfile(path: str, families: Iterable[Metric]) -> None:
    """Write the node_exporter textfile: to a temporary file in the same directory, then
    renamed over `path`, so the collector never reads half a file. Raises OSError."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry()
    registry.register(StaticCollector(families))
    write_to_textfile(os.fspath(path), registry)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` into (host, port); port 0 picks a free one. Raises
    ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen needs HOST:PORT (e.g. 127.0.0.1:9469), not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def serve(host: str, port: int, collector: LiveCollector) -> tuple[Any, threading.Thread]:
    """Start serving `/metrics` on a daemon thread; returns the server (its
    `server_address` names the port chosen) and the thread. Raises OSError."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(collector)
    server, thread = start_http_server(port, host, registry)
    return server, thread
