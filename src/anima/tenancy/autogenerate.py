"""Writing a new migration revision by comparing the models with a scratch database at head.

Used by ``anima migrations revision platform|tenant -m MESSAGE``: a scratch database is created,
the side's migrations are applied to it, Alembic's autogenerate compares it with the metadata and
writes the revision file, and the scratch database is dropped. Review every generated file.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from anima.db.engine import Database, ensure_database_exists, create_engine, quote_ident
from anima.config import Settings
from anima.tenancy.migrations import alembic_config

SCRATCH_SCHEMA = "tenant_autogenerate"


async def write_revision(db: Database, settings: Settings, side: str, message: str) -> str:
    """Autogenerate a revision for ``side`` ("platform" or "tenant"); returns the new file's path."""
    scratch_name = f"anima_autogen_{secrets.token_hex(4)}"
    scratch_url = db.admin_url.set(database=scratch_name)
    await ensure_database_exists(scratch_url)
    engine = create_engine(scratch_url, settings, pool_size=1)
    cfg = alembic_config(side)
    paths: list[str] = []

    def _run(conn: Connection) -> None:
        if side == "platform":
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS platform"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        else:
            conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(SCRATCH_SCHEMA)}"))
            conn.execute(sa.text(f"SET search_path TO {quote_ident(SCRATCH_SCHEMA)}"))
            cfg.attributes["connection"] = conn
            cfg.attributes["tenant_schema"] = SCRATCH_SCHEMA
            command.upgrade(cfg, "head")
        script = command.revision(cfg, message=message, autogenerate=True)
        scripts = script if isinstance(script, list) else [script]
        paths.extend(s.path for s in scripts if s is not None)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()
        server = db.admin.execution_options(isolation_level="AUTOCOMMIT")
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch_name}"'))
    return ordered_name(paths[0]) if paths else ""


def ordered_name(path: str) -> str:
    """Rename a new revision file to ``NNNN_<slug>.py`` (the next number), so files sort in apply order.

    Alembic names files after the random revision id; the number prefix makes the directory list
    in the order the revisions apply (a test checks it). Returns the new path.
    """
    import pathlib
    import re

    file = pathlib.Path(path)
    taken = [int(m.group(1)) for f in file.parent.glob("*.py") if (m := re.match(r"^(\d{4})_", f.name))]
    slug = file.stem.split("_", 1)[1] if "_" in file.stem else file.stem
    target = file.with_name(f"{max(taken, default=0) + 1:04d}_{slug}.py")
    file.rename(target)
    return str(target)
