"""The wheel really ships the grammars: build it, install it into a fresh virtual environment,
and run the CLI from another folder, with no source checkout on its path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("maillog_diag-*.whl")
    return built


def test_wheel_contains_grammars(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("maillog_diag/grammars/")}
    expected = {p.name for p in (ROOT / "grammars").glob("*.lark")}
    assert expected and expected <= shipped


def test_installed_cli_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    log = work / "mail.log"
    shutil.copy(FIXTURES / "postfix_small.log", log)
    proc = subprocess.run(
        [
            str(env_dir / "bin" / "maillog-diag"),
            "report",
            "mail.log",
            "--tz",
            "UTC",
            "--year",
            "2026",
            "--format",
            "json",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["lines"]["used"] == 17
    # the grammar was found inside the installed package, not in a checkout
    where = subprocess.run(
        [
            str(py),
            "-c",
            "from maillog_diag.syntax.grammars import grammar_path; print(grammar_path('postfix.lark'))",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert str(env_dir) in where and str(ROOT) not in where
