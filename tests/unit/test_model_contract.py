"""The two-metadata contract of the README's "Tenancy" (src/anima/db/base.py, src/anima/models.py).

* every platform table lives in schema ``platform``; every tenant table has no schema;
* no table name is on both sides; no foreign key leads from ``platform`` into a tenant table
  (nor from a tenant table out of its own schema: tenant schemas stay self-contained, which Citus
  schema-based sharding and crypto-shredding by ``DROP SCHEMA`` rely on);
* every table defined anywhere in the ``anima`` package belongs to exactly one of the two, and
  ``import anima.models`` alone (what both Alembic environments do) registers every one of them.

The check that the tenant migrations build exactly this metadata needs the database:
tests/integration/test_migrations_match_models.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

import anima
from anima.db.base import PLATFORM_SCHEMA, PlatformBase, TenantBase
from anima.models import DOMAINS_WITH_MODELS

#: modules with side effects at import (anima.asgi builds the app from the environment)
SKIP_MODULES = {"anima.asgi", "anima.__main__"}


def import_every_anima_module() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(anima.__path__, "anima."):
        if info.name in SKIP_MODULES:
            continue
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def tables_defined_in_anima() -> dict[str, sa.Table]:
    """Every Table reachable from anima: module globals, mapped classes, and mappers of anima's bases.

    Keyed by ``"<defining place>:<table fullname>"`` so a duplicate definition shows up twice.
    """
    found: dict[str, sa.Table] = {}
    for name in import_every_anima_module():
        module = sys.modules[name]
        for attr, value in vars(module).items():
            if isinstance(value, sa.Table):
                found[f"{name}.{attr}:{value.fullname}"] = value
            elif isinstance(value, type) and value.__module__ == name and hasattr(value, "__table__"):
                table = value.__table__
                if isinstance(table, sa.Table):
                    found[f"{name}.{attr}:{table.fullname}"] = table
    for cls in _subclasses(DeclarativeBase):
        if not cls.__module__.startswith("anima."):
            continue
        for mapper in cls.registry.mappers:
            for table in mapper.tables:
                if isinstance(table, sa.Table):
                    found[f"{mapper.class_.__module__}.{mapper.class_.__name__}:{table.fullname}"] = table
    return found


def test_platform_tables_are_in_schema_platform() -> None:
    assert PlatformBase.metadata.tables, "no platform tables registered"
    for key, table in PlatformBase.metadata.tables.items():
        assert table.schema == PLATFORM_SCHEMA == "platform", key
        assert key == f"platform.{table.name}"


def test_tenant_tables_have_no_schema() -> None:
    assert TenantBase.metadata.tables, "no tenant tables registered"
    assert TenantBase.metadata.schema is None
    for key, table in TenantBase.metadata.tables.items():
        assert table.schema is None, f"tenant table {key} names schema {table.schema!r}"
        assert key == table.name
        assert not table.name.startswith("pg_")


def test_no_table_name_on_both_sides() -> None:
    platform_names = {t.name for t in PlatformBase.metadata.tables.values()}
    tenant_names = {t.name for t in TenantBase.metadata.tables.values()}
    assert not platform_names & tenant_names


def test_no_foreign_key_from_platform_into_a_tenant_table() -> None:
    tenant_tables = set(TenantBase.metadata.tables.values())
    for table in PlatformBase.metadata.tables.values():
        for fk in table.foreign_keys:
            target = fk.column.table
            assert target not in tenant_tables, f"{table.fullname} -> {fk.target_fullname}"
            assert target.schema == "platform", f"{table.fullname} -> {fk.target_fullname}"
            assert target in PlatformBase.metadata.tables.values()


def test_tenant_foreign_keys_stay_inside_the_tenant_schema() -> None:
    tenant_tables = set(TenantBase.metadata.tables.values())
    for table in tenant_tables:
        for fk in table.foreign_keys:
            target = fk.column.table
            assert target in tenant_tables, f"{table.name} -> {fk.target_fullname} leaves the tenant schema"
            assert target.schema is None


def test_every_table_in_anima_belongs_to_exactly_one_side() -> None:
    tables = tables_defined_in_anima()
    assert tables
    platform = set(PlatformBase.metadata.tables.values())
    tenant = set(TenantBase.metadata.tables.values())
    for where, table in tables.items():
        sides = [side for side, members in (("platform", platform), ("tenant", tenant)) if table in members]
        assert len(sides) == 1, f"{where} belongs to {sides or 'neither metadata'}"
        assert table.metadata in (PlatformBase.metadata, TenantBase.metadata), where


def test_every_mapped_anima_class_derives_from_exactly_one_base() -> None:
    import_every_anima_module()
    mapped = [
        cls
        for cls in _subclasses(DeclarativeBase)
        if cls.__module__.startswith("anima.") and not cls.__dict__.get("__abstract__", False)
    ]
    assert mapped
    for cls in mapped:
        bases = [b for b in (PlatformBase, TenantBase) if issubclass(cls, b)]
        assert len(bases) == 1, f"{cls.__module__}.{cls.__name__} derives from {bases or 'neither base'}"


def test_import_anima_models_alone_registers_every_table() -> None:
    """What the Alembic environments see (``import anima.models`` in a fresh interpreter) must be
    every table the package defines; a model module nobody imports would be missed by migrations."""
    tables = tables_defined_in_anima()
    defined = sorted({t.fullname for t in tables.values()})
    script = (
        "import json, anima.models as m; "
        "print(json.dumps(sorted(list(m.PlatformBase.metadata.tables) + list(m.TenantBase.metadata.tables))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    registered = json.loads(out.stdout.strip().splitlines()[-1])
    missing = sorted(set(defined) - set(registered))
    assert not missing, f"defined in anima but not registered by `import anima.models`: {missing}"


def test_domains_with_models_are_discovered() -> None:
    import anima.domains

    packages = {i.name for i in pkgutil.iter_modules(anima.domains.__path__) if i.ispkg}
    with_models = {
        name for name in packages if importlib.util.find_spec(f"anima.domains.{name}.models") is not None
    }
    assert set(DOMAINS_WITH_MODELS) == with_models
