"""Property-based isolation: random organizations, members and operations.

No response ever carries another tenant's data, every cross-tenant attempt is a 404, every role
gets what the role table allows, and raw SQL naming another tenant's schema inside a tenant
transaction fails with permission denied, whichever tenants and tables are drawn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

import anima.models  # noqa: F401 - every domain's models registered, whatever was imported before
from anima.db.base import TenantBase
from anima.tenancy.scope import enter_tenant
from tests.conftest import add_member, bearer, signup

ROLES = ("OWNER", "THERAPIST", "ASSISTANT")
OPERATIONS = (
    "list_services", "create_service", "read_service", "patch_service", "assign",
    "get_settings", "patch_settings", "list_members", "list_invitations",
)
WRITE = {"create_service", "patch_service", "assign", "patch_settings", "list_invitations"}


@dataclass
class Tenant:
    slug: str
    marker: str
    tokens: dict[str, str]
    therapist_id: str
    tenant_id: int = 0
    schema: str = ""
    service_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def tenants(client, db) -> list[Tenant]:
    out = []
    for _ in range(3):
        org = await signup(client, tier="CENTER")
        marker = f"MARK{uuid.uuid4().hex[:12]}"
        tokens = {"OWNER": org.tokens["access_token"]}
        therapist_id = ""
        for role in ("THERAPIST", "ASSISTANT"):
            _, t, uid = await add_member(client, db, org, role)
            tokens[role] = t["access_token"]
            if role == "THERAPIST":
                therapist_id = uid
        tenant = Tenant(org.slug, marker, tokens, therapist_id)
        async with db.admin.connect() as conn:
            row = (await conn.execute(sa.text("SELECT id, schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).one()
        tenant.tenant_id, tenant.schema = row.id, row.schema_name
        response = await client.post(
            f"/api/v1/orgs/{org.slug}/services",
            json={"name": f"{marker} seed", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50,
                  "price_minor": 5000, "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id]},
            headers=bearer(tokens["OWNER"]),
        )
        tenant.service_ids.append(response.json()["id"])
        out.append(tenant)
    return out


def _allowed(role: str, op: str) -> bool:
    return role == "OWNER" or op not in WRITE


async def _perform(client, actor: Tenant, role: str, target: Tenant, op: str, service_owner: Tenant, marker: str):
    base = f"/api/v1/orgs/{target.slug}"
    headers = bearer(actor.tokens[role])
    service_id = service_owner.service_ids[0]
    if op == "list_services":
        return await client.get(f"{base}/services?limit=200", headers=headers)
    if op == "create_service":
        body = {"name": f"{actor.marker} {marker}", "kind": "GROUP", "scheduling": "FIXED_DATE", "duration_minutes": 90,
                "price_minor": 1000, "currency": "EUR", "capacity": 5, "location": "ONLINE"}
        return await client.post(f"{base}/services", json=body, headers=headers)
    if op == "read_service":
        return await client.get(f"{base}/services/{service_id}", headers=headers)
    if op == "patch_service":
        return await client.patch(f"{base}/services/{service_id}", json={"description": f"{actor.marker} {marker}"}, headers=headers)
    if op == "assign":
        return await client.put(f"{base}/services/{service_id}/therapists", json={"therapist_ids": [service_owner.therapist_id]}, headers=headers)
    if op == "get_settings":
        return await client.get(f"{base}/settings", headers=headers)
    if op == "patch_settings":
        return await client.patch(f"{base}/settings", json={"timezone": "Europe/Rome"}, headers=headers)
    if op == "list_members":
        return await client.get(f"{base}/members", headers=headers)
    return await client.get(f"{base}/invitations", headers=headers)


operation = st.tuples(
    st.integers(0, 2), st.sampled_from(ROLES), st.integers(0, 2), st.sampled_from(OPERATIONS), st.integers(0, 2)
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=6))
async def test_no_response_carries_another_tenants_data(client, db, tenants, ops):
    for actor_i, role, target_i, op, owner_i in ops:
        actor, target, service_owner = tenants[actor_i], tenants[target_i], tenants[owner_i]
        response = await _perform(client, actor, role, target, op, service_owner, uuid.uuid4().hex[:6])
        others = [t.marker for t in tenants if t is not target]
        for marker in others + [t.slug for t in tenants if t is not target]:
            assert marker not in response.text, (op, role, actor.slug, target.slug)
        if actor is not target:
            assert response.status_code == 404, (op, role, response.text)
            continue
        service_elsewhere = op in ("read_service", "patch_service", "assign") and service_owner is not target
        if not _allowed(role, op):
            assert response.status_code == 403, (op, role, response.text)
        elif service_elsewhere:
            assert response.status_code in (404, 422), (op, role, response.text)
        elif op == "read_service" and role == "THERAPIST":
            assert response.status_code == 200  # the seed service is assigned to this therapist
        else:
            assert response.status_code in (200, 201), (op, role, response.text)
    # and nothing was written across: every tenant's rows carry only its own marker
    async with db.admin.connect() as conn:
        for t in tenants:
            names = (await conn.execute(sa.text(f'SELECT name || description FROM "{t.schema}".services'))).scalars().all()
            for other in tenants:
                if other is not t:
                    assert not any(other.marker in n for n in names)


TABLES = sorted(t.name for t in TenantBase.metadata.sorted_tables)


VERBS = ("SELECT", "DELETE", "UPDATE")
#: every (tenant inside, other tenant, table, verb): 6 ordered pairs x tables x 3 verbs
CROSSINGS = [(i, o, table, verb) for i in range(3) for o in range(3) if i != o for table in TABLES for verb in VERBS]


def _crossing_sql(schema: str, table: str, verb: str) -> str:
    first_column = sa.inspect(TenantBase.metadata.tables[table]).columns.keys()[0]
    return {
        "SELECT": f'SELECT * FROM "{schema}"."{table}" LIMIT 1',
        "DELETE": f'DELETE FROM "{schema}"."{table}"',
        "UPDATE": f'UPDATE "{schema}"."{table}" SET {first_column} = NULL WHERE false',
    }[verb]


async def test_raw_sql_across_schemas_is_denied(db, tenants):
    """All of the combinations, not a sample: each statement in its own savepoint inside one
    scoped transaction per tenant (the scope is transaction-local, a savepoint keeps it)."""
    assert len(CROSSINGS) == 6 * len(TABLES) * 3
    async with db.admin.connect() as conn:  # every table a tenant really has is crossed
        actual = (await conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"),
                                     {"s": tenants[0].schema})).scalars().all()
    assert sorted(actual) == TABLES
    allowed = []
    for inside_i, inside in enumerate(tenants):
        async with db.sessionmaker()() as session:
            assert await enter_tenant(session, inside.tenant_id) is not None
            for i, o, table, verb in CROSSINGS:
                if i != inside_i:
                    continue
                savepoint = await session.begin_nested()
                try:
                    await session.execute(sa.text(_crossing_sql(tenants[o].schema, table, verb)))
                    allowed.append((i, o, table, verb))
                except DBAPIError as denied:
                    if "permission denied" not in str(denied):
                        allowed.append((i, o, table, verb, str(denied.orig)))
                await savepoint.rollback()
            # still scoped to its own tenant after all the refusals: its own rows, unqualified
            names = (await session.execute(sa.text("SELECT name FROM services"))).scalars().all()
            assert any(inside.marker in n for n in names), names
            await session.rollback()
    assert allowed == []


async def test_one_connection_serves_two_tenants_interleaved_through_http(db, settings, tenants):
    """A pool of exactly one connection: A, B, A, B … requests, sequential and concurrent."""
    import asyncio

    import httpx
    from sqlalchemy.ext.asyncio import create_async_engine

    from anima.app import create_app
    from anima.db.engine import Database
    from anima.identity.rate_limit import RateLimits

    one = create_async_engine(db.app_url, pool_size=1, max_overflow=0)
    single = Database(admin=db.admin, app=one, admin_url=db.admin_url, app_url=db.app_url, database=db.database, prefix=db.prefix)
    app = create_app(settings, database=single, rate_limits=RateLimits().scaled(1000))
    a, b = tenants[0], tenants[1]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            async def names(t: Tenant) -> set[str]:
                r = await c.get(f"/api/v1/orgs/{t.slug}/services?limit=200", headers=bearer(t.tokens["OWNER"]))
                assert r.status_code == 200, r.text
                return {s["name"] for s in r.json()["items"]}

            for _ in range(3):
                for t, other in ((a, b), (b, a)):
                    got = await names(t)
                    assert any(t.marker in n for n in got) and not any(other.marker in n for n in got)
            results = await asyncio.gather(*(names(t) for t in [a, b] * 6))
            for t, got in zip([a, b] * 6, results, strict=True):
                assert all(t.marker in n for n in got if "MARK" in n)
            # a failed request in A (denied role) leaves nothing behind for B
            denied = await c.post(f"/api/v1/orgs/{a.slug}/services", json={}, headers=bearer(a.tokens["ASSISTANT"]))
            assert denied.status_code == 403
            assert not any(a.marker in n for n in await names(b))
        async with one.connect() as conn:
            path, role = (await conn.execute(sa.text("SELECT current_setting('search_path'), current_user"))).one()
        assert role == db.app_role and "tenant_" not in path
    finally:
        await one.dispose()
