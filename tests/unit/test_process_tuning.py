"""The long-running processes' tuning: the start's heap frozen out of collection, the worker's niceness."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from structlog.testing import capture_logs

from anima import process_tuning
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
        gc.callbacks[:] = [c for c in gc.callbacks if not isinstance(c, process_tuning._PauseWatch)]
        gc.unfreeze()
        gc.set_threshold(*before)


def test_long_collections_are_logged_with_their_generation_and_length(monkeypatch: pytest.MonkeyPatch) -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        settle_heap()  # twice: still one watch
        watches = [c for c in gc.callbacks if isinstance(c, process_tuning._PauseWatch)]
        assert len(watches) == 1
        monkeypatch.setattr(process_tuning, "GC_PAUSE_LOG_MS", 10_000.0)
        with capture_logs() as quiet:
            gc.collect(0)
        assert not [e for e in quiet if e["event"] == "garbage collection pause"]
        monkeypatch.setattr(process_tuning, "GC_PAUSE_LOG_MS", 0.0)  # every collection counts as long
        with capture_logs() as logged:
            cycles = [[] for _ in range(500)]
            for c in cycles:
                c.append(c)  # reference cycles only a collection frees
            del cycles, c
            gc.collect(1)
        pauses = [e for e in logged if e["event"] == "garbage collection pause"]
        assert pauses and pauses[-1]["generation"] == 1 and pauses[-1]["log_level"] == "warning"
        assert pauses[-1]["collected"] >= 500 and pauses[-1]["ms"] >= 0.0
    finally:
        gc.callbacks[:] = [c for c in gc.callbacks if not isinstance(c, process_tuning._PauseWatch)]
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


async def test_queue_connections_are_checked_only_after_sitting_idle(monkeypatch) -> None:
    import psycopg
    import os

    from anima.jobs import queue as queue_module

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    checks: list[int] = []
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    real_execute = conn.execute

    async def counting_execute(query, *args, **kwargs):  # the check is one empty statement
        if query == "":
            checks.append(1)
        return await real_execute(query, *args, **kwargs)

    conn.execute = counting_execute  # type: ignore[method-assign]
    try:
        idle = queue_module._IdleCheck()
        await idle.check(conn)  # never returned to the pool yet: checked
        assert len(checks) == 1
        await idle.reset(conn)
        await idle.check(conn)  # returned moments ago: not checked
        assert len(checks) == 1
        monkeypatch.setattr(queue_module, "CHECK_AFTER_IDLE", -1.0)
        await idle.check(conn)  # idle longer than the limit: checked again
        assert len(checks) == 2
        await conn.close()
        monkeypatch.setattr(queue_module, "CHECK_AFTER_IDLE", 5.0)
        await idle.reset(conn)
        await idle.check(conn)  # a broken connection passes here and fails its own statement
        with pytest.raises(psycopg.OperationalError):
            await real_execute("SELECT 1")
    finally:
        await conn.close()
