"""The SQL scripts provisioning sends: a tenant's role, schema and tables, each in one round trip.

Provisioning used to build a tenant's tables with ``metadata.create_all`` (a round trip per
existence check, table and index), re-read the Alembic scripts to stamp the head, and grant the
tenant role ``ON ALL TABLES IN SCHEMA`` — which makes PostgreSQL scan all of ``pg_class``, a
catalog that grows with every tenant's tables. Here the DDL ``create_all`` would emit is recorded
once per process (SQLAlchemy's mock engine, so types, tables, indexes and DDL events are exactly
the metadata's) and sent with the stamp as **one multi-statement script** through the driver's
simple-query protocol. The tenant role's table privileges come from the schema's default
privileges, set before the tables are created (so no ``ON ALL TABLES`` grant is needed), and the
few revocations name their tables.

Identifiers in the scripts are derived from the tenant's numeric id and quoted; no value from a
request reaches them.
"""

from __future__ import annotations

import functools

from sqlalchemy import create_mock_engine
from sqlalchemy.ext.asyncio import AsyncConnection

from anima.db.base import TenantBase
from anima.db.engine import quote_ident


@functools.cache
def tenant_tables_ddl() -> str:
    """Every statement ``TenantBase.metadata.create_all`` would run on an empty schema, joined
    with ``;`` (schema-less names: the caller's ``search_path`` decides the schema)."""
    statements: list[str] = []

    def record(sql, *multiparams, **params):  # noqa: ANN001, ANN002, ANN003, ARG001
        statements.append(str(sql.compile(dialect=engine.dialect)).strip())

    engine = create_mock_engine("postgresql+asyncpg://", record)
    TenantBase.metadata.create_all(engine, checkfirst=False)
    return ";\n".join(statements)


def role_script(role: str, app_role: str) -> str:
    """Create the tenant's NOLOGIN NOINHERIT role if missing and grant it to the app role."""
    literal = role.replace("'", "''")
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{literal}') THEN "
        f"CREATE ROLE {quote_ident(role)} NOLOGIN NOINHERIT; END IF; END $$;\n"
        f"GRANT {quote_ident(role)} TO {quote_ident(app_role)}"
    )


def schema_script(schema: str, role: str) -> str:
    """Create the schema closed to PUBLIC, usable by the role, with default privileges so every
    table and sequence the admin role creates in it is readable and writable by that role only."""
    s, r = quote_ident(schema), quote_ident(role)
    return ";\n".join([
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}",
    ])


def tables_script(schema: str, role: str, head: str) -> str:
    """Create every tenant table in ``schema``, stamp ``head`` in its ``alembic_version`` (as
    Alembic would) and narrow the role's privileges where a table must be read-only or append-only.

    Runs after :func:`schema_script` in the same database (the default privileges grant the rest).
    """
    s, r = quote_ident(schema), quote_ident(role)
    revision = head.replace("'", "''")
    return ";\n".join([
        f"SET LOCAL search_path TO {s}",
        tenant_tables_ddl(),
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        f"INSERT INTO alembic_version (version_num) VALUES ('{revision}')",
        # the version table is Alembic's, not the tenant's: it may read it, never change it
        f"REVOKE INSERT, UPDATE, DELETE ON {s}.alembic_version FROM {r}",
        # the audit trail is append-only; data keys are written by the admin engine only
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit_events FROM {r}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.data_keys FROM {r}",
    ])


async def run_script(conn: AsyncConnection, script: str) -> None:
    """Send a multi-statement ``script`` in one round trip, inside ``conn``'s open transaction.

    The caller must already have run a statement in the transaction (so the driver has begun it).
    """
    raw = await conn.get_raw_connection()
    await raw.driver_connection.execute(script)  # type: ignore[union-attr]
