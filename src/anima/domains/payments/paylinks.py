"""The public pay link of a payment request, for what is sent to the patient.

A link is offered only while the request is PENDING and the practice takes card payments (its
Connect account is ``enabled``); otherwise the email says how to pay at the practice. The account
lives in the platform schema, which a tenant transaction cannot read, so :func:`pay_url` reads it
in a short transaction of its own on the same engine (before or beside the tenant's).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.payments.connect import get_account
from anima.domains.payments.models import PaymentRequest
from anima.tenancy.transaction import TenantTransaction


def pay_path(slug: str, payment: PaymentRequest) -> str | None:
    """``/api/v1/pay/{slug}/{token}`` while ``payment`` is PENDING, else None."""
    if payment.status != "PENDING" or not payment.pay_token:
        return None
    return f"/api/v1/pay/{slug}/{payment.pay_token}"


async def payments_on(job: TenantTransaction) -> bool:
    """Whether the job's practice takes card payments now (its connected account is ``enabled``),
    read from the platform in a separate read-only transaction."""
    async with AsyncSession(job.session.bind) as platform:
        account = await get_account(platform, job.tenant.id)
        enabled = account is not None and account.state == "enabled"
        await platform.rollback()
    return enabled


async def pay_url(job: TenantTransaction, payment: PaymentRequest) -> str | None:
    """The absolute pay link of ``payment`` (on the deployment's ``public_url``), or None when it is
    not PENDING or the practice does not take card payments."""
    path = pay_path(job.tenant.slug, payment)
    if path is None or not await payments_on(job):
        return None
    return job.public_url.rstrip("/") + path
