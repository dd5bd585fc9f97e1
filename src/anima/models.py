"""Every model of the application, imported so both metadata objects are complete.

Platform models are listed here (they are few and fixed). Domain models are discovered: every
``anima.domains.<name>.models`` module is imported, so adding a domain never edits this file.
"""

from __future__ import annotations

from anima.crypto import models as crypto_models  # noqa: F401  (data_keys)
from anima.events import models as event_models  # noqa: F401  (outbox_events)
from anima.events import due_work as due_work_models  # noqa: F401  (tenant_work)
from anima.jobs import models as job_models  # noqa: F401  (job_failures)
from anima.db.base import PlatformBase, TenantBase
from anima.domains import import_domain_modules
from anima.billing import models as billing_models  # noqa: F401
from anima.identity import models as identity_models  # noqa: F401
from anima.mail import messages as mail_models  # noqa: F401  (email_outbox)
from anima.mail import failures as mail_failure_models  # noqa: F401  (mail_failures)
from anima.mail import domains as mail_domain_models  # noqa: F401  (mail_from_domains)
from anima.tenancy import models as tenancy_models  # noqa: F401


DOMAINS_WITH_MODELS = [m.__name__.split(".")[2] for m in import_domain_modules("models")]

from anima.jobs import tick_due  # noqa: E402,F401  (flush listener keeping the tick's due-work row)

__all__ = ["DOMAINS_WITH_MODELS", "PlatformBase", "TenantBase"]
