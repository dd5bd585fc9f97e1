"""A practice's Stripe Connect account: onboarding, its state, and whether payments are on.

The account lives in the platform schema (``platform.connected_accounts``, one per tenant) because
Stripe's Connect webhooks arrive outside any tenant and must find the tenant from the account id.
Its state (``details_needed`` → ``enabled`` / ``restricted``, see
:attr:`anima.domains.payments.stripe_connect.AccountState.state`) is refreshed from
``account.updated`` events and on the owner's return from onboarding; each change carries
Stripe's timestamp (``state_at``) and an older one never overwrites a newer one, so events may
arrive in any order.

Payments are **on** for a practice when the deployment has the Stripe settings and the account is
``enabled``; otherwise they are off, and cash and bank transfers are still recorded by staff.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import ConnectedAccount
from anima.config import Settings
from anima.db.base import utcnow
from anima.domains.payments.stripe_connect import AccountState, ConnectGateway

#: what :func:`payments_status` answers besides an account state
NOT_CONFIGURED, NOT_CONNECTED = "not_configured", "not_connected"


async def get_account(session: AsyncSession, tenant_id: int, *, lock: bool = False) -> ConnectedAccount | None:
    """The tenant's connected account, or None (``lock``: FOR UPDATE, in the caller's transaction)."""
    query = sa.select(ConnectedAccount).where(ConnectedAccount.tenant_id == tenant_id)
    return (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()


def payments_status(settings: Settings, account: ConnectedAccount | None) -> str:
    """``not_configured`` (no Stripe settings), ``not_connected``, or the account's state."""
    if not settings.payments_configured:
        return NOT_CONFIGURED
    if account is None:
        return NOT_CONNECTED
    return account.state


async def apply_state(session: AsyncSession, tenant_id: int, state: AccountState, at: datetime.datetime) -> bool:
    """Store ``state`` as of Stripe's time ``at`` unless a newer one is stored; True when applied.

    Ties (same second) are applied too: the account object always carries its full state, so two
    states of the same second are both current as far as Stripe's clock can tell.
    """
    account = await get_account(session, tenant_id, lock=True)
    if account is None or account.stripe_account_id != state.account_id or at < account.state_at:
        return False
    account.charges_enabled = state.charges_enabled
    account.payouts_enabled = state.payouts_enabled
    account.details_submitted = state.details_submitted
    account.currently_due = ",".join(state.currently_due)
    account.disabled_reason = state.disabled_reason
    account.state = state.state
    account.state_at = at
    await session.flush()
    return True


async def start_onboarding(
    session: AsyncSession, gateway: ConnectGateway, *, tenant_id: int, email: str | None, refresh_url: str, return_url: str,
) -> tuple[ConnectedAccount, str]:
    """Create the practice's account on first use (idempotent per tenant) and an onboarding link.

    Returns the account row and the Stripe-hosted onboarding URL to send the owner to.

    Raises:
        anima.billing.stripe_client.PaymentProviderError: Stripe refused (502).
    """
    account = await get_account(session, tenant_id, lock=True)
    if account is None:
        state = await gateway.create_account(tenant_id=tenant_id, email=email)
        await session.execute(
            insert(ConnectedAccount).values(
                tenant_id=tenant_id, stripe_account_id=state.account_id, state=state.state,
                charges_enabled=state.charges_enabled, payouts_enabled=state.payouts_enabled,
                details_submitted=state.details_submitted, currently_due=",".join(state.currently_due),
                disabled_reason=state.disabled_reason, state_at=datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
            ).on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        account = await get_account(session, tenant_id, lock=True)
        assert account is not None
    url = await gateway.onboarding_link(account_id=account.stripe_account_id, refresh_url=refresh_url, return_url=return_url)
    return account, url


async def refresh(session: AsyncSession, gateway: ConnectGateway, tenant_id: int) -> ConnectedAccount | None:
    """Fetch the account from Stripe and store its state as of now (None when not connected).

    What Stripe answers now is the newest state there is, so it is stored as of
    ``max(now, stored state_at)``: an event created earlier and delivered later will not undo it.
    """
    account = await get_account(session, tenant_id)
    if account is None:
        return None
    state = await gateway.retrieve_account(account.stripe_account_id)
    await apply_state(session, tenant_id, state, max(utcnow(), account.state_at))
    return await get_account(session, tenant_id)


async def tenant_of_account(session: AsyncSession, account_id: str) -> int | None:
    """The tenant whose connected account is ``account_id``, or None."""
    return await session.scalar(sa.select(ConnectedAccount.tenant_id).where(ConnectedAccount.stripe_account_id == account_id))
