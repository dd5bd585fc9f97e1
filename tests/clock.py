"""Times for test inputs, always relative to the moment the test runs.

A test that books, pays or records something at a literal date starts failing the day the code's
"not too far in the past" or "not too far ahead" rules overtake that date. Every such input is
built here from ``now`` plus an offset, so no test depends on today's date.
"""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.datetime.now(datetime.UTC)


def at(*, tz: datetime.tzinfo = datetime.UTC, **offset: float) -> datetime.datetime:
    """``now() + timedelta(**offset)`` seen in ``tz``, whole seconds (e.g. ``at(days=-30)``)."""
    return (now() + datetime.timedelta(**offset)).astimezone(tz).replace(microsecond=0)


def iso(*, tz: datetime.tzinfo = datetime.UTC, **offset: float) -> str:
    """``at(...)`` as ISO 8601 with its offset (``2031-05-01T10:00:00+00:00``), for JSON bodies."""
    return at(tz=tz, **offset).isoformat()


def naive_iso(**offset: float) -> str:
    """``at(...)`` as ISO 8601 *without* an offset: the input a time-zone rule must refuse."""
    return at(**offset).replace(tzinfo=None).isoformat()
