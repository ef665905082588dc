"""The cyclic garbage collector while lines are read (`partial.collector_relaxed`): it still
collects cycles, and everything is as before once the reading ends."""

from __future__ import annotations

import gc
import weakref

from maillog_diag.scan.partial import READING_COLLECTION_THRESHOLD, collector_relaxed


class _Marker:
    def __init__(self) -> None:
        self.me = self  # a cycle: reference counting alone never frees it


def test_cyclic_garbage_is_still_collected_while_reading() -> None:
    assert gc.isenabled()
    alive: weakref.WeakSet[_Marker] = weakref.WeakSet()
    made = 20 * READING_COLLECTION_THRESHOLD
    with collector_relaxed():
        for _ in range(made):
            alive.add(_Marker())
        left = len(alive)
    # Without a collection every marker would still be alive; young collections run
    # every READING_COLLECTION_THRESHOLD net allocations, so few are left.
    assert left <= 2 * READING_COLLECTION_THRESHOLD < made


def test_settings_come_back_after_reading() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with collector_relaxed():
        assert gc.get_threshold()[0] == READING_COLLECTION_THRESHOLD
        assert gc.get_freeze_count() > frozen  # what existed before is left out of walks
        with collector_relaxed():  # (nested: a scan of several slices)
            pass
        assert gc.get_threshold()[0] == READING_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_settings_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    try:
        with collector_relaxed():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_command_line_freezes_its_objects_at_exit_and_exit_handlers_still_run() -> None:
    import subprocess
    import sys

    script = (
        "import atexit, gc, sys\n"
        "from maillog_diag.cli import main\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'walked', "
        "file=sys.stderr))\n"
        "sys.argv = ['maillog-diag', '--version']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("maillog-diag ")
    assert done.stderr.strip() == "frozen"
