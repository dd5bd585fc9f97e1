"""Entering a tenant in one round trip, BEGIN included, decides exactly as the ordinary statement.

:func:`anima.tenancy.scope.enter_as_member` remembers the facts it last returned for (slug, user)
and, on the next request, *confirms* them in the statement sent together with ``BEGIN``. These
tests change every remembered fact between requests (role, membership, tenant state, tier, name,
the auth session) and check, property-based, that the answer is always the one the ordinary
parameterized statement gives at that moment, that the transaction is scoped exactly when the
tenant is entered, and that on a pool of one connection no scope survives commit, rollback or a
failed statement.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from anima.db.engine import Database, begin_with
from anima.identity.models import AuthSession, Membership, User
from anima.tenancy.provisioning import provision_tenant
from anima.tenancy.scope import SEEN_MEMBERS, _enter_as_member, current_scope, enter_as_member
from tests.conftest import unique_email, unique_slug

pytestmark = pytest.mark.asyncio

MUTATIONS = ["role", "remove", "readd", "suspend", "resume", "tier", "rename", "revoke", "renew", "other_session"]
step = st.one_of(
    st.tuples(st.just("enter"), st.integers(0, 1), st.sampled_from(["commit", "rollback", "error"])),
    st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 1), st.sampled_from(["OWNER", "THERAPIST", "ASSISTANT", "PRO", "CENTER", "BUILDER"])),
)


@pytest.fixture
async def world(db: Database):
    """Two tenants, one user who is OWNER of both, a live auth session, and a pool of one connection."""
    tenants = [await provision_tenant(db, slug=unique_slug("cf"), name=f"Practice {i}") for i in range(2)]
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    far = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    async with db.admin.begin() as conn:
        await conn.execute(sa.insert(User).values(id=user_id, email=unique_email("cf"), password_hash="!", display_name="C"))
        await conn.execute(sa.insert(AuthSession).values(id=session_id, user_id=user_id, idle_expires_at=far, expires_at=far))
        for t in tenants:
            await conn.execute(sa.insert(Membership).values(id=uuid.uuid4(), tenant_id=t.id, user_id=user_id, role="OWNER"))
    engine = create_async_engine(db.app_url, pool_size=1, max_overflow=0)
    try:
        yield tenants, user_id, session_id, async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def _mutate(db: Database, kind: str, tenant, user_id: uuid.UUID, session_id: uuid.UUID, value: str) -> uuid.UUID:
    """Apply one change; returns the session id requests use from now on."""
    far = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    async with db.admin.begin() as conn:
        if kind == "role" and value in ("OWNER", "THERAPIST", "ASSISTANT"):
            await conn.execute(sa.text("UPDATE platform.memberships SET role = :r WHERE tenant_id = :t AND user_id = :u"),
                               {"r": value, "t": tenant.id, "u": user_id})
        elif kind == "remove":
            await conn.execute(sa.text("DELETE FROM platform.memberships WHERE tenant_id = :t AND user_id = :u"),
                               {"t": tenant.id, "u": user_id})
        elif kind == "readd":
            await conn.execute(sa.text(
                "INSERT INTO platform.memberships (id, tenant_id, user_id, role) VALUES (:i, :t, :u, 'THERAPIST') "
                "ON CONFLICT DO NOTHING"), {"i": uuid.uuid4(), "t": tenant.id, "u": user_id})
        elif kind in ("suspend", "resume"):
            await conn.execute(sa.text("UPDATE platform.tenants SET state = :s WHERE id = :t"),
                               {"s": "suspended" if kind == "suspend" else "active", "t": tenant.id})
        elif kind == "tier" and value in ("PRO", "CENTER", "BUILDER"):
            await conn.execute(sa.text("UPDATE platform.tenants SET tier = :v WHERE id = :t"), {"v": value, "t": tenant.id})
        elif kind == "rename":
            await conn.execute(sa.text("UPDATE platform.tenants SET name = name || ' x' WHERE id = :t"), {"t": tenant.id})
        elif kind == "revoke":
            await conn.execute(sa.text("UPDATE platform.auth_sessions SET revoked_at = now() WHERE id = :s"), {"s": session_id})
        elif kind == "renew":
            await conn.execute(sa.text("UPDATE platform.auth_sessions SET revoked_at = NULL WHERE id = :s"), {"s": session_id})
        elif kind == "other_session":
            session_id = uuid.uuid4()
            await conn.execute(sa.insert(AuthSession).values(id=session_id, user_id=user_id, idle_expires_at=far, expires_at=far))
    return session_id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=2, max_size=12))
async def test_confirmed_entry_decides_like_the_ordinary_statement(db: Database, world, steps):
    tenants, user_id, session_id, maker = world
    async with maker() as probe:
        default_scope = await current_scope(probe)
    for kind, index, extra in steps:
        tenant = tenants[index]
        if kind != "enter":
            session_id = await _mutate(db, kind, tenant, user_id, session_id, extra)
            continue
        async with maker() as s:  # what the ordinary statement says right now (rolled back)
            expected = await _enter_as_member(s, slug=tenant.slug, user_id=user_id, session_id=session_id, enter=True)
            await s.rollback()
        async with maker() as s:
            got = await enter_as_member(s, slug=tenant.slug, user_id=user_id, session_id=session_id)
            assert got == expected
            scope = await current_scope(s)
            if got is not None and got.active:
                assert scope[1] == tenant.db_role and scope[0].strip('"') == tenant.schema_name
            else:
                assert scope == default_scope  # never scoped into a tenant it may not enter
            if extra == "commit":
                await s.commit()
            elif extra == "rollback":
                await s.rollback()
            else:
                with pytest.raises(DBAPIError):
                    await s.execute(sa.text("SELECT * FROM platform.no_such_table"))
                await s.rollback()
        async with maker() as s:  # the one pooled connection carries nothing over
            assert await current_scope(s) == default_scope


async def test_a_remembered_member_is_still_refused_after_logout(db: Database, world):
    tenants, user_id, session_id, maker = world
    for _ in range(2):  # the second entry confirms remembered facts
        async with maker() as s:
            assert await enter_as_member(s, slug=tenants[0].slug, user_id=user_id, session_id=session_id) is not None
    assert SEEN_MEMBERS.get(tenants[0].slug, user_id) is not None
    await _mutate(db, "revoke", tenants[0], user_id, session_id, "")
    async with maker() as s:
        assert await enter_as_member(s, slug=tenants[0].slug, user_id=user_id, session_id=session_id) is None
        assert await current_scope(s) != (tenants[0].schema_name, tenants[0].db_role)
    assert SEEN_MEMBERS.get(tenants[0].slug, user_id) is None


async def test_begin_with_refuses_a_transaction_already_begun(world):
    _, _, _, maker = world
    async with maker() as s:
        await s.execute(sa.text("SELECT 1"))
        assert await begin_with(s, " SELECT 1") is None  # nothing sent: BEGIN was already sent
        assert await begin_with(s, " SELECT 1") is None
    async with maker() as s:
        assert await begin_with(s, " SELECT 1") == "SELECT 1"
        assert await s.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() AND xact_start IS NOT NULL")) == 1
        await s.commit()
