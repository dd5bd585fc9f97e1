"""The long-running processes' tuning: the start's heap frozen out of collection, the worker's niceness."""

from __future__ import annotations

import gc
import subprocess
import sys

from anima.process_tuning import GC_THRESHOLDS, event_loop_factory, lower_priority, settle_heap


def test_settle_heap_freezes_the_start_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    kept = [{"n": i} for i in range(1000)]  # survivors of the start
    try:
        settle_heap()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() >= len(kept)
        # a frozen object is out of every generation: a full collection does not traverse it
        assert not any(o is kept[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _niceness_after(code: str) -> int:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_lower_priority_raises_niceness_and_never_lowers_it() -> None:
    # in child processes: a process cannot take its own niceness back down
    raise_to_5 = "import os; from anima.process_tuning import lower_priority; print(lower_priority(5))"
    assert _niceness_after(raise_to_5) == 5
    already_7 = ("import os; os.setpriority(os.PRIO_PROCESS, 0, 7); from anima.process_tuning import lower_priority;"
                 " lower_priority(5); print(os.getpriority(os.PRIO_PROCESS, 0))")
    assert _niceness_after(already_7) == 7
    assert lower_priority(-1) >= 0  # asking for less than the current niceness changes nothing


def test_the_worker_loop_is_uvloop() -> None:
    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
