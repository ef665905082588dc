"""Nothing another user could write is ever loaded, and nothing is written to the shared
temporary directory (issue 10, "Code execution and data leaks")."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_diag.syntax import grammars

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs" / "postfix" / "mail.log"


class _Plant:
    """Unpickling this creates the file it names: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (os.system, (f"touch {self.marker}",))


def _run_cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "XDG_CACHE_HOME")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "maillog_diag", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_nothing_is_written_to_the_temporary_directory(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cache = tmp_path / "cache"
    result = _run_cli(
        {"TMPDIR": str(tmp), "XDG_CACHE_HOME": str(cache)}, "report", str(SAMPLE), "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp.iterdir()) == []
    folder = cache / grammars.CACHE_DIR_NAME
    assert folder.is_dir()
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_planted_pickle_in_the_temporary_directory_is_never_loaded(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "pwned"
    # Every name Lark's cache=True could pick (its hash covers grammar and options: plant
    # a pickle under each `.lark_cache_*` name Lark itself would write, found by running
    # Lark once with that temporary directory).
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from lark import Lark; from maillog_diag.syntax.grammars import "
            "grammar_path\nfor g in ('postfix','exim','sendmail','syslog_head','retry_hint'):"
            "\n    Lark.open(str(grammar_path(g+'.lark')), parser='lalr', cache=True,"
            " propagate_positions=False, maybe_placeholders=True)",
        ],
        env={**os.environ, "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    planted = sorted(tmp.iterdir())
    assert planted, "Lark wrote no cache file: the probe does not reproduce cache=True"
    for path in planted:
        # Lark's file: the grammar's hash on the first line, then pickles.
        digest = path.read_bytes().split(b"\n", 1)[0]
        path.write_bytes(digest + b"\n" + pickle.dumps(_Plant(marker)))
    result = _run_cli(
        {"TMPDIR": str(tmp), "XDG_CACHE_HOME": str(tmp_path / "cache")},
        "report",
        str(SAMPLE),
        "-f",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_planted_cache_in_an_open_folder_is_never_loaded(tmp_path: Path) -> None:
    _open_folder_case(tmp_path)


def _open_folder_case(tmp_path: Path) -> None:
    """A cache folder others may write to (mode 0777), or a cache file others may write
    to, is not used: the planted tables are not unpickled."""
    marker = tmp_path / "pwned"
    cache = tmp_path / "cache"
    folder = cache / grammars.CACHE_DIR_NAME
    folder.mkdir(parents=True)
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    import lark

    for stem in ("postfix", "exim", "sendmail", "syslog_head", "retry_hint"):
        path = folder / f"{stem}-lark{lark.__version__}-py{version}.pickle"
        path.write_bytes(pickle.dumps(_Plant(marker)))
    os.chmod(folder, 0o777)
    result = _run_cli({"XDG_CACHE_HOME": str(cache)}, "report", str(SAMPLE), "-f", "json")
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    # The folder is private now, but the files are writable by others: still not loaded.
    os.chmod(folder, 0o700)
    for path in folder.iterdir():
        os.chmod(path, 0o666)
    result = _run_cli({"XDG_CACHE_HOME": str(cache)}, "report", str(SAMPLE), "-f", "json")
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_a_linked_cache_folder_is_not_used(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / grammars.CACHE_DIR_NAME).symlink_to(elsewhere)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        assert grammars.cache_dir() is None


def _planted_dir(tmp_path: Path) -> tuple[Path, Path]:
    """A log directory with a live log and a rotation that links to a secret elsewhere."""
    secret = tmp_path / "secret"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n" * 3, encoding="utf-8")
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "mail.log").write_bytes(SAMPLE.read_bytes())
    (logs / "mail.log.1").symlink_to(secret)
    return logs, secret


@pytest.mark.parametrize("how", ["rotated", "directory", "daily"])
def test_discovery_does_not_follow_links_out_of_the_log_directory(how: str, tmp_path: Path) -> None:
    logs, _ = _planted_dir(tmp_path)
    live = str(logs / "mail.log")
    args = {
        "rotated": ["report", live, "--rotated", "-f", "json"],
        "directory": ["report", str(logs), "-f", "json"],
        "daily": ["daily", live, "--since", "2026-11-29", "--until", "2026-11-30"],
    }[how]
    result = _run_cli({}, *args, "--tz", "UTC", "--year", "2026")
    assert "SECRETHASH" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr


def test_a_link_inside_the_directory_is_still_read(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "mail.log").write_bytes(SAMPLE.read_bytes())
    (logs / "old").write_bytes(SAMPLE.read_bytes())
    (logs / "mail.log.1").symlink_to(logs / "old")
    result = _run_cli({}, "stats", str(logs / "mail.log"), "--rotated", "--year", "2026")
    assert result.returncode == 0, result.stderr
    total = SAMPLE.read_bytes().count(b"\n")
    assert f'"total": {2 * total}' in result.stdout


def test_lines_of_a_file_that_is_no_mail_log_are_never_echoed(tmp_path: Path) -> None:
    """Named explicitly (so it is read), a file with no mail log line has its lines counted
    as unparsed but none of them shown on stderr."""
    _, secret = _planted_dir(tmp_path)
    result = _run_cli({}, "report", str(SAMPLE), str(secret), "-f", "json", "--year", "2026")
    assert "SECRETHASH" not in result.stdout + result.stderr
    assert "3 of" in result.stderr  # still counted
    junk_then_log = tmp_path / "mixed.log"
    junk_then_log.write_bytes(b"garbage line one\n" + SAMPLE.read_bytes())
    result = _run_cli({}, "report", str(junk_then_log), "-f", "json", "--year", "2026")
    assert "garbage line one" in result.stderr  # a mail log's bad lines are still sampled
