"""The observatory's result cache: one hour, keyed by tenant and the exact input, values sealed.

Key: ``(tenant id, sha256 hex of the exact model input)`` — the tenant is part of every key, so
two tenants never share an entry even for identical input. Values are **ciphertext** sealed with
the tenant's data key by the caller (:mod:`anima.ai.observatory`): an analysis is clinical
content and never sits in Redis or memory as plaintext, and crypto-shredding a tenant makes its
cached analyses unreadable too.

:class:`RedisCache` when ``REDIS_URL`` is set (shared by every process, ``SET ... EX``);
:class:`MemoryCache` otherwise (per process, bounded LRU with expiry). A cache that fails (Redis
down) reads as a miss and logs a warning: the analysis runs again rather than failing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from anima.logs import get_logger

log = get_logger(__name__)

TTL_SECONDS = 3600
MEMORY_CAPACITY = 2048


class AnalysisCache(Protocol):
    """Where sealed analyses wait for an identical request."""

    async def get(self, tenant_id: int, digest: str) -> bytes | None: ...

    async def put(self, tenant_id: int, digest: str, value: bytes, ttl: int = TTL_SECONDS) -> None: ...


class MemoryCache:
    """Process-local cache: a bounded LRU whose entries expire after ``ttl`` seconds (monotonic clock)."""

    def __init__(self, capacity: int = MEMORY_CAPACITY, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._clock = clock
        self._data: OrderedDict[tuple[int, str], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    async def get(self, tenant_id: int, digest: str) -> bytes | None:
        with self._lock:
            item = self._data.get((tenant_id, digest))
            if item is None:
                return None
            expires, value = item
            if expires <= self._clock():
                del self._data[(tenant_id, digest)]
                return None
            self._data.move_to_end((tenant_id, digest))
            return value

    async def put(self, tenant_id: int, digest: str, value: bytes, ttl: int = TTL_SECONDS) -> None:
        with self._lock:
            self._data[(tenant_id, digest)] = (self._clock() + ttl, value)
            self._data.move_to_end((tenant_id, digest))
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


class RedisCache:
    """Shared cache in Redis under ``anima:insights:v1:{tenant id}:{digest}`` with an expiry."""

    PREFIX = "anima:insights:v1"

    def __init__(self, url: str) -> None:
        from redis import asyncio as redis_asyncio

        self._redis = redis_asyncio.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def key(self, tenant_id: int, digest: str) -> str:
        return f"{self.PREFIX}:{int(tenant_id)}:{digest}"

    async def get(self, tenant_id: int, digest: str) -> bytes | None:
        try:
            return await self._redis.get(self.key(tenant_id, digest))
        except Exception as exc:  # noqa: BLE001 — a cache failure is a miss
            log.warning("insights cache read failed", error=type(exc).__name__)
            return None

    async def put(self, tenant_id: int, digest: str, value: bytes, ttl: int = TTL_SECONDS) -> None:
        try:
            await self._redis.set(self.key(tenant_id, digest), value, ex=ttl)
        except Exception as exc:  # noqa: BLE001
            log.warning("insights cache write failed", error=type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


def cache_for(redis_url: str | None) -> AnalysisCache:
    """Redis when a URL is given, process memory otherwise."""
    return RedisCache(redis_url) if redis_url else MemoryCache()
