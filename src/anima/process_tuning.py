"""Tuning of the long-running processes: the garbage collector, the worker's CPU priority, its loop.

Both `anima serve` and `anima worker` call :func:`settle_heap` once they have started (app
built, pools open, every module imported): a full collection, then :func:`gc.freeze`, so the
objects of the start — modules, the app, SQLAlchemy's mappers and compiled caches, about 200 MB —
are never traversed again by a collection; and a first-generation threshold of
:data:`GC_THRESHOLDS` instead of 700 allocations, so the young collections that remain run a
fraction as often. Measured in `anima serve` over 30 s at 60 requests/s on a loaded machine:
without it 100 young, 9 middle (up to 47 ms) and one full collection (1.6 s), each a stall of
every request in flight; with it one young collection (see the README's Measured section).

`anima worker` also lowers its own CPU priority (:func:`lower_priority`, ``ANIMA_WORKER_NICE``,
default 5): its work — relaying events, playbooks, risk screening, the queue — can wait a few
milliseconds, the API's requests are what people wait on. When both want the CPU, Linux's fair
scheduler gives a process of niceness 5 about a third of the share of one at 0; an idle API
leaves the worker every cycle. And it runs on uvloop when it is installed (it is, with uvicorn's
standard extras), the loop `anima serve` already runs on.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

from anima.logs import get_logger

log = get_logger(__name__)

#: (young, middle, old) collection thresholds once the start's objects are frozen
GC_THRESHOLDS = (20_000, 10, 10)

#: a collection at least this long (ms) is logged: it held every request of the process that long
GC_PAUSE_LOG_MS = 20.0


class _PauseWatch:
    """A :data:`gc.callbacks` entry logging each collection of :data:`GC_PAUSE_LOG_MS` or more
    (``garbage collection pause``: generation, ms, collected) at warning level."""

    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        ms = (time.perf_counter() - self.started) * 1000
        if ms >= GC_PAUSE_LOG_MS:
            log.warning("garbage collection pause", generation=info.get("generation"), ms=round(ms, 1),
                        collected=info.get("collected"))


def settle_heap() -> None:
    """Collect once, freeze what survived (the start's objects), raise the young threshold and
    log every later collection that lasts :data:`GC_PAUSE_LOG_MS` or more.

    Call once per process after start-up; cheap (one full collection) and safe to call again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if not any(isinstance(c, _PauseWatch) for c in gc.callbacks):
        gc.callbacks.append(_PauseWatch())
    log.info("heap settled", frozen_objects=gc.get_freeze_count(), gc_thresholds=list(GC_THRESHOLDS))


def lower_priority(niceness: int) -> int:
    """Raise this process's niceness to at least ``niceness`` (0–19; never lowers it, which would
    need privileges). Returns the niceness now in force."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
        current = niceness
    return current


def event_loop_factory() -> object | None:
    """uvloop's ``new_event_loop`` when uvloop is installed, else None (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed with uvicorn[standard]
        return None
    return uvloop.new_event_loop
