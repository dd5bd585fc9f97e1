"""Stripe Connect behind a small interface: accounts, onboarding links, Checkout and refunds on them.

:class:`ConnectGateway` reuses billing's ``stripe.StripeClient`` (the real SDK; ``STRIPE_API_BASE``
points it at a stub in tests). Every call that creates something carries an ``Idempotency-Key``
derived from Anima's own ids, so a retried request or job never creates twice:

* account: ``anima-connect-account-{tenant_id}``
* Checkout Session: ``anima-checkout-{payment_id}-{attempt}`` (a new attempt only when the last
  session expired)
* refund: ``anima-refund-{payment_id}-{seq}`` (``seq``: the refund's number for that payment, so a
  refund retried after a crash finds the same Stripe refund instead of refunding twice)

Calls on a practice's account pass ``stripe_account`` (the ``Stripe-Account`` header): the charge
is the practice's, the platform takes only ``application_fee_amount``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import stripe

from anima.billing.stripe_client import PaymentProviderError, RedirectSession, gateway_for
from anima.config import Settings


@dataclass(frozen=True)
class AccountState:
    """What Anima keeps of a Connect account: flags, what Stripe still needs, and the derived state."""

    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    currently_due: tuple[str, ...]
    disabled_reason: str | None

    @property
    def state(self) -> str:
        """``enabled`` (charges and payouts on), ``restricted`` (Stripe disabled it, or details were
        submitted and charges are still off) or ``details_needed`` (onboarding not finished)."""
        if self.charges_enabled and self.payouts_enabled and not self.disabled_reason:
            return "enabled"
        if self.disabled_reason and self.disabled_reason != "requirements.pending_verification" and self.details_submitted:
            return "restricted"
        if self.details_submitted and not self.charges_enabled:
            return "restricted"
        return "details_needed"


def account_state(obj: dict[str, Any]) -> AccountState:
    """An :class:`AccountState` from a Stripe account object (an API answer or an event's object).

    Raises:
        ValueError: the object is not an account with an id.
    """
    if not isinstance(obj, dict) or obj.get("object", "account") != "account" or not isinstance(obj.get("id"), str):
        raise ValueError("data.object: not a Stripe account")
    requirements = obj.get("requirements") if isinstance(obj.get("requirements"), dict) else {}
    due = requirements.get("currently_due") if isinstance(requirements.get("currently_due"), list) else []
    reason = requirements.get("disabled_reason")
    return AccountState(
        obj["id"], obj.get("charges_enabled") is True, obj.get("payouts_enabled") is True, obj.get("details_submitted") is True,
        tuple(str(d)[:100] for d in due[:50]), str(reason)[:255] if isinstance(reason, str) and reason else None,
    )


@dataclass(frozen=True)
class PaymentCheckout:
    """A payment-mode Checkout Session opened on a connected account."""

    id: str
    url: str
    expires_at: datetime.datetime | None


class ConnectGateway:
    """Connect calls over the SDK client of :class:`anima.billing.stripe_client.StripeGateway`."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_account(self, *, tenant_id: int, email: str | None) -> AccountState:
        """An Express account for the practice (idempotent per tenant)."""
        params: dict[str, Any] = {"type": "express", "metadata": {"tenant_id": str(tenant_id)}}
        if email:
            params["email"] = email
        try:
            account = await self.client.v1.accounts.create_async(
                params, {"idempotency_key": f"anima-connect-account-{tenant_id}"}  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused to create the account: {exc.user_message or type(exc).__name__}") from None
        return account_state(account.to_dict())

    async def retrieve_account(self, account_id: str) -> AccountState:
        """The account's current state, fetched from Stripe."""
        try:
            account = await self.client.v1.accounts.retrieve_async(account_id)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused to read the account: {exc.user_message or type(exc).__name__}") from None
        return account_state(account.to_dict())

    async def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """A one-time Stripe-hosted onboarding URL (Account Links, ``account_onboarding``)."""
        try:
            link = await self.client.v1.account_links.create_async(
                {"account": account_id, "refresh_url": refresh_url, "return_url": return_url, "type": "account_onboarding"}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the onboarding link: {exc.user_message or type(exc).__name__}") from None
        return link.url

    async def create_payment_checkout(
        self, *, account_id: str, idempotency_key: str, amount_minor: int, currency: str, description: str,
        application_fee_minor: int, metadata: dict[str, str], success_url: str, cancel_url: str,
        extra: dict[str, Any] | None = None,
    ) -> PaymentCheckout:
        """A payment-mode Checkout Session on ``account_id`` for one line of ``amount_minor``;
        ``extra``: more parameters (``payment_intent_data`` merged), e.g. a booking's ``expires_at``."""
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": metadata.get("payment_id"),
            "line_items": [{
                "quantity": 1,
                "price_data": {"currency": currency.lower(), "unit_amount": amount_minor,
                               "product_data": {"name": description or "Payment"}},
            }],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if application_fee_minor > 0:
            params["payment_intent_data"]["application_fee_amount"] = application_fee_minor
        for key, value in (extra or {}).items():
            if key == "payment_intent_data":
                params["payment_intent_data"].update(value)
            else:
                params[key] = value
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params, {"stripe_account": account_id, "idempotency_key": idempotency_key}  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the checkout: {exc.user_message or type(exc).__name__}") from None
        expires = datetime.datetime.fromtimestamp(session.expires_at, datetime.UTC) if getattr(session, "expires_at", None) else None
        return PaymentCheckout(session.id, session.url or "", expires)

    async def refund(self, *, account_id: str, payment_intent: str, amount_minor: int, idempotency_key: str,
                     metadata: dict[str, str]) -> str:
        """Refund ``amount_minor`` of ``payment_intent`` on ``account_id``; returns the refund id."""
        try:
            refund = await self.client.v1.refunds.create_async(
                {"payment_intent": payment_intent, "amount": amount_minor, "metadata": metadata},
                {"stripe_account": account_id, "idempotency_key": idempotency_key},  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the refund: {exc.user_message or type(exc).__name__}") from None
        return refund.id


def connect_gateway_for(settings: Settings) -> ConnectGateway:
    """The Connect gateway of this deployment.

    Raises:
        anima.billing.stripe_client.PaymentsNotConfigured: the Stripe settings are absent (503).
    """
    return ConnectGateway(gateway_for(settings).client)


__all__ = ["AccountState", "ConnectGateway", "PaymentCheckout", "RedirectSession", "account_state", "connect_gateway_for"]
