"""Every model of the application, imported so both metadata objects are complete.

Platform models are listed here (they are few and fixed). Domain models are discovered: every
``anima.domains.<name>.models`` module is imported, so adding a domain never edits this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import anima.domains
from anima.crypto import models as crypto_models  # noqa: F401  (data_keys)
from anima.events import models as event_models  # noqa: F401  (outbox_events, job_failures)
from anima.db.base import PlatformBase, TenantBase
from anima.billing import models as billing_models  # noqa: F401
from anima.identity import models as identity_models  # noqa: F401
from anima.mail import outbox  # noqa: F401
from anima.tenancy import models as tenancy_models  # noqa: F401


def _import_domain_models() -> list[str]:
    found = []
    for info in pkgutil.iter_modules(anima.domains.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"anima.domains.{info.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"anima.domains.{info.name}.models":
                    raise
                continue
            found.append(info.name)
    return found


DOMAINS_WITH_MODELS = _import_domain_models()

__all__ = ["DOMAINS_WITH_MODELS", "PlatformBase", "TenantBase"]
