"""Stripe behind a small interface: customers, Checkout Sessions, Customer Portal sessions, webhooks.

:class:`StripeGateway` uses the official ``stripe`` SDK (``StripeClient``, async calls over its
HTTPX client). Its API base comes from ``STRIPE_API_BASE`` (the SDK's ``base_addresses["api"]``),
which tests point at a local stub server, so the real SDK is exercised end to end.

:func:`gateway_for` returns the gateway, or raises :class:`PaymentsNotConfigured` (503 problem)
when the Stripe settings are absent: the platform runs without payments, and says so clearly.
Webhook signatures are verified with the SDK's ``stripe.WebhookSignature.verify_header`` (what
``stripe.Webhook.construct_event`` runs first: HMAC-SHA256 of
``"<timestamp>.<payload>"``, timestamp tolerance :data:`WEBHOOK_TOLERANCE` seconds).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import stripe

from anima.config import Settings
from anima.problems import Problem

#: seconds a webhook's signed timestamp may differ from now (Stripe's default)
WEBHOOK_TOLERANCE = 300


class PaymentsNotConfigured(Problem):
    """503: the Stripe settings are not present on this deployment."""

    status, kind, title = 503, "payments-not-configured", "Payments are not configured"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        super().__init__(
            detail
            or "Payments are not configured on this Anima deployment (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, "
            "STRIPE_PRICE_PRO and STRIPE_PRICE_CENTER are unset). A platform operator can still change the tier.",
            **kw,
        )


class PaymentProviderError(Problem):
    """502: Stripe refused or could not be reached; nothing was changed on our side."""

    status, kind, title = 502, "payment-provider-error", "Payment provider error"


class InvalidWebhook(Problem):
    """400: a webhook whose signature, timestamp or payload is not acceptable."""

    status, kind, title = 400, "invalid-webhook", "Invalid webhook"


@dataclass(frozen=True)
class RedirectSession:
    """A Stripe-hosted page to send the owner to (Checkout or the Customer Portal)."""

    id: str
    url: str


class PaymentGateway(Protocol):
    """What billing needs from a payment provider."""

    async def create_customer(self, *, tenant_id: int, email: str | None, name: str) -> str:
        """Create a customer for the tenant; returns its id."""
        ...

    async def create_checkout_session(
        self, *, customer_id: str, price_id: str, tenant_id: int, tier: str, success_url: str, cancel_url: str
    ) -> RedirectSession:
        """A subscription-mode Checkout Session for ``price_id``."""
        ...

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> RedirectSession:
        """A Customer Portal session where the owner manages the subscription."""
        ...


class StripeGateway:
    """:class:`PaymentGateway` over the ``stripe`` SDK.

    Args:
        settings: must have the Stripe settings (see :attr:`Settings.payments_configured`).
    """

    def __init__(self, settings: Settings) -> None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.settings = settings
        self.client = stripe.StripeClient(
            settings.stripe_secret_key or "",
            base_addresses=base,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=20),
            max_network_retries=1,
        )

    async def create_customer(self, *, tenant_id: int, email: str | None, name: str) -> str:
        params: dict[str, Any] = {"name": name, "metadata": {"tenant_id": str(tenant_id)}}
        if email:
            params["email"] = email
        try:
            customer = await self.client.v1.customers.create_async(
                params, {"idempotency_key": f"anima-customer-{tenant_id}"}  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused to create the customer: {exc.user_message or type(exc).__name__}") from None
        return customer.id

    async def create_checkout_session(
        self, *, customer_id: str, price_id: str, tenant_id: int, tier: str, success_url: str, cancel_url: str
    ) -> RedirectSession:
        metadata = {"tenant_id": str(tenant_id), "tier": tier}
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(tenant_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            session = await self.client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the checkout: {exc.user_message or type(exc).__name__}") from None
        return RedirectSession(session.id, session.url or "")

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> RedirectSession:
        try:
            session = await self.client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the portal session: {exc.user_message or type(exc).__name__}") from None
        return RedirectSession(session.id, session.url)


def gateway_for(settings: Settings) -> StripeGateway:
    """The Stripe gateway of this deployment.

    Raises:
        PaymentsNotConfigured: the Stripe settings are absent.
    """
    if not settings.payments_configured:
        raise PaymentsNotConfigured()
    return _gateway(settings)


@lru_cache(maxsize=4)
def _gateway(settings: Settings) -> StripeGateway:
    """One gateway (and one pooled HTTP client) per configuration, reused across requests."""
    return StripeGateway(settings)


def _signed_at(header: str) -> int:
    """The ``t=`` timestamp of a header the SDK has already verified."""
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "t" and value.strip().isdigit():
            return int(value)
    return 0


def verify_webhook(payload: bytes, signature: str | None, settings: Settings) -> dict[str, Any]:
    """Verify a webhook's ``Stripe-Signature`` with the SDK and return the event as a plain dict.

    Raises:
        PaymentsNotConfigured: no webhook secret.
        InvalidWebhook: missing/wrong signature, timestamp outside the tolerance, or a body that is
            not a JSON object.
    """
    if not settings.payments_configured or not settings.stripe_webhook_secret:
        raise PaymentsNotConfigured()
    if not signature:
        raise InvalidWebhook("the Stripe-Signature header is missing", errors=[
            {"field": "Stripe-Signature", "rule": "required", "message": "the request is not signed"}])
    try:
        # the verification half of stripe.Webhook.construct_event; we parse the JSON ourselves so a
        # well-signed but malformed body is a clean 400, not an SDK object-building error
        stripe.WebhookSignature.verify_header(payload, signature, settings.stripe_webhook_secret, WEBHOOK_TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise InvalidWebhook(
            "the Stripe-Signature does not match the payload, or its timestamp is outside the tolerance",
            errors=[{"field": "Stripe-Signature", "rule": "signature", "message": "no valid signature within tolerance"}],
        ) from None
    if _signed_at(signature) > time.time() + WEBHOOK_TOLERANCE:  # the SDK checks only the past side
        raise InvalidWebhook(
            "the Stripe-Signature timestamp is in the future beyond the tolerance",
            errors=[{"field": "Stripe-Signature", "rule": "signature", "message": "no valid signature within tolerance"}],
        )
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidWebhook("the payload is not JSON", errors=[
            {"field": "body", "rule": "json", "message": "not a JSON document"}]) from None
    if not isinstance(event, dict):
        raise InvalidWebhook("the payload is not a JSON object", errors=[
            {"field": "body", "rule": "object", "message": "an event object is expected"}])
    return event
