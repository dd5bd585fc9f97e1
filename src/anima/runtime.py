"""The runtime: what one process shares, built once for the API and once for the worker.

A :class:`Runtime` holds the settings, the database engines and their session factory, the
keyring (master key + cached unwrapped data keys), the rate limiter, the AI analysis cache and the
Gemini analyst (None when Gemini is not configured), and — in a worker — the job queue.

* The API keeps it in ``app.state["anima"]`` (:func:`anima.app.create_app` builds it at startup,
  or from the ``database`` a test passes); route handlers never read it by hand: the application's
  providers (:mod:`anima.http.providers`) hand out what a route needs.
* The worker keeps it in the SAQ context as ``ctx["anima"]`` (:func:`anima.jobs.worker.run_worker`).

:func:`runtime_of` reads it from either holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saq import Queue
from sqlalchemy.ext.asyncio import async_sessionmaker

from anima.ai.cache import AnalysisCache, cache_for
from anima.ai.gemini import GeminiAnalyst, analyst_for
from anima.config import Settings
from anima.crypto.keyring import Keyring
from anima.db.engine import Database
from anima.identity.rate_limit import RateLimiter, RateLimits

#: where the runtime lives in ``app.state`` and in a SAQ job context
RUNTIME_KEY = "anima"


@dataclass
class Runtime:
    """The process-wide services of one API or worker process (see the module docstring)."""

    settings: Settings
    db: Database
    sessionmaker: async_sessionmaker
    keyring: Keyring
    rate_limiter: RateLimiter
    analysis_cache: AnalysisCache
    analyst: GeminiAnalyst | None
    queue: Queue | None = None


def build_runtime(
    settings: Settings,
    db: Database,
    *,
    rate_limits: RateLimits | None = None,
    queue: Queue | None = None,
    analysis_cache: AnalysisCache | None = None,
    analyst: GeminiAnalyst | None = None,
) -> Runtime:
    """Assemble a :class:`Runtime` from the settings and opened engines.

    The analysis cache comes from ``REDIS_URL`` (process memory without it) and the analyst from
    ``GEMINI_*`` unless given (tests pass a stub-backed analyst and a memory cache).
    """
    return Runtime(
        settings=settings,
        db=db,
        sessionmaker=db.sessionmaker(),
        keyring=Keyring(settings.master_key, db.admin),
        rate_limiter=RateLimiter(db.app, rate_limits or RateLimits().scaled(settings.rate_limit_scale)),
        analysis_cache=analysis_cache if analysis_cache is not None else cache_for(settings.redis_url),
        analyst=analyst if analyst is not None else analyst_for(settings),
        queue=queue,
    )


def runtime_of(holder: Any) -> Runtime:
    """The :class:`Runtime` kept in ``holder``: an application's ``State`` or a SAQ job context.

    Raises:
        KeyError: nothing was put there (an app whose lifespan has not started).
    """
    return holder[RUNTIME_KEY]
