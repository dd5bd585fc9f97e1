"""The process-local cache of FreeBusy answers: per (tenant, therapist), :data:`TTL` seconds.

An entry covers the window it was fetched for; a search inside that window within the TTL reuses
it, any other search fetches again. Connecting, choosing another calendar, disconnecting and
``POST …/google-calendar/refresh`` drop the therapist's entry (:func:`forget`). Each worker or
server process has its own cache: a process may show a busy block up to :data:`TTL` seconds
after Google changed.
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass

Interval = tuple[datetime.datetime, datetime.datetime]
#: seconds a FreeBusy answer is reused
TTL = 180.0
#: entries kept at most (the oldest are dropped first)
MAX_ENTRIES = 5000


@dataclass(frozen=True)
class Entry:
    fetched: float
    start: datetime.datetime
    end: datetime.datetime
    busy: tuple[Interval, ...]


_entries: dict[tuple[int, uuid.UUID], Entry] = {}


def lookup(tenant_id: int, therapist_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime) -> tuple[Interval, ...] | None:
    """The cached busy intervals covering ``[start, end)``, or None (absent, stale, narrower)."""
    entry = _entries.get((tenant_id, therapist_id))
    if entry is None or time.monotonic() - entry.fetched > TTL or start < entry.start or end > entry.end:
        return None
    return entry.busy


def store(tenant_id: int, therapist_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime, busy: list[Interval]) -> None:
    """Keep a FreeBusy answer for ``[start, end)``."""
    if len(_entries) >= MAX_ENTRIES:
        for key in sorted(_entries, key=lambda k: _entries[k].fetched)[: MAX_ENTRIES // 10]:
            _entries.pop(key, None)
    _entries[(tenant_id, therapist_id)] = Entry(time.monotonic(), start, end, tuple(busy))


def forget(tenant_id: int, therapist_id: uuid.UUID) -> None:
    """Drop the therapist's cached answer (the next search asks Google)."""
    _entries.pop((tenant_id, therapist_id), None)
