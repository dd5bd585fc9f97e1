"""Domains of the tenant workspace; each is a package ``anima.domains.<name>``.

Domains are discovered, never listed: :func:`import_domain_modules` imports one kind of module
(``models``, ``controllers``) from every domain that has it, in name order.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def import_domain_modules(kind: str) -> list[ModuleType]:
    """Import ``anima.domains.<name>.<kind>`` for every domain package that has one.

    Raises:
        ModuleNotFoundError: only when a module that exists fails on a missing import of its own.
    """
    modules: list[ModuleType] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        name = f"{__name__}.{info.name}.{kind}"
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules
