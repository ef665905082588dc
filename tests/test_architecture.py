"""The package layout is the architecture: layers import only downwards, no module imports
itself round a circle, and only the registry names the MTA readers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "maillog_diag"

LAYERS = ["errors", "syntax", "input", "core", "mta", "scan", "output", "cli"]
"""Bottom to top: a module may import its own layer and the layers below it, never above."""


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every `maillog_diag...` module a file imports, at any depth (lazy imports count)."""
    modules = _all_modules()
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("maillog_diag"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("maillog_diag"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return found


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    modules = _all_modules()
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the package itself: the public API, above everything
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else -1


def test_every_module_is_in_a_layer() -> None:
    strays = [m for m in _all_modules() if _layer(m) < 0 and m != "maillog_diag.__main__"]
    assert strays == []


def _find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle found by a depth-first walk, as the path that closes it."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return cycles


def test_no_import_cycles() -> None:
    assert _find_cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    assert _find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _find_cycles({"a": {"b"}, "b": set()}) == []


def test_layers_import_only_downwards() -> None:
    upward = [
        (module, target)
        for module, targets in _graph().items()
        for target in targets
        if module not in ("maillog_diag", "maillog_diag.__main__")
        and target != "maillog_diag"
        and _layer(target) > _layer(module)
    ]
    assert upward == []


MTA_NAMES = ("postfix", "exim", "sendmail", "opensmtpd")
ALLOWED_TO_NAME_MTAS = {
    "maillog_diag.mta",  # the registry and the readers themselves
    "maillog_diag.core.knowledge",  # the provider knowledge base
    "maillog_diag.core.tuning",  # MTA-specific retry schedule advice
    "maillog_diag.input.queue",  # each MTA's queue listing format and command
}


@pytest.mark.parametrize("mta", MTA_NAMES)
def test_only_the_registry_imports_a_reader(mta: str) -> None:
    reader = f"maillog_diag.mta.{mta}"
    if reader not in _all_modules():
        pytest.skip(f"no {mta} reader")
    importers = sorted(
        m for m, targets in _graph().items() if reader in targets and not m.startswith(reader)
    )
    assert importers == ["maillog_diag.mta"]


def test_every_cli_option_is_declared_once() -> None:
    """One definition per option (flags, help, default) for all the commands that take it."""
    import re

    import typer.main

    from maillog_diag.cli.app import app

    command = typer.main.get_command(app)
    flags = {
        opt
        for sub in command.commands.values()  # type: ignore[attr-defined]
        for param in sub.params
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    }
    assert {"--tz", "--since", "--until", "--format", "--jobs", "--rotated"} <= flags
    sources = "".join(p.read_text() for p in (PACKAGE / "cli").glob("*.py"))
    declared = {flag: len(re.findall(rf'"{re.escape(flag)}[/"]', sources)) for flag in flags}
    assert {flag: n for flag, n in declared.items() if n != 1} == {}
