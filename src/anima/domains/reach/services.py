"""Opt-outs from marketing emails: record one (from a signed unsubscribe link), and ask which
recipients opted out.

:func:`opt_out` and :func:`opted_out` run in a transaction entered into the tenant. Recording is idempotent (the first opt-out's
time and way are kept). Transactional emails never ask.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.reach.models import OPT_OUT_SOURCES, EmailOptOut
from anima.mail.unsubscribe import read_token
from anima.problems import NotFound
from anima.tenancy.models import Tenant
from anima.tenancy.scope import enter_tenant


async def opt_out(session: AsyncSession, recipient_bidx: bytes, source: str) -> bool:
    """Record that the recipient of ``recipient_bidx`` wants no more marketing emails.

    ``source`` is ``page`` or ``one-click``. Returns True when this call recorded it (False: it
    already was). Raises ValueError for another source or a blind index that is not 32 bytes.
    """
    if source not in OPT_OUT_SOURCES or len(recipient_bidx) != 32:
        raise ValueError("an opt-out has a 32-byte blind index and a known source")
    result = await session.execute(
        pg_insert(EmailOptOut).values(recipient_bidx=recipient_bidx, source=source)
        .on_conflict_do_nothing(index_elements=["recipient_bidx"]).returning(EmailOptOut.recipient_bidx)
    )
    return result.first() is not None


async def opted_out(session: AsyncSession, recipient_bidxs: Iterable[bytes]) -> set[bytes]:
    """Which of ``recipient_bidxs`` opted out (one query)."""
    wanted = {b for b in recipient_bidxs if b}
    if not wanted:
        return set()
    rows = await session.execute(sa.select(EmailOptOut.recipient_bidx).where(EmailOptOut.recipient_bidx.in_(wanted)))
    return {bytes(b) for b in rows.scalars()}




async def unsubscribe(session: AsyncSession, secret_key: str, token: str, source: str) -> tuple[str, bool]:
    """Record the opt-out a signed unsubscribe ``token`` names (:mod:`anima.mail.unsubscribe`).

    ``session`` is a platform session (no tenant entered); this enters the token's tenant in the
    same transaction (the caller commits). Returns (the organization's name, whether this call
    recorded it).

    Raises:
        NotFound: the token is not one of ours, or its organization is not active.
    """
    named = read_token(secret_key, token)
    if named is None:
        raise NotFound("this unsubscribe link is not valid")
    tenant = await enter_tenant(session, named.tenant_id)
    if tenant is None:
        raise NotFound("this unsubscribe link is not valid")
    return tenant.name, await opt_out(session, named.recipient_bidx, source)


async def organization_of(session: AsyncSession, secret_key: str, token: str) -> str:
    """The name of the organization a valid ``token`` belongs to (read only).

    Raises:
        NotFound: as :func:`unsubscribe`.
    """
    named = read_token(secret_key, token)
    name = None if named is None else (await session.execute(
        sa.select(Tenant.name).where(Tenant.id == named.tenant_id, Tenant.state == "active"))).scalar_one_or_none()
    if name is None:
        raise NotFound("this unsubscribe link is not valid")
    return name


__all__ = ["opt_out", "opted_out", "organization_of", "unsubscribe"]
