"""Alembic environment of the shared ``platform`` schema.

Run through ``anima migrate`` (or :func:`anima.tenancy.migrations.upgrade_platform`), which passes an
open connection in ``config.attributes["connection"]``. The version table lives in ``platform``.
"""

from alembic import context

from anima.models import PlatformBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run platform migrations with `anima migrate`; this environment needs an open connection")


def include_name(name, type_, parent_names):  # noqa: ANN001, ANN201
    if type_ == "schema":
        return name == "platform"
    return not (type_ == "table" and name == "alembic_version")


context.configure(
    connection=connection,
    target_metadata=PlatformBase.metadata,
    version_table_schema="platform",
    include_schemas=True,
    include_name=include_name,
    transaction_per_migration=False,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
