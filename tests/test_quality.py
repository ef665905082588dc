"""One command runs everything: the test suite also runs the linter, the formatter check and
mypy (strict) over the package, so `pytest` red means the tree is not shippable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "maillog_diag", "tests", "tools"],
        [sys.executable, "-m", "ruff", "format", "--check", "maillog_diag", "tests", "tools"],
        [sys.executable, "-m", "mypy", "maillog_diag"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_is_clean(command: list[str]) -> None:
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_does_not_import_ui_libraries() -> None:
    package = ROOT / "maillog_diag"
    ui = {package / "output" / "render.py"}
    core = [p for p in package.rglob("*.py") if p not in ui and "cli" not in p.parts]
    offenders = [
        str(p.relative_to(package))
        for p in core
        for line in p.read_text().splitlines()
        if line.lstrip().startswith(("import rich", "from rich", "import typer", "from typer"))
    ]
    assert offenders == []
