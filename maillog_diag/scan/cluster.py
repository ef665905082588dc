"""Partial scans as tasks on an existing Dask cluster (`--dask ADDRESS`).

The optional extra `maillog-diag[dask]` brings `dask.distributed`. Each slice of the
inputs (a byte range of a plain file, or a block of lines this process read from a
compressed file or a pipe) is one task; the partial scans are merged pairwise, in log
order, as a tree of tasks on the cluster, and only the final merged scan comes back. Plain
files are read by the workers at the path given here, so every worker must see the same
files at the same paths (a shared file system, or a cluster on this machine).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from maillog_diag.errors import MaillogError
from maillog_diag.scan.base import ScanOptions
from maillog_diag.scan.partial import PartialScan, Slice, merge, scan_slices
from maillog_diag.scan.pipeline import MIN_SLICE_BYTES, plan_tasks, scan_partial


class ClusterError(MaillogError):
    """The Dask cluster cannot be used (extra not installed, scheduler unreachable)."""


def _scan(slices: list[Slice], options: ScanOptions, names: list[str], prior: bool) -> PartialScan:
    return scan_slices(slices, options, names, prior_unknown=prior)


def _merge(a: PartialScan, b: PartialScan, options: ScanOptions) -> PartialScan:
    return merge(a, b, options)


def scan_on_cluster(
    inputs: Sequence[str],
    options: ScanOptions,
    address: str,
    *,
    prior_unknown: bool = False,
    min_slice_bytes: int = MIN_SLICE_BYTES,
    timeout: float = 30.0,
) -> PartialScan:
    """The inputs as one partial scan computed on the Dask scheduler at `address`
    (`tcp://host:8786`); slices as many as the cluster has threads (at least
    `min_slice_bytes` each)."""
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise ClusterError(
            "--dask needs the optional extra: pip install 'maillog-diag[dask]'"
        ) from None
    names = list(inputs)
    quiet = ScanOptions(
        zone=options.zone, year=options.year, journal_cmd=options.journal_cmd, window=options.window
    )
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        threads = max(1, sum(client.nthreads().values()))
        futures: list[Any] = []
        for i, task in enumerate(plan_tasks(names, quiet, threads, min_slice_bytes)):
            prior = prior_unknown or i > 0
            futures.append(client.submit(_scan, task, quiet, names, prior, pure=False))
        while len(futures) > 1:
            paired = [
                client.submit(_merge, futures[i], futures[i + 1], quiet, pure=False)
                for i in range(0, len(futures) - 1, 2)
            ]
            if len(futures) % 2:
                paired.append(futures[-1])
            futures = paired
        part: PartialScan = futures[0].result()
    finally:
        client.close()
    if part.inexact is not None:
        return scan_partial(names, options, 1, prior_unknown=prior_unknown)
    return part
