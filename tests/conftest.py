"""Shared fixtures: a real PostgreSQL database of the test session's own, the app, HTTP helpers.

The database is ``DATABASE_URL``'s server when set, the embedded PostgreSQL otherwise. Each test
session (each xdist worker) creates a database ``anima_test_<random>`` and drops it, with every
role it created, at the end. Nothing of our database layer is patched.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
import httpx

from anima.app import create_app
from anima.config import Settings, load_settings
from anima.db.engine import Database, open_database
from anima.db.setup import migrate_platform
from anima.identity.rate_limit import RateLimits

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA_DIR = ROOT / ".anima-test"
PASSWORD = "correct-Horse-battery-9"


def test_environ(**extra: str) -> dict[str, str]:
    env = {
        "ANIMA_ENV": "development",
        "ANIMA_SECRET_KEY": "test-secret-key-" + "x" * 32,
        "ANIMA_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "ANIMA_DATA_DIR": str(TEST_DATA_DIR),
        "ANIMA_LOG_LEVEL": "warning",
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(test_environ())


@pytest.fixture(scope="session")
def db(session_database: Database) -> Database:
    """The test session's database (a module may replace this fixture, e.g. to go through PgBouncer)."""
    return session_database


@pytest.fixture(scope="session")
async def session_database(settings: Settings) -> AsyncIterator[Database]:
    name = f"anima_test_{secrets.token_hex(4)}"
    database = await open_database(settings, database=name)
    await migrate_platform(database)
    try:
        yield database
    finally:
        await drop_database(database)


async def drop_database(database: Database) -> None:
    """Drop the test database and every role whose name starts with its prefix."""
    await database.dispose()
    from sqlalchemy.ext.asyncio import create_async_engine

    server = create_async_engine(database.admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)'))
            roles = (
                await conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": database.prefix + "\\_%"})
            ).scalars().all()
        # one transaction, 500 roles a statement: one commit (one WAL flush) instead of one per role
        async with server.begin() as conn:
            for start in range(0, len(roles), 500):
                names = ", ".join(f'"{role}"' for role in roles[start:start + 500])
                await conn.execute(sa.text(f"DROP ROLE IF EXISTS {names}"))
    finally:
        await server.dispose()


@pytest.fixture(scope="session")
def pgbouncer(session_database: Database) -> Iterator[Any]:
    """A PgBouncer in transaction mode in front of the test database (tests/pgbouncer.py);
    skips where the pgbouncer binary is not installed."""
    from tests import pgbouncer as bouncer

    if bouncer.binary() is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    db, url = session_database, session_database.admin_url
    if url.host is None:
        pytest.skip("the PgBouncer tests need PostgreSQL over TCP; the embedded server listens on a Unix socket only")
    with bouncer.running_pgbouncer(
        server_host=url.host, server_port=url.port or 5432, database=db.database,
        users=[url.username or "postgres", db.app_role],
    ) as running:
        yield running


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings, database=db, rate_limits=RateLimits().scaled(1000))


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client driving the ASGI app in the test's own event loop (the engines live there)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def unique_slug(prefix: str = "org") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.org"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Org:
    """An organization made through the API, with its owner's tokens."""

    def __init__(self, slug: str, owner_email: str, tokens: dict[str, Any], owner_id: str) -> None:
        self.slug = slug
        self.owner_email = owner_email
        self.tokens = tokens
        self.owner_id = owner_id

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.tokens["access_token"])


async def signup(client: httpx.AsyncClient, *, tier: str = "BUILDER", slug: str | None = None) -> Org:
    slug = slug or unique_slug()
    email = unique_email("owner")
    response = await client.post(
        "/api/v1/signup",
        json={
            "organization_name": f"Practice {slug}",
            "slug": slug,
            "email": email,
            "password": PASSWORD,
            "display_name": "Owner " + slug,
            "tier": tier,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(slug, email, body["tokens"], body["user_id"])


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def latest_invitation_token(db: Database, email: str) -> str:
    """The token in the newest invitation email to ``email`` (read from the outbox, as a person would)."""
    async with db.admin.connect() as conn:
        body = (
            await conn.execute(
                sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r ORDER BY created_at DESC LIMIT 1"),
                {"r": email},
            )
        ).scalar_one()
    return body.rsplit(": ", 1)[1].strip()


async def add_member(client: httpx.AsyncClient, db: Database, org: Org, role: str) -> tuple[str, dict[str, Any], str]:
    """Invite and accept a new member with ``role``; returns (email, tokens, user_id)."""
    email = unique_email(role.lower())
    response = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": role}, headers=org.headers)
    assert response.status_code == 201, response.text
    token = await latest_invitation_token(db, email)
    accepted = await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD, "display_name": role.title()})
    assert accepted.status_code == 200, accepted.text
    return email, await login(client, email), accepted.json()["user_id"]
