"""Fixed-window rate limits, atomic under concurrency, kept in PostgreSQL.

Each hit is one ``INSERT … ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits`` on
``platform.rate_limit_counters`` in its own transaction: PostgreSQL serializes concurrent hits on
the same row, so N concurrent requests see the counts 1..N exactly once each and the limit is
never exceeded, and a request that fails later still counts. Keys combine the action with the
client address, the account (email or user id) or the tenant, as each action needs.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from anima.problems import TooManyRequests


@dataclass(frozen=True)
class Limit:
    """At most ``hits`` per ``window`` seconds."""

    hits: int
    window: int


@dataclass(frozen=True)
class RateLimits:
    """The limits of each rate-limited action, keyed ``<action>:<dimension>``."""

    limits: dict[str, Limit] = field(
        default_factory=lambda: {
            "signup:address": Limit(10, 3600),
            "login:address": Limit(30, 900),
            "login:account": Limit(10, 900),
            "refresh:address": Limit(120, 900),
            "refresh:session": Limit(30, 900),
            "invite:tenant": Limit(50, 3600),
            "invite:user": Limit(30, 3600),
            "accept:address": Limit(20, 900),
            "accept:invitation": Limit(10, 900),
            "reset:address": Limit(30, 900),
            "reset:account": Limit(5, 3600),
            "reset-link:address": Limit(30, 900),
            "verify:address": Limit(30, 900),
            "verify-resend:user": Limit(5, 3600),
            "form:address": Limit(20, 900),
            "form:form": Limit(300, 3600),
            "book:address": Limit(20, 3600),
        }
    )

    def scaled(self, factor: float) -> RateLimits:
        """These limits multiplied by ``factor`` (tests use a large factor outside rate-limit tests)."""
        return RateLimits({k: Limit(max(1, int(v.hits * factor)), v.window) for k, v in self.limits.items()})


_HIT = sa.text(
    "INSERT INTO platform.rate_limit_counters (key, window_start, hits) VALUES (:k, :w, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = platform.rate_limit_counters.hits + 1 "
    "RETURNING hits"
)
_PURGE = sa.text("DELETE FROM platform.rate_limit_counters WHERE window_start < now() - interval '1 day'")


class RateLimiter:
    """Counts hits per key and raises :class:`~anima.problems.TooManyRequests` past the limit."""

    def __init__(self, engine: AsyncEngine, limits: RateLimits) -> None:
        self.engine = engine
        self.limits = limits

    async def hit(self, action: str, dimension: str, value: str, *, now: datetime.datetime | None = None) -> int:
        """Count one hit of ``action`` for ``dimension=value``; returns the count in the window.

        Raises:
            TooManyRequests: past the limit, with ``Retry-After`` set to the window's end.
        """
        limit = self.limits.limits[f"{action}:{dimension}"]
        now = now or datetime.datetime.now(datetime.UTC)
        epoch = now.timestamp()
        start = math.floor(epoch / limit.window) * limit.window
        window_start = datetime.datetime.fromtimestamp(start, datetime.UTC)
        key = f"{action}:{dimension}:{value}"[:200]
        async with self.engine.begin() as conn:
            hits = (await conn.execute(_HIT, {"k": key, "w": window_start})).scalar_one()
            if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
                await conn.execute(_PURGE)
        if hits > limit.hits:
            retry = int(start + limit.window - epoch) + 1
            raise TooManyRequests(
                f"too many {action} attempts; try again in {retry} seconds",
                extra={"limit": limit.hits, "window_seconds": limit.window},
                headers={"Retry-After": str(retry)},
            )
        return hits
