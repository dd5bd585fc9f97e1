"""Fixtures and helpers of the billing tests: an app with Stripe configured (the SDK aimed at our stub)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from anima.app import create_app
from anima.config import load_settings
from anima.identity.operators import ensure_operator
from anima.identity.rate_limit import RateLimits
from tests.conftest import PASSWORD, bearer, login, test_environ, unique_email
from tests.stripe_stub import StripeStub, sign, stripe_environ

WEBHOOK = "/api/v1/billing/webhooks/stripe"


@pytest.fixture(scope="session")
def stripe_stub() -> Iterator[StripeStub]:
    stub = StripeStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def stripe_settings(stripe_stub: StripeStub):
    return load_settings(test_environ(**stripe_environ(), STRIPE_API_BASE=stripe_stub.url))


@pytest.fixture(scope="session")
async def paid_client(stripe_settings, db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with payments configured, on the same database as ``client``."""
    app = create_app(stripe_settings, database=db, rate_limits=RateLimits().scaled(1000))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
async def operator_headers(client, db) -> dict[str, str]:
    email = unique_email("op")
    await ensure_operator(db, email=email, password=PASSWORD, display_name="Billing Op")
    return bearer((await login(client, email))["access_token"])


async def post_event(client: httpx.AsyncClient, event: dict[str, Any], *, timestamp: int | None = None) -> httpx.Response:
    """POST ``event`` to the webhook, signed as Stripe signs it."""
    payload = json.dumps(event)
    return await client.post(
        WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload, timestamp=timestamp), "Content-Type": "application/json"}
    )


async def tenant_row(db, slug: str) -> Any:
    async with db.admin.connect() as conn:
        return (await conn.execute(sa.text("SELECT id, tier FROM platform.tenants WHERE slug = :s"), {"s": slug})).one()


async def scalar(db, sql: str, **params: Any) -> Any:
    async with db.admin.connect() as conn:
        return await conn.scalar(sa.text(sql), params)


def now() -> int:
    return int(time.time())
