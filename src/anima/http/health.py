"""``/health`` (the process is up) and ``/ready`` (the database answers and the platform schema is at head)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec

from anima.runtime import Runtime
from anima.tenancy.migrations import head_revision


@get("/health", tags=["operations"], summary="Liveness", include_in_schema=True)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    tags=["operations"],
    summary="Readiness: database reachable and migrated",
    responses={503: ResponseSpec(dict[str, Any], description="Not ready: the same body, saying which check failed")},
)
async def ready(runtime: Runtime) -> Response[dict[str, Any]]:
    services = runtime
    checks: dict[str, Any] = {}
    try:
        async with services.db.app.connect() as conn:
            current = await conn.scalar(sa.text("SELECT version_num FROM platform.alembic_version"))
        checks["database"] = "ok"
        checks["platform_revision"] = current
        checks["migrated"] = current == head_revision("platform")
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["migrated"] = False
    ok = checks.get("database") == "ok" and checks["migrated"]
    return Response({"status": "ready" if ok else "not-ready", "checks": checks}, status_code=200 if ok else 503)


ROUTE_HANDLERS = [health, ready]
