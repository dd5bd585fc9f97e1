"""Scoping behind a transaction pooler, tested rather than asserted.

The isolation property tests (tests/integration/test_isolation_properties.py) and the
one-connection interleaving test (tests/integration/test_tenancy.py) run again here with every
app-role connection going through a real PgBouncer in ``pool_mode = transaction`` (started by the
``pgbouncer`` fixture; skipped where the binary is not installed), with the driver settings
deploy/README.md prescribes (``?anima_pooler=transaction``: no statement caches, uniquely named
prepared statements). The admin engine (provisioning, inspection) stays direct, as the migration
job would. The interleaving test meets a pool of a single server connection, so consecutive
transactions of different tenants share one PostgreSQL backend.

The tests are imported, not copied: they are collected again in this module, where the ``db``,
``app`` and ``client`` fixtures below replace the direct ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar

from anima.app import create_app
from anima.db.engine import Database, create_engine, split_pooler
from anima.identity.rate_limit import RateLimits
from tests.integration.test_isolation_properties import (  # noqa: F401  (collected here again)
    tenants,
    test_no_response_carries_another_tenants_data,
    test_raw_sql_across_schemas_is_denied,
)
from tests.integration.test_tenancy import (  # noqa: F401  (collected here again)
    test_one_pooled_connection_never_carries_a_scope_into_the_next_transaction,
    test_raw_sql_naming_another_tenant_schema_is_denied,
)


@pytest.fixture(scope="module")
async def db(session_database: Database, pgbouncer, settings) -> AsyncIterator[Database]:
    """The test database with its app role reached through PgBouncer: the app engine on a pool of
    four server connections, ``app_url`` (which the interleaving test builds its one-connection
    engine from) on the alias with a single server connection."""
    db = session_database
    pooled_url = db.app_url.set(host=pgbouncer.host, port=pgbouncer.port).update_query_dict({"anima_pooler": "transaction"})
    direct_url, pooled = split_pooler(pooled_url)
    assert pooled
    app_engine = create_engine(direct_url, settings, transaction_pooler=True)
    # tests that build their own engine from app_url get the pooler's statement-cache setting
    app_url = direct_url.set(database=pgbouncer.single_server_database).update_query_dict({"prepared_statement_cache_size": "0"})
    through = Database(admin=db.admin, app=app_engine, admin_url=db.admin_url, app_url=app_url,
                       database=db.database, prefix=db.prefix)
    try:
        yield through
    finally:
        await app_engine.dispose()


@pytest.fixture(scope="module")
def app(settings, db: Database) -> Litestar:
    return create_app(settings, database=db, rate_limits=RateLimits().scaled(1000))


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_app_engine_really_goes_through_pgbouncer(db: Database, pgbouncer):
    assert db.app.url.port == pgbouncer.port
    async with db.sessionmaker()() as session, session.begin():
        # PgBouncer forwards application_name; the backend sees the pooler's address as client
        assert await session.scalar(sa.text("SELECT current_user")) == db.app_role
        assert await session.scalar(sa.text("SELECT current_database()")) == db.database
    async with db.admin.connect() as conn:
        direct_port = await conn.scalar(sa.text("SELECT inet_server_port()"))
    assert direct_port != pgbouncer.port
