"""Engines, roles and connection hygiene.

Two engines reach the same database:

* the **admin engine** logs in as the ``DATABASE_URL`` role. It creates schemas and roles, runs
  migrations and provisions tenants. Requests never use it.
* the **app engine** logs in as ``<db>_app``, a role created by :func:`ensure_app_role`: LOGIN,
  NOINHERIT, no superuser. It holds privileges on the ``platform`` schema and membership (without
  inheritance) in every tenant role, so it reaches a tenant's tables only after a
  transaction-local ``set_config('role', …, true)`` (see :mod:`anima.tenancy.scope`).

Role names are prefixed by the database name (:func:`role_prefix`) because PostgreSQL roles are
cluster-wide: two Anima databases on one server (tests, staging) never share a tenant role.
The app role's password is derived from ``ANIMA_SECRET_KEY`` (HMAC-SHA256), so one secret
configures both logins.

Behind a transaction pooler (PgBouncer ``pool_mode = transaction``) add
``?anima_pooler=transaction`` to ``DATABASE_URL``: both engines then run without statement caches
and with uniquely named prepared statements (:func:`pooler_connect_args`). Scoping needs nothing
more: it is transaction-local.

A pooled connection is replaced after ``ANIMA_DB_CONNECTION_MAX_USES`` checkouts: PostgreSQL
caches the catalog entries of every relation a backend touches, and a connection that served
thousands of tenants would otherwise hold thousands of tables' entries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event, exc, make_url
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from anima.config import Settings
from anima.db.embedded import start_embedded_postgres
from anima.logs import get_logger

log = get_logger(__name__)

EMBEDDED_DATABASE = "anima"


def to_asyncpg_url(url: str | URL) -> URL:
    """Return ``url`` with the ``postgresql+asyncpg`` driver."""
    parsed = make_url(str(url).replace("postgres://", "postgresql://", 1)) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql+asyncpg")


def role_prefix(database: str) -> str:
    """The prefix of every role Anima creates for ``database``: lowercase ``[a-z0-9_]``, at most 30."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", database.lower())[:30]
    return cleaned or "anima"


def app_role_password(secret_key: str, database: str) -> str:
    """The app login role's password: hex HMAC-SHA256 of the database name under the secret key."""
    return hmac.new(secret_key.encode(), f"anima-app-role:{database}".encode(), hashlib.sha256).hexdigest()


def _install_max_uses(engine: AsyncEngine, max_uses: int) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:  # noqa: ARG001
        uses = record.info.get("anima_uses", 0) + 1
        record.info["anima_uses"] = uses
        if uses > max_uses:
            # the documented way to have the pool discard this connection and retry with a new one
            raise exc.DisconnectionError("connection reached its maximum number of uses")


@dataclass
class Database:
    """The engines of one process and the names derived from the database.

    Attributes:
        admin: engine of the DATABASE_URL role (DDL, migrations, provisioning).
        app: engine of the NOINHERIT application role (every request and job).
        database: the database name.
        prefix: the role prefix (see :func:`role_prefix`).
    """

    admin: AsyncEngine
    app: AsyncEngine
    admin_url: URL
    app_url: URL
    database: str
    prefix: str

    @property
    def app_role(self) -> str:
        return f"{self.prefix}_app"

    def sessionmaker(self) -> async_sessionmaker:
        """A session factory on the app engine; sessions do not expire objects on commit."""
        return async_sessionmaker(self.app, expire_on_commit=False)

    async def dispose(self) -> None:
        await self.app.dispose()
        await self.admin.dispose()


async def ensure_database_exists(admin_url: URL) -> None:
    """Create ``admin_url.database`` if missing (connecting to the ``postgres`` database)."""
    server = create_async_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        async with server.connect() as conn:
            exists = await conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": admin_url.database})
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{admin_url.database}"'))
                log.info("database created", database=admin_url.database)
    finally:
        await server.dispose()


async def ensure_app_role(admin: AsyncEngine, *, role: str, password: str) -> None:
    """Create or update the app login role: LOGIN NOINHERIT, no superuser, with ``password``.

    Idempotent; safe under concurrent callers (the DO block catches a duplicate role).
    """
    async with admin.begin() as conn:
        await conn.execute(
            sa.text(
                f"""
                DO $$
                BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    BEGIN
                      CREATE ROLE "{role}" LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
                    EXCEPTION WHEN duplicate_object THEN NULL;
                    END;
                  END IF;
                END $$;
                """
            )
        )
        await conn.execute(sa.text(f"ALTER ROLE \"{role}\" LOGIN NOINHERIT PASSWORD '{password}'"))
        await conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{admin.url.database}" TO "{role}"'))


#: the URL query parameter that says the URL points at a transaction pooler (PgBouncer
#: ``pool_mode = transaction``); removed before the driver sees the URL
POOLER_PARAMETER = "anima_pooler"


def pooler_connect_args() -> dict[str, Any]:
    """asyncpg settings for a transaction pooler: no statement cache, and prepared statements
    named uniquely, since consecutive transactions of one client may meet different server
    connections (and one server connection serves many clients)."""
    return {"statement_cache_size": 0, "prepared_statement_name_func": lambda: f"__anima_{uuid.uuid4().hex}__"}


def split_pooler(url: URL) -> tuple[URL, bool]:
    """``url`` without :data:`POOLER_PARAMETER`, and whether it named a transaction pooler
    (``?anima_pooler=transaction``)."""
    mode = url.query.get(POOLER_PARAMETER)
    if mode is None:
        return url, False
    return url.difference_update_query([POOLER_PARAMETER]), mode == "transaction"


def create_engine(
    url: URL, settings: Settings, *, pool_size: int | None = None, transaction_pooler: bool = False
) -> AsyncEngine:
    """An asyncpg engine with bounded connection reuse; with ``transaction_pooler``, the driver
    settings a transaction pooler needs (:func:`pooler_connect_args`, and SQLAlchemy's own
    prepared-statement cache off)."""
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "anima"}}
    if transaction_pooler:
        connect_args.update(pooler_connect_args())
        url = url.update_query_dict({"prepared_statement_cache_size": "0"})
    engine = create_async_engine(
        url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=pool_size or settings.db_pool_size,
        pool_pre_ping=False,
        pool_recycle=3600,
        connect_args=connect_args,
    )
    _install_max_uses(engine, settings.db_connection_max_uses)
    return engine


async def open_database(settings: Settings, *, database: str | None = None) -> Database:
    """Start the embedded server if needed, make sure the database and app role exist, build engines.

    Args:
        settings: the process settings.
        database: override the database name (tests use a database of their own).

    Returns:
        Database: both engines. Call :meth:`Database.dispose` when done.
    """
    if settings.database_url is None:
        raw = start_embedded_postgres(settings.data_dir)
        admin_url = to_asyncpg_url(raw).set(database=database or EMBEDDED_DATABASE)
    else:
        admin_url = to_asyncpg_url(settings.database_url)
        if database is not None:
            admin_url = admin_url.set(database=database)
    admin_url, pooled = split_pooler(admin_url)
    await ensure_database_exists(admin_url)
    dbname = admin_url.database or "anima"
    prefix = role_prefix(dbname)
    admin = create_engine(admin_url, settings, pool_size=max(2, settings.migration_concurrency), transaction_pooler=pooled)
    app_role = f"{prefix}_app"
    password = app_role_password(settings.secret_key, dbname)
    await ensure_app_role(admin, role=app_role, password=password)
    app_url = admin_url.set(username=app_role, password=password)
    app = create_engine(app_url, settings, transaction_pooler=pooled)
    return Database(admin=admin, app=app, admin_url=admin_url, app_url=app_url, database=dbname, prefix=prefix)


class _BegunTransaction:
    """Stands in for asyncpg's ``Transaction`` in SQLAlchemy's asyncpg adapter once :func:`begin_with`
    has sent ``BEGIN`` itself: the adapter only ever awaits ``commit()`` or ``rollback()`` on it."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def commit(self) -> None:
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")


async def begin_with(session: AsyncSession, statements: str) -> str | None:
    """Start ``session``'s transaction with ``BEGIN; <statements>`` in **one** round trip.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` as a round trip of its own before the first
    statement of a transaction. Here ``BEGIN`` and ``statements`` go as one simple-protocol query
    (PostgreSQL runs a multi-statement query string in order; after ``BEGIN`` the rest belongs to
    the transaction), and the adapter is told its transaction has begun, so its next statement
    sends no ``BEGIN`` and its commit or rollback ends this transaction as usual.

    ``statements`` is sent as text, without parameters: the caller must build it from values it
    has validated or quoted itself. The simple protocol returns no rows, only the last
    command's status, e.g. ``SELECT 1``.

    Returns:
        The status of the last statement, or None when the transaction had already begun on the
        connection or the driver is not SQLAlchemy's asyncpg adapter (the caller then uses its
        ordinary path; nothing was sent).
    """
    connection = await session.connection()
    adapter = (await connection.get_raw_connection()).dbapi_connection
    if not all(hasattr(adapter, a) for a in ("_started", "_transaction", "_execute_mutex", "_connection")):
        return None
    async with adapter._execute_mutex:
        if adapter._started or adapter._connection.is_in_transaction():
            return None
        try:
            status = await adapter._connection.execute("BEGIN;" + statements)
        except Exception as error:  # noqa: BLE001 - translated to SQLAlchemy's exceptions by the adapter
            if adapter._connection.is_in_transaction():
                adapter._transaction, adapter._started = _BegunTransaction(adapter._connection), True
            adapter._handle_exception(error)
        adapter._transaction, adapter._started = _BegunTransaction(adapter._connection), True
    return status


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier (doubling embedded quotes)."""
    return '"' + name.replace('"', '""') + '"'


__all__ = [
    "Database",
    "begin_with",
    "app_role_password",
    "create_engine",
    "ensure_app_role",
    "open_database",
    "pooler_connect_args",
    "split_pooler",
    "quote",
    "quote_ident",
    "role_prefix",
    "to_asyncpg_url",
]
