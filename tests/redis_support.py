"""Redis is optional for the suite: tests that need it say so with :data:`needs_redis`.

``.ci/run`` and ``bootstrap.py test`` run without Redis (the queue and the AI cache then live in
PostgreSQL and in memory); a test of the Redis code paths is skipped, with the reason, when
nothing answers PING at :data:`REDIS_URL`, instead of failing on a connection error.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlsplit

import pytest

#: the Redis the tests use; ``ANIMA_TEST_REDIS_URL`` points them elsewhere (or at nothing, to see the skips)
REDIS_URL = os.environ.get("ANIMA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_HOST, REDIS_PORT = urlsplit(REDIS_URL).hostname or "127.0.0.1", urlsplit(REDIS_URL).port or 6379


@functools.cache
def redis_answers() -> bool:
    """True when a Redis server at :data:`REDIS_URL` answers PING within half a second (asked once)."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


#: mark a test (or a parameter) that talks to a real Redis
needs_redis = pytest.mark.skipif(not redis_answers(), reason=f"needs Redis: nothing answers PING at {REDIS_HOST}:{REDIS_PORT}")
