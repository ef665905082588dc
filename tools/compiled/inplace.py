"""Copy this working tree to DEST and compile, in place there, the modules the accelerated
build compiles (the mypyc hook's `include` in `pyproject.toml`), so that the whole test
suite can run against compiled code:

    python tools/compiled/inplace.py /var/tmp/compiled
    cd /var/tmp/compiled && python -m pytest -p no:cacheprovider

The wheel (`HATCH_BUILD_HOOK_ENABLE_MYPYC=true pip install .`) is what users get and what
`tests/test_compiled.py` checks; this tree exists for the tests that import the modules
themselves. In it `tests/test_wheel.py` builds a wheel from a tree holding compiled files
and is not meaningful. Takes about two minutes on two cores (gcc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def compiled_modules(root: Path = ROOT) -> list[str]:
    """The source files the mypyc hook compiles, relative to the project root."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    hook = project["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return list(hook["include"])


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files git knows of or would add (the working tree, edits included)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name and (root / name).is_file()]


def copy_tree(dest: Path, root: Path = ROOT) -> None:
    """Copy the working tree's files (`tracked_files`) into `dest`."""
    for name in tracked_files(root):
        if name.endswith(".so"):
            continue  # (never a source: a compiled module left by an in-place build)
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path, help="a new or empty directory")
    args = ap.parse_args()
    dest: Path = args.dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        ap.error(f"{dest} is not empty")
    copy_tree(dest)
    # mypyc builds through setuptools, which reads `pyproject.toml` in the working folder and
    # may be too old for its `license` field: the project file is set aside for the build.
    modules = compiled_modules(dest)
    project = dest / "pyproject.toml"
    aside = dest / "pyproject.toml.aside"
    project.rename(aside)
    try:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-m", "mypyc", *modules],
            cwd=dest,
            check=True,
            env=env,
        )
    finally:
        aside.rename(project)
    shutil.rmtree(dest / "build", ignore_errors=True)
    print(f"compiled tree ready: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
