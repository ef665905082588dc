#!/usr/bin/env python3
"""Side-by-side benchmark of ``maillog-diag report`` against the classic summarisers.

The script generates (or reuses) a seeded, realistic log under ``bench-data/`` (git-ignored),
warms the page cache, then runs every tool on the same file several times, alternating the
tools within each round so that drift in machine load hits them alike.  For each tool it prints
the median wall time, lines per second, peak RSS and the ratio of wall times.

Tools per MTA (``--mta``):

* ``postfix``: ``wc -l`` and Python line iteration (the floors), Debian's ``pflogsumm`` (the
  anchor), ``maillog-diag report FILE --format json``.
* ``exim``: the same floors, Debian's ``eximstats`` (from ``exim4-base``; the anchor) and
  ``maillog-diag report FILE --format json`` on a mainlog written by ``gen_exim.py``.

Memory: *peak RSS* is ``ru_maxrss`` of the tool's process as returned by ``wait4`` (the same
number ``/usr/bin/time -v`` prints as "Maximum resident set size"; for a process that starts
workers it is the largest single process).  *Tree RSS* is the largest sum of VmRSS over the
tool's process tree, sampled every 20 ms from ``/proc``: it counts worker processes together.

Python 3.11 standard library only.  Examples::

    python tools/bench/run_bench.py                      # 1M lines, 3 rounds
    python tools/bench/run_bench.py --lines 200000 --runs 5 --skip-pflogsumm
    python tools/bench/run_bench.py --mta exim           # 1M Exim lines against eximstats
    python tools/bench/run_bench.py --json > bench.json
    python tools/bench/run_bench.py --ceiling            # and what two cores allow here
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_DATA = REPO / "bench-data"
RUN_TIMEOUT = 1800.0
PY_ITER = (
    "import sys\n"
    "n = 0\n"
    "for line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n"
    "    n += 1\n"
    "print(n)\n"
)


@dataclass
class Tool:
    """One command to time.  ``argv`` gets the log path appended where ``{file}`` stands."""

    name: str
    argv: list[str]
    role: str  # floor | anchor | subject
    missing: str = ""  # why the tool cannot run here ("" = available)
    check: Callable[[Path, int], str] | None = None  # validates stdout; returns "" if fine


@dataclass
class Run:
    wall: float
    maxrss_kib: int
    tree_rss_kib: int
    rc: int
    note: str = ""


@dataclass
class Result:
    tool: Tool
    runs: list[Run] = field(default_factory=list)


# ---------------------------------------------------------------------- measuring one run
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss(pid: int) -> int:
    total = 0
    stack = [pid]
    seen = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kib(p)
        stack.extend(_children(p))
    return total


GNU_TIME = "/usr/bin/time"


def measure(argv: list[str], stdout_path: Path, timeout: float = RUN_TIMEOUT) -> Run:
    """Run ``argv`` once: wall time, peak RSS of the process and sampled RSS of its tree.

    Peak RSS comes from ``/usr/bin/time`` when it exists, else from ``wait4`` on the child.  A
    child forked from this Python starts with this Python's pages counted in its ``ru_maxrss``;
    ``time`` is small, so what it reports is the tool's own peak.
    """
    peak = 0
    stop = threading.Event()
    use_time = os.access(GNU_TIME, os.X_OK)
    with (
        open(stdout_path, "wb") as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".time") as tf,
    ):
        full = [GNU_TIME, "-f", "%M", "-o", tf.name, *argv] if use_time else argv
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as exc:
            return Run(0.0, 0, 0, 127, f"cannot start: {exc}")

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.02):
                if use_time:  # leave out the time process itself
                    rss = sum(_tree_rss(c) for c in _children(proc.pid))
                else:
                    rss = _tree_rss(proc.pid)
                peak = max(peak, rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        # wait4 rather than proc.wait(): it hands back the child's resource usage.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        maxrss = int(usage.ru_maxrss)  # KiB on Linux
        if use_time:
            words = tf.read().split()
            # On failure GNU time writes "Command exited with non-zero status N" first.
            maxrss = int(words[-1]) if words and words[-1].isdigit() else 0
        note = ""
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-400:].decode("utf-8", "replace").strip().splitlines()
            note = f"exit {proc.returncode}: {tail[-1] if tail else ''}"
    return Run(wall, maxrss, max(peak, maxrss), proc.returncode, note)


# ---------------------------------------------------------------------- the tools
def _check_maillog_json(out: Path, lines: int) -> str:
    try:
        with open(out, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        return f"output is not JSON: {exc}"
    total = data.get("lines", {}).get("total") if isinstance(data, dict) else None
    if total is not None and total != lines:
        return f"read {total} lines of {lines}"
    return ""


def _check_count(out: Path, lines: int) -> str:
    try:
        first = out.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return "no output"
    return "" if first == str(lines) else f"counted {first} lines, expected {lines}"


def find_cli(explicit: str | None) -> tuple[list[str], str]:
    """The maillog-diag command: ``--cli``, next to this Python, or on PATH."""
    if explicit:
        return [explicit], "" if shutil.which(explicit) else f"{explicit} not found"
    beside = Path(sys.executable).parent / "maillog-diag"
    if beside.exists():
        return [str(beside)], ""
    found = shutil.which("maillog-diag")
    if found:
        return [found], ""
    return ["maillog-diag"], "maillog-diag is not installed (pip install -e .)"


def floor_tools(args: argparse.Namespace) -> list[Tool]:
    tools: list[Tool] = []
    if not args.skip_baseline:
        wc = shutil.which("wc")
        tools.append(
            Tool(
                "wc -l",
                [wc or "wc", "-l", "{file}"],
                "floor",
                "" if wc else "wc not found",
                _check_count,
            )
        )
        tools.append(
            Tool(
                "python for-line",
                [sys.executable, "-c", PY_ITER, "{file}"],
                "floor",
                "",
                _check_count,
            )
        )
    return tools


def subject_tools(args: argparse.Namespace) -> list[Tool]:
    """maillog-diag with its default processes, then with -j 1 and -j 2 (the scaling); the
    same again for `--also-cli` (another build, run in the same rounds)."""
    tools = _subject_tools(args, args.cli, "")
    if args.also_cli:
        version = tool_version(args.also_cli, "--version")
        build = "compiled" if "compiled" in version else "pure" if "pure" in version else "b"
        tools += _subject_tools(args, args.also_cli, f" [{build}]")
    return tools


def _subject_tools(args: argparse.Namespace, explicit: str | None, tag: str) -> list[Tool]:
    cli, missing = find_cli(explicit)
    if not missing:
        probe = subprocess.run([*cli, "report", "--help"], capture_output=True, text=True)
        if probe.returncode != 0:
            missing = f"'{' '.join(cli)} report --help' failed: {probe.stderr.strip()[-200:]}"
    variants = [("", [])] + [(f" -j {j}", ["-j", str(j)]) for j in args.jobs]
    tools = [
        Tool(
            f"maillog-diag{tag} report --format json{label}",
            [*cli, "report", "{file}", "--format", "json", *extra],
            "subject",
            missing,
            _check_maillog_json,
        )
        for label, extra in variants
    ]
    if args.ceiling:
        one = f'{shlex.join([*cli, "report"])} "$1" --format json -j 1 >/dev/null'
        both = f"{one} & first=$!; {one}; second=$?; wait $first && [ $second -eq 0 ]"
        tools.append(Tool(f"{PAIR}{tag}", ["sh", "-c", both, "sh", "{file}"], "ceiling", missing))
    return tools


PAIR = "two-at-once: 2 x -j 1"
"""The `--ceiling` run: two one-process reports of the same log started together. What two
independent processes get done on this machine's two cores bounds any `-j 2` speed-up:
2 x (one alone) / (two at once) is 2.0 where two busy cores run as fast as one, less where
they share caches, memory bandwidth or a host with other tenants."""


def postfix_tools(args: argparse.Namespace) -> list[Tool]:
    tools = floor_tools(args)
    if not args.skip_pflogsumm:
        # Debian installs it in /usr/sbin, which a user's PATH may lack.
        pf = shutil.which("pflogsumm") or shutil.which(
            "pflogsumm", path="/usr/sbin:/usr/local/sbin"
        )
        tools.append(
            Tool(
                "pflogsumm",
                [pf or "pflogsumm", "{file}"],
                "anchor",
                "" if pf else "pflogsumm not found (apt-get install pflogsumm)",
            )
        )
    tools.extend(subject_tools(args))
    return tools


def _check_eximstats(out: Path, lines: int) -> str:
    try:
        text = out.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"no output: {exc}"
    return "" if "Grand total summary" in text else "no 'Grand total summary' in the output"


def exim_tools(args: argparse.Namespace) -> list[Tool]:
    tools = floor_tools(args)
    if not args.skip_pflogsumm:
        # Debian's exim4-base installs it in /usr/sbin; --eximstats names another copy (e.g.
        # extracted with dpkg-deb where installing Exim would remove another MTA).
        es = (
            args.eximstats
            or shutil.which("eximstats")
            or shutil.which("eximstats", path="/usr/sbin:/usr/local/sbin")
        )
        tools.append(
            Tool(
                "eximstats",
                [es or "eximstats", "{file}"],
                "anchor",
                ""
                if es and os.access(es, os.X_OK)
                else "eximstats not found (apt-get install exim4-base, or --eximstats PATH)",
                _check_eximstats,
            )
        )
    tools.extend(subject_tools(args))
    return tools


MTAS: dict[str, dict[str, Any]] = {
    "postfix": {"generator": HERE / "gen_postfix.py", "tools": postfix_tools},
    "exim": {"generator": HERE / "gen_exim.py", "tools": exim_tools},
}


# ---------------------------------------------------------------------- data and context
def data_file(args: argparse.Namespace) -> Path:
    gen = MTAS[args.mta]["generator"]
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{args.mta}-{args.lines}-seed{args.seed}.log"
    if path.exists() and not args.regen:
        return path
    tmp = path.with_suffix(".tmp")
    print(f"generating {path} ...", file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(gen),
            "--lines",
            str(args.lines),
            "--seed",
            str(args.seed),
            "--out",
            str(tmp),
            "--quiet",
        ],
        check=True,
    )
    tmp.replace(path)
    print(f"generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    mix_path(path).unlink(missing_ok=True)
    return path


def mix_path(path: Path) -> Path:
    return path.with_suffix(".mix.json")


def line_mix(path: Path, mta: str) -> dict[str, Any] | None:
    """The line mix of the data file (cached beside it)."""
    cache = mix_path(path)
    if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
        result: dict[str, Any] = json.loads(cache.read_text())
        return result
    if mta not in ("postfix", "exim"):
        return None
    sys.path.insert(0, str(HERE))
    if mta == "exim":
        import gen_exim  # noqa: PLC0415  (the generator sits beside this script)

        measure_mix: Callable[[Any], dict[str, Any]] = gen_exim.line_mix
    else:
        import gen_postfix  # noqa: PLC0415

        measure_mix = gen_postfix.line_mix
    with open(path, encoding="utf-8", errors="replace") as f:
        mix = measure_mix(f)
    cache.write_text(json.dumps(mix, indent=1))
    return mix


def warm_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def tool_version(argv0: str, *flags: str) -> str:
    try:
        p = subprocess.run([argv0, *flags], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (p.stdout or p.stderr).strip().splitlines()
    return text[0] if text else ""


def context(path: Path, tools: list[Tool]) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        ctx["commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        # An editable install runs the work tree: say whether the code differs from the commit.
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "maillog_diag", "grammars"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if dirty:
            ctx["commit"] += "+dirty"
    except OSError:
        pass
    for t in tools:
        if t.missing:
            continue
        if t.name == "pflogsumm":
            ctx["pflogsumm"] = tool_version(t.argv[0], "--version")
        elif t.name == "eximstats":
            # "eximstats: PATH", "build: 4.96", "perl(runtime): ...": keep the build.
            try:
                p = subprocess.run([t.argv[0], "--version"], capture_output=True, text=True)
                build = [w for w in p.stdout.splitlines() if w.startswith("build:")]
                ctx["eximstats"] = build[0] if build else p.stdout.strip()[:80]
            except OSError:
                pass
        elif t.role == "subject":
            version = tool_version(t.argv[0], "--version")
            seen = ctx.get("maillog_diag")
            if not seen:
                ctx["maillog_diag"] = version
            elif version not in seen:  # (`--also-cli`: another build)
                ctx["maillog_diag"] = f"{seen}; {version}"
    return ctx


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# ---------------------------------------------------------------------- reporting
def summarize(results: list[Result], lines: int) -> list[dict[str, Any]]:
    anchor = next((r for r in results if r.tool.role == "anchor" and r.runs), None)
    anchor_wall = statistics.median(x.wall for x in anchor.runs) if anchor else None
    rows = []
    for r in results:
        row: dict[str, Any] = {
            "tool": r.tool.name,
            "role": r.tool.role,
            "argv": [a if a != "{file}" else "FILE" for a in r.tool.argv],
        }
        if r.tool.missing:
            row["missing"] = r.tool.missing
            rows.append(row)
            continue
        ok = [x for x in r.runs if x.rc == 0]
        row["runs"] = len(r.runs)
        row["failed_runs"] = len(r.runs) - len(ok)
        row["notes"] = sorted({x.note for x in r.runs if x.note})
        if ok:
            wall = statistics.median(x.wall for x in ok)
            row["wall_s"] = round(wall, 3)
            row["wall_all_s"] = [round(x.wall, 3) for x in r.runs]
            row["lines_per_s"] = round(lines / wall) if wall > 0 else None
            row["peak_rss_mib"] = round(max(x.maxrss_kib for x in ok) / 1024, 1)
            row["tree_rss_mib"] = round(max(x.tree_rss_kib for x in ok) / 1024, 1)
            if anchor_wall and anchor:
                # "wall_vs_pflogsumm" for Postfix, "wall_vs_eximstats" for Exim
                row[f"wall_vs_{anchor.tool.name}"] = round(wall / anchor_wall, 3)
        rows.append(row)
    return rows


def targets(rows: list[dict[str, Any]], anchor: str) -> list[tuple[str, float | None, str]]:
    """The ratios issue #12 sets as targets: (what, measured, target), for each build
    measured (`--also-cli`: its rows carry a tag, `[compiled]` for the compiled build)."""
    tags = sorted(
        {
            r["tool"].split(" report ")[0][len("maillog-diag") :]
            for r in rows
            if r["tool"].startswith("maillog-diag")
        }
    )
    out: list[tuple[str, float | None, str]] = []
    for tag in tags or [""]:
        out += _targets(rows, anchor, tag)
    return out


def _targets(
    rows: list[dict[str, Any]], anchor: str, tag: str
) -> list[tuple[str, float | None, str]]:
    by = {r["tool"]: r for r in rows if "wall_s" in r}
    base = f"maillog-diag{tag} report --format json"
    anchor_row = by.get(anchor)
    out: list[tuple[str, float | None, str]] = []

    def ratio(a: str, b: str, key: str = "wall_s") -> float | None:
        ra, rb = by.get(a), by.get(b)
        if not ra or not rb or not rb.get(key):
            return None
        return round(ra[key] / rb[key], 3)

    goal = "<= 0.7 (goal 0.5)" if anchor == "pflogsumm" else "<= 1.0 (goal 0.5)"
    out.append((f"report{tag} wall / {anchor} wall", ratio(base, anchor), goal))
    out.append((f"report{tag} -j 1 wall / {anchor} wall", ratio(f"{base} -j 1", anchor), "<= 1.0"))
    if anchor_row:
        largest = max(
            (r["peak_rss_mib"] for n, r in by.items() if n.startswith(base)), default=None
        )
        peak = round(largest / anchor_row["peak_rss_mib"], 3) if largest else None
        out.append((f"largest maillog-diag{tag} process / {anchor} peak RSS", peak, "<= 1.0"))
    speed_up = ratio(f"{base} -j 1", f"{base} -j 2")
    out.append((f"speed-up{tag} -j 1 -> -j 2 (wall)", speed_up, ">= 1.8"))
    alone, pair = by.get(f"{base} -j 1"), by.get(f"{PAIR}{tag}")
    if alone and pair and pair.get("wall_s"):
        ceiling = round(2 * alone["wall_s"] / pair["wall_s"], 3)
        out.append((f"two-core ceiling{tag}: 2 x (-j 1) / ({PAIR})", ceiling, "(context)"))
        if speed_up is not None:
            share = round(speed_up / ceiling, 3)
            out.append((f"speed-up{tag} / two-core ceiling", share, "(context)"))
    return out


def human(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return f"{n:.0f}"


def print_table(report: dict[str, Any]) -> None:
    ctx = report["context"]
    print(f"file:   {ctx['file']}  ({report['lines']} lines, {ctx['bytes'] / 1e6:.0f} MB)")
    print(f"host:   {ctx['cpus']} CPUs, Python {ctx['python']}, {ctx['platform']}")
    anchor = next(
        (r["tool"] for r in report["results"] if r["role"] == "anchor"),
        "eximstats" if report.get("mta") == "exim" else "pflogsumm",
    )
    vers = ", ".join(
        f"{k} {ctx[k]!r}" for k in ("pflogsumm", "eximstats", "maillog_diag") if ctx.get(k)
    )
    print(f"commit: {ctx.get('commit', '?')}  {vers}")
    print(
        f"load:   {report['load_before']} before, {report['load_after']} after  "
        f"({report['runs']} alternating rounds, warm page cache)"
    )
    mix = report.get("mix")
    if mix:
        print(
            f"mix:    {100 * mix['delivery_share']:.1f}% outbound delivery lines "
            f"({mix.get('delivery_label', 'smtp+error')}), "
            f"{100 * mix['deferred_message_share']:.1f}% of {mix['messages']} messages deferred "
            "at least once"
        )
    print()
    hdr = (
        f"{'tool':<36}{'wall s (median)':>16}{'lines/s':>11}{'peak RSS':>11}"
        f"{'tree RSS':>11}{'wall / ' + anchor:>18}"
    )
    print(hdr)
    print("-" * len(hdr))
    for row in report["results"]:
        if "missing" in row:
            print(f"{row['tool']:<36}  skipped: {row['missing']}")
            continue
        if "wall_s" not in row:
            print(f"{row['tool']:<36}  failed: {'; '.join(row['notes'])}")
            continue
        ratio = row.get(f"wall_vs_{anchor}")
        ratio_s = f"{ratio:.2f}x" if ratio is not None else "-"
        print(
            f"{row['tool']:<36}{row['wall_s']:>16.2f}{human(row['lines_per_s']):>11}"
            f"{row['peak_rss_mib']:>7.0f} MiB{row['tree_rss_mib']:>7.0f} MiB{ratio_s:>18}"
        )
        if row["failed_runs"] or row["notes"]:
            print(f"{'':<4}note: {row['failed_runs']} failed run(s); {'; '.join(row['notes'])}")
    print()
    print("targets (issue #12):")
    for what, value, goal in targets(report["results"], anchor):
        shown = f"{value:.2f}" if value is not None else "-"
        print(f"  {what:<52}{shown:>8}   target {goal}")
    print()
    print(
        f"wall / {anchor} < 1 means faster than {anchor}.  Runs (s): "
        + "; ".join(
            f"{r['tool'].split()[0]} {r['wall_all_s']}"
            for r in report["results"]
            if "wall_all_s" in r
        )
    )


STATE_TAIL = 1000
"""Lines appended between the two runs of the ``--state`` measurement."""


def state_measurement(
    args: argparse.Namespace, path: Path, out_dir: Path, tail: int = STATE_TAIL
) -> dict[str, Any]:
    """What a ``--state`` rerun costs after ``tail`` new lines, against a full run.

    The log minus its last ``tail`` lines is read with ``--state`` (the full run with a
    state); then the ``tail`` lines are appended and the rerun is timed. Each round starts
    from the same saved state and the same cut log. A plain full run of the whole log
    (``report FILE --format json``, default processes) is timed beside it.
    """
    cli, missing = find_cli(args.cli)
    if missing:
        return {"skipped": missing}
    work = out_dir / f"state-{os.getpid()}"
    work.mkdir(parents=True)
    try:
        return _state_rounds(args, cli, path, work, tail)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _state_rounds(
    args: argparse.Namespace, cli: list[str], path: Path, work: Path, tail: int
) -> dict[str, Any]:
    data = path.read_bytes()
    cut = len(data)
    for _ in range(tail):
        cut = data.rindex(b"\n", 0, cut - 1) + 1 if cut > 1 else 0
    log, state, saved = work / "mail.log", work / "bench.state", work / "bench.state.saved"
    base = [*cli, "report", str(log), "--state", str(state), "--format", "json", "--tz", "UTC"]
    fulls, reruns, plains = [], [], []
    for rnd in range(args.runs):
        log.write_bytes(data[:cut])
        state.unlink(missing_ok=True)
        full = measure([*base, "--state-reset"], work / "full.out")
        fulls.append(full)
        shutil.copyfile(state, saved)
        log.write_bytes(data[:cut])
        shutil.copyfile(saved, state)
        with log.open("ab") as f:
            f.write(data[cut:])
        rerun = measure(base, work / "rerun.out")
        problem = _check_maillog_json(work / "rerun.out", count_lines(log))
        rerun.note = rerun.note or problem
        reruns.append(rerun)
        plain = measure(
            [*cli, "report", str(path), "--format", "json", "--tz", "UTC"], work / "plain.out"
        )
        plains.append(plain)
        if not args.json:
            print(
                f"  state round {rnd + 1}/{args.runs}  full --state {full.wall:7.2f} s  rerun "
                f"after {tail} lines {rerun.wall:6.2f} s  plain full {plain.wall:7.2f} s "
                f"{rerun.note or full.note}",
                file=sys.stderr,
            )
    full_s = statistics.median(r.wall for r in fulls)
    rerun_s = statistics.median(r.wall for r in reruns)
    plain_s = statistics.median(r.wall for r in plains)
    return {
        "tail_lines": tail,
        "full_state_s": full_s,
        "rerun_s": rerun_s,
        "plain_full_s": plain_s,
        "rerun_over_full_state": rerun_s / full_s if full_s else None,
        "rerun_over_plain_full": rerun_s / plain_s if plain_s else None,
        "target": "<= 0.15",
        "state_bytes": saved.stat().st_size if saved.exists() else None,
        "failed": any(r.rc for r in [*fulls, *reruns, *plains]),
    }


def print_state(result: dict[str, Any]) -> None:
    if "skipped" in result:
        print(f"--state: skipped ({result['skipped']})")
        return
    print(
        f"--state: full run with a state {result['full_state_s']:.2f} s, rerun after "
        f"{result['tail_lines']} new lines {result['rerun_s']:.2f} s, plain full run "
        f"{result['plain_full_s']:.2f} s; rerun/full-with-state "
        f"{result['rerun_over_full_state']:.3f}, rerun/plain-full "
        f"{result['rerun_over_plain_full']:.3f} (target {result['target']}); state file "
        f"{(result['state_bytes'] or 0) / 1e6:.2f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mta", choices=sorted(MTAS), default="postfix")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--file", help="benchmark this existing log instead of a generated one")
    ap.add_argument("--regen", action="store_true", help="generate the data file again")
    ap.add_argument(
        "--skip-pflogsumm",
        "--skip-eximstats",
        dest="skip_pflogsumm",
        action="store_true",
        help="skip the anchor (pflogsumm for Postfix, eximstats for Exim)",
    )
    ap.add_argument("--eximstats", help="path of eximstats (default: on PATH or in /usr/sbin)")
    ap.add_argument("--skip-baseline", action="store_true", help="skip wc -l and Python iteration")
    ap.add_argument(
        "--jobs",
        type=int,
        nargs="*",
        default=[1, 2],
        metavar="N",
        help="also run maillog-diag with -j N for each N (default: 1 2; none: only the default)",
    )
    ap.add_argument(
        "--cli", help="path of the maillog-diag command (default: beside this Python or on PATH)"
    )
    ap.add_argument(
        "--also-cli",
        metavar="PATH",
        help="another maillog-diag command (the compiled build: tools/compiled/wheel.py), "
        "run in the same alternating rounds, with its own target lines",
    )
    ap.add_argument(
        "--ceiling",
        action="store_true",
        help="also time two -j 1 reports at once, each round: the speed-up two cores allow here",
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--state",
        action="store_true",
        help=f"also measure a --state rerun after {STATE_TAIL} new lines against a full run",
    )
    ap.add_argument(
        "--only-state", action="store_true", help="measure only the --state rerun (see --state)"
    )
    args = ap.parse_args(argv)

    mta = MTAS[args.mta]
    if mta["tools"] is None:
        print(
            f"--mta {args.mta}: not available yet (needs {mta['generator'].name} and its "
            "comparison tool)",
            file=sys.stderr,
        )
        return 2
    tools: list[Tool] = mta["tools"](args)
    path = Path(args.file) if args.file else data_file(args)
    lines = count_lines(path)
    mix = line_mix(path, args.mta)
    ctx = context(path, tools)
    for t in tools:
        if t.missing:
            print(f"skipping {t.name}: {t.missing}", file=sys.stderr)

    warm_cache(path)
    if args.only_state:
        out_dir = Path(args.data_dir) / "out"
        result = state_measurement(args, path, out_dir)
        print(json.dumps(result, indent=1)) if args.json else print_state(result)
        return 1 if result.get("failed") else 0
    results = [Result(t) for t in tools]
    load_before = loadavg()
    out_dir = Path(args.data_dir) / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    for rnd in range(args.runs):
        # Alternate the order too, so that no tool always runs right after the same one.
        order = results if rnd % 2 == 0 else list(reversed(results))
        for res in order:
            t = res.tool
            if t.missing:
                continue
            cmd = [str(path) if a == "{file}" else a for a in t.argv]
            out = out_dir / (t.name.split()[0] + ".out")
            run = measure(cmd, out)
            if run.rc == 0 and t.check:
                problem = t.check(out, lines)
                if problem:
                    run.note = problem
            res.runs.append(run)
            if not args.json:
                print(
                    f"  round {rnd + 1}/{args.runs}  {t.name:<36} {run.wall:8.2f} s "
                    f"{run.maxrss_kib / 1024:7.0f} MiB {run.note}",
                    file=sys.stderr,
                )
    report = {
        "mta": args.mta,
        "lines": lines,
        "runs": args.runs,
        "context": ctx,
        "load_before": load_before,
        "load_after": loadavg(),
        "mix": {
            k: mix[k]
            for k in (
                "delivery_share",
                "deferred_message_share",
                "messages",
                "programs",
                "statuses",
                "kinds",  # Exim: line kinds instead of programs and statuses
                "delivery_label",
            )
            if k in mix
        }
        if mix
        else None,
        "results": summarize(results, lines),
    }
    anchor_name = "eximstats" if args.mta == "exim" else "pflogsumm"
    report["targets"] = [
        {"what": w, "value": v, "target": g} for w, v, g in targets(report["results"], anchor_name)
    ]
    if args.state:
        report["state"] = state_measurement(args, path, out_dir)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)
        if args.state:
            print_state(report["state"])
    failed = any(r.get("failed_runs") for r in report["results"])
    failed = failed or bool(report.get("state", {}).get("failed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
