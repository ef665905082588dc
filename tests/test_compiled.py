"""The accelerated build (issue 12) reports what this source reports, byte for byte.

The wheel is built as the README says (`tools/compiled/wheel.py`: `pip wheel` with the
mypyc hook on, from a clean copy of the tree), unpacked, and run beside the source: every command below runs twice, once with the
compiled package first on the path and once with this checkout, and the exit status,
stdout and stderr must be the same. The inputs are every sample log, a generated log cut
into many slices, summaries crossed between the two builds, a state carried over two
runs, and the shared corpus when it is there. Building takes about two minutes (gcc);
without a C compiler the module is skipped (and says so among the skips).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT, SAMPLE_LOGS
from .test_bench_generator import write_generated
from .test_engine_equality import SAMPLES  # every sample log and the mixed-MTA fixture

SETTINGS = ("--tz", "UTC", "--year", "2026")
ENV = {"MAILLOG_DIAG_NOW": "2026-12-02T00:00:00Z", "MAILLOG_DIAG_CONFIG": "", "COLUMNS": "100"}


def _compiled_sources() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hook = project["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return list(hook["include"])


def _c_compiler() -> str | None:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    return shutil.which(cc[0]) if cc else None


@dataclass(frozen=True)
class Builds:
    compiled: Path
    """The unpacked compiled wheel (a folder to put first on `PYTHONPATH`)."""
    work: Path
    """Where the commands run: neither checkout nor wheel, so neither is found by accident."""

    def run(self, compiled: bool, *args: str) -> tuple[int, str, str]:
        env = {**os.environ, **ENV, "PYTHONPATH": str(self.compiled if compiled else ROOT)}
        proc = subprocess.run(
            [sys.executable, "-m", "maillog_diag", *args],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return proc.returncode, proc.stdout, proc.stderr

    def alike(self, *args: str) -> tuple[int, str, str]:
        """Run `args` in both builds at once (two processes: the module's time is mostly
        start-ups); what both gave (asserted equal)."""
        with ThreadPoolExecutor(2) as pool:
            source, compiled = pool.map(lambda c: self.run(c, *args), (False, True))
        assert compiled == source, args
        return source


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    if _c_compiler() is None:  # (shown by `-ra` among the skips, CI's included)
        pytest.skip("no C compiler: the accelerated build (mypyc) is not checked here")
    out = tmp_path_factory.mktemp("compiled-wheel")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "compiled" / "wheel.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel = Path(proc.stdout.strip().splitlines()[-1])
    assert wheel.parent == out and "-cp3" in wheel.name  # a platform wheel, not a pure one
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path_factory.mktemp("compiled-work")
    return Builds(site, work)


def test_the_wheel_holds_a_compiled_module_for_each_listed_source(builds: Builds) -> None:
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for source in _compiled_sources():
        assert (
            (builds.compiled / source)
            .with_suffix("")
            .with_name(Path(source).stem + suffix)
            .is_file()
        ), source
    probe = "import maillog_diag as m, sys; print(m.compiled(), m.__file__)"
    for compiled in (True, False):
        env = {**os.environ, "PYTHONPATH": str(builds.compiled if compiled else ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", probe], cwd=builds.work, env=env, capture_output=True, text=True
        ).stdout.split()
        assert out[0] == str(compiled)
        assert Path(out[1]).is_relative_to(builds.compiled if compiled else ROOT)
    assert "compiled by mypyc" in builds.run(True, "--version")[1]
    assert "pure Python" in builds.run(False, "--version")[1]


@pytest.mark.parametrize("log", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_log_gives_the_same_report(builds: Builds, log: Path) -> None:
    rc, out, _ = builds.alike(
        "report", str(log), *SETTINGS, "--all", "--reasons", "5", "--format", "json", "-j", "1"
    )
    assert rc in (0, 1) and json.loads(out)["lines"]["used"] > 0


@pytest.mark.parametrize("fmt", ["text", "html", "prometheus"])
def test_other_formats_and_commands_give_the_same_text(builds: Builds, fmt: str) -> None:
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    if fmt == "prometheus":
        _, out, _ = builds.alike("metrics", log, *SETTINGS)
        assert "maillog_diag_" in out
        return
    _, out, _ = builds.alike("report", log, *SETTINGS, "--format", fmt)
    assert out.strip()


def test_why_trace_messages_and_stats_give_the_same_text(builds: Builds) -> None:
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    assert builds.alike("why", log, *SETTINGS)[1].strip()
    assert builds.alike("messages", log, *SETTINGS)[1].strip()
    assert builds.alike("stats", log, *SETTINGS)[1].strip()
    assert "DCBA416022F" in builds.alike("trace", "DCBA416022F", log, *SETTINGS)[1]


@pytest.fixture(scope="module")
def straddling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Postfix log large enough for several 4 MiB slices: deferred mail retried
    for hours straddles every cut."""
    return write_generated(tmp_path_factory.mktemp("gen") / "mail.log", 29, 70_000)


def test_a_log_cut_into_slices_gives_the_one_process_report(
    builds: Builds, straddling: Path
) -> None:
    args = ("report", str(straddling), *SETTINGS, "--all", "--format", "json")
    one = builds.alike(*args, "-j", "1")
    for jobs in ("2", "7"):
        rc, out, err = builds.run(True, *args, "-j", jobs)
        assert (rc, out) == one[:2], jobs
    # Many small cuts, through the engine itself (the CLI keeps slices of 4 MiB or more).
    size = straddling.stat().st_size
    driver = (
        "import json, sys\n"
        "from maillog_diag.input.timestamps import resolve_zone\n"
        "from maillog_diag.output.serialize import report_dict\n"
        "from maillog_diag.scan.pipeline import ScanOptions, scan_report\n"
        "utc = resolve_zone('UTC')\n"
        "b, r = scan_report([sys.argv[1]], ScanOptions(zone=utc, year=2026), int(sys.argv[2]),"
        " min_slice_bytes=int(sys.argv[3]))\n"
        "d = report_dict(b, r, utc, include_all=True, reasons=5)\n"
        "d.pop('max_open_messages', None)\n"
        "print(json.dumps(d, sort_keys=True, default=str))\n"
    )
    results = []
    for compiled, jobs in ((False, "1"), (True, "1"), (True, "7")):
        env = {
            **os.environ,
            **ENV,
            "PYTHONPATH": str(builds.compiled if compiled else ROOT),
        }
        proc = subprocess.run(
            [sys.executable, "-c", driver, str(straddling), jobs, str(size // 40)],
            cwd=builds.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        results.append(proc.stdout)
    assert results[1] == results[0] and results[2] == results[0]


def test_summaries_cross_between_the_builds(builds: Builds) -> None:
    logs = [str(SAMPLE_LOGS / "postfix" / "mail.log"), str(SAMPLE_LOGS / "exim" / "mainlog")]
    made: dict[bool, list[str]] = {}
    for compiled in (False, True):
        made[compiled] = []
        for i, log in enumerate(logs):
            name = str(builds.work / f"{'c' if compiled else 's'}{i}.summary")
            rc, _, err = builds.run(compiled, "summarize", log, *SETTINGS, "-o", name)
            assert rc == 0, err
            made[compiled].append(name)
    for i in range(len(logs)):
        assert Path(made[True][i]).read_bytes() == Path(made[False][i]).read_bytes()
    # Each build merges the other's summaries, and all four give the report of both logs.
    whole = builds.alike("report", *logs, *SETTINGS, "--all", "--format", "json", "-j", "1")
    for reader in (False, True):
        for writer in (False, True):
            rc, out, err = builds.run(reader, "merge", *made[writer], "--all", "--format", "json")
            assert rc == whole[0], err
            report, merged = json.loads(whole[1]), json.loads(out)
            for key in ("lines", "totals", "destinations", "held_mail", "causes"):
                assert merged[key] == report[key], (reader, writer, key)


def test_a_state_carried_over_two_runs_gives_the_same_reports(builds: Builds) -> None:
    text = (SAMPLE_LOGS / "postfix" / "mail.log").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    folder = builds.work / "state"
    log, state = folder / "mail.log", folder / "s.state"
    args = ("report", str(log), *SETTINGS, "--format", "json", "--state", str(state))
    outputs: dict[bool, list[tuple[int, str, str]]] = {}
    for compiled in (False, True):  # the same paths for both, one after the other
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        log.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
        first = builds.run(compiled, *args)
        log.write_text(text, encoding="utf-8")
        second = builds.run(compiled, *args)
        assert first[0] in (0, 1) and second[0] in (0, 1), (first[2], second[2])
        outputs[compiled] = [first, second]
    assert outputs[True] == outputs[False]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared corpus not present")
@pytest.mark.parametrize("mta", ["postfix", "exim", "sendmail", "opensmtpd"])
def test_the_shared_corpus_gives_the_same_reports(builds: Builds, mta: str) -> None:
    logs = sorted(str(p) for p in (CORPUS / mta).glob("*.log"))
    if not logs:
        pytest.skip(f"no {mta} logs in the corpus")
    # All of one MTA's logs in one run (each file alone costs a start-up per build).
    rc, out, err = builds.alike("report", *logs, *SETTINGS, "--all", "--format", "json", "-j", "1")
    assert json.loads(out)["lines"]["used"] > 0, err
