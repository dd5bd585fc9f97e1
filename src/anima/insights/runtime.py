"""The process-wide parts the observatory needs, made once: settings, sessions, keyring, cache, Gemini.

* In the web app: :func:`runtime_from_state` keeps one :class:`InsightsRuntime` in
  ``app.state["anima_insights"]``, sharing the app's keyring (``app.state["anima_keyring"]``).
* In the worker: :func:`runtime_from_ctx` reads ``ctx["insights"]`` when the worker's startup put
  one there, otherwise builds one from ``ctx["anima"]`` (the worker's
  :class:`~anima.events.runner.WorkerServices`, or the app's :class:`~anima.http.deps.Services`;
  its keyring is reused when it has one) and keeps it in ``ctx["insights"]``. :func:`build_runtime` makes one from settings and a
  :class:`~anima.db.engine.Database` for a worker startup hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from anima.config import Settings
from anima.crypto.keyring import Keyring
from anima.insights.cache import AnalysisCache, cache_for
from anima.insights.gemini import GeminiAnalyst, analyst_for

STATE_KEY = "anima_insights"
CTX_KEY = "insights"


@dataclass
class InsightsRuntime:
    """What an analysis needs besides its tenant: ``analyst`` is None when Gemini is not configured."""

    settings: Settings
    sessionmaker: async_sessionmaker
    keyring: Keyring
    cache: AnalysisCache
    analyst: GeminiAnalyst | None


def build_runtime(settings: Settings, sessionmaker: async_sessionmaker, keyring: Keyring) -> InsightsRuntime:
    """A runtime from its parts (cache from ``REDIS_URL``, analyst from ``GEMINI_*``)."""
    return InsightsRuntime(settings, sessionmaker, keyring, cache_for(settings.redis_url), analyst_for(settings))


def runtime_from_state(state: Any) -> InsightsRuntime:
    """The web app's runtime, created on first use."""
    runtime = state.get(STATE_KEY) if hasattr(state, "get") else None
    if runtime is None:
        from anima.crypto.deps import keyring_from
        from anima.http.deps import services_from

        services = services_from(state)
        runtime = build_runtime(services.settings, services.sessionmaker, keyring_from(state))
        state[STATE_KEY] = runtime
    return runtime


def runtime_from_ctx(ctx: dict[str, Any]) -> InsightsRuntime:
    """The worker's runtime (see module docstring). Raises KeyError when ctx holds neither part."""
    runtime = ctx.get(CTX_KEY)
    if runtime is None:
        services = ctx["anima"]
        keyring = getattr(services, "keyring", None) or Keyring(services.settings.master_key, services.db.admin)
        runtime = build_runtime(services.settings, services.sessionmaker, keyring)
        ctx[CTX_KEY] = runtime
    return runtime
