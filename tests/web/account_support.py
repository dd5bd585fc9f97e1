"""Helpers of the account and billing page tests: outbox links, database reads, a paid app's browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from anima.app import create_app
from anima.identity.rate_limit import RateLimits
from tests.integration.billing_support import stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.web.conftest import Browser


async def scalar(db: Any, sql: str, **params: Any) -> Any:
    async with db.admin.connect() as conn:
        return await conn.scalar(sa.text(sql), params)


async def latest_link(db: Any, email: str, path: str) -> str:
    """The path (from ``path`` on) of the newest link to ``path`` emailed to ``email``."""
    async with db.admin.connect() as conn:
        bodies = (await conn.execute(
            sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r ORDER BY created_at DESC"), {"r": email}
        )).scalars().all()
    for body in bodies:
        if match := re.search(rf"https?://[^/\s]+({re.escape(path)}[A-Za-z0-9_-]+)", body):
            return match.group(1)
    raise AssertionError(f"no email to {email} links to {path}")


async def emails_to(db: Any, email: str, kind: str | None = None) -> int:
    sql = "SELECT count(*) FROM platform.email_outbox WHERE recipient = :r"
    if kind:
        sql += " AND kind = :k"
    return int(await scalar(db, sql, r=email, k=kind) or 0)


@pytest.fixture
async def paid_browser(stripe_settings, db) -> AsyncIterator[Browser]:  # noqa: F811 - the fixture above
    """A browser of an app with payments configured (the Stripe SDK aimed at the stub)."""
    app = create_app(stripe_settings, database=db, rate_limits=RateLimits().scaled(1000))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False) as http:
        yield Browser(http)
