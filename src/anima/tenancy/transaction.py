"""What code working inside one tenant outside a request holds: its scoped session, the tenant, a cipher.

Made by :func:`anima.jobs.runner.tenant_transaction` (the one way a job enters a tenant) and
handed to domain code that runs in jobs (the playbook engine, monitors), which therefore never
depends on the job runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.tenancy.scope import ScopedTenant


@dataclass
class TenantTransaction:
    """A transaction entered into one tenant: ``session`` (scoped), ``tenant``, its field ``cipher``
    and the deployment's ``public_url`` (for links in what it sends)."""

    session: AsyncSession
    tenant: ScopedTenant
    cipher: FieldCipher
    public_url: str = ""
