"""Build the accelerated wheel (the mypyc hook of `pyproject.toml`) from a clean copy of
this working tree, into OUT:

    python tools/compiled/wheel.py dist/
    pip install dist/maillog_diag-*-cp3*.whl

Building from a copy matters: the hook compiles in place, so a build run in the checkout
(`HATCH_BUILD_HOOK_ENABLE_MYPYC=true pip install .`) leaves the compiled modules there,
and anything later run from the checkout imports them instead of the edited source. Takes
about two minutes on two cores (gcc), and the package registry for the build
requirements (hatchling, hatch-mypyc, mypy and the runtime dependencies).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inplace import copy_tree  # noqa: E402


def build_wheel(out: Path) -> Path:
    """Build the compiled wheel into `out`; its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="maillog-diag-build-") as tmp:
        copy_tree(Path(tmp))
        env = {**os.environ, "HATCH_BUILD_HOOK_ENABLE_MYPYC": "true"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), tmp],
            check=True,
            env=env,
        )
    return max(out.glob("maillog_diag-*-cp*.whl"), key=lambda p: p.stat().st_mtime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for the wheel")
    args = ap.parse_args()
    print(build_wheel(args.out.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
