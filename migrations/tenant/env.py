"""Alembic environment applied to every tenant schema.

Run through ``anima tenants migrate`` (:func:`anima.tenancy.migrations.migrate_tenants`), which
passes an open connection already inside a transaction whose ``search_path`` is the tenant's
schema, and the schema name in ``config.attributes["tenant_schema"]``. Each tenant records its own
revision in ``<schema>.alembic_version``. Migrations use unqualified table names.
"""

from alembic import context

from anima.models import TenantBase

config = context.config
connection = config.attributes.get("connection")
schema = config.attributes.get("tenant_schema")
if connection is None or schema is None:
    raise RuntimeError("run tenant migrations with `anima tenants migrate`; this environment needs a connection and a schema")



def include_name(name, type_, parent_names):  # noqa: ANN001, ANN201
    return not (type_ == "table" and name == "alembic_version")


context.configure(
    connection=connection,
    target_metadata=TenantBase.metadata,
    version_table_schema=schema,
    include_schemas=False,
    include_name=include_name,
    transaction_per_migration=False,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
