"""`--dask`: partial scans as tasks on a real Dask cluster (two worker processes on this
machine) give the one-process report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.partial import finish
from maillog_diag.scan.pipeline import ScanOptions

from .conftest import SAMPLE_LOGS
from .test_bench_generator import write_generated
from .test_engine_equality import report

distributed = pytest.importorskip("distributed")

UTC = resolve_zone("UTC")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    ) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("dask") / "mail.log", 31, 12_000)


def _on_cluster(paths: list[str], address: str, min_slice: int) -> dict[str, Any]:
    from maillog_diag.scan.cluster import scan_on_cluster

    options = ScanOptions(zone=UTC, year=2026)
    part = scan_on_cluster(paths, options, address, min_slice_bytes=min_slice)
    builder, result = finish(part, options)
    data = report_dict(builder, result, UTC, include_all=True, reasons=5)
    data["ignored_by_reason"] = result.counts.ignored_by_reason
    data["lines"].pop("max_open_messages", None)
    return data


def test_cluster_scan_equals_one_process(cluster: str, generated: Path) -> None:
    size = os.path.getsize(generated)
    paths = [str(SAMPLE_LOGS / "exim" / "mainlog"), str(generated)]
    one = report(paths, 1)
    assert _on_cluster(paths, cluster, size // 5) == one


def test_cli_dask_option(cluster: str) -> None:
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    args = ["report", log, "--tz", "UTC", "--year", "2026", "--format", "json"]
    runner = CliRunner()
    local = runner.invoke(app, args)
    remote = runner.invoke(app, [*args, "--dask", cluster])
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == json.loads(local.stdout)


def test_without_the_extra_the_option_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def no_distributed(name: str, *args: Any) -> Any:
        if name == "distributed":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_distributed)
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    res = CliRunner().invoke(app, ["report", log, "--dask", "tcp://127.0.0.1:9"])
    assert res.exit_code == 2
    assert "maillog-diag[dask]" in res.stderr
    assert "Traceback" not in res.output
