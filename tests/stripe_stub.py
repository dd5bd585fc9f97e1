"""A tiny local Stripe API of our own, and Stripe-shaped, Stripe-signed webhook events, for tests.

:class:`StripeStub` is a real HTTP server (``http.server`` in a thread on 127.0.0.1, random port)
answering the endpoints Anima calls — ``POST /v1/customers``, ``/v1/checkout/sessions`` (subscription
and payment mode), ``/v1/billing_portal/sessions``, and for Connect ``POST /v1/accounts``,
``GET /v1/accounts/{id}``, ``POST /v1/account_links``, ``POST /v1/refunds``, for booking payments
``POST /v1/checkout/sessions/{id}/expire`` and ``POST /v1/payment_intents`` (off-session charges of a
saved card: ``pm_card_chargeDeclined`` is declined, ``pm_card_authenticationRequired`` needs the
client; any other payment method succeeds), and on the platform ``POST /v1/transfers`` and
``POST /v1/transfers/{id}/reversals`` (a reversal never exceeds what is left of its transfer) — with
the JSON shapes
Stripe documents. A reused ``Idempotency-Key`` (per ``Stripe-Account``) replays the first answer, as
Stripe does. The real ``stripe`` SDK
is pointed at it through its own base-URL setting (``STRIPE_API_BASE`` → ``base_addresses``).
Every request is recorded (path, decoded form fields, headers) for assertions.

For browser tests, :meth:`StripeStub.serve_checkout` makes the stub host Checkout itself: a Checkout
Session's ``url`` is then ``{stub}/c/pay/{session_id}``, a small page with a "Pay" button that, when
posted, sends Anima the Stripe-signed events of a paid subscription (``checkout.session.completed``,
``customer.subscription.created``, ``invoice.paid``) and redirects to the session's ``success_url``
("Cancel" goes to its ``cancel_url``), as Stripe's hosted page does.

:func:`sign` builds ``Stripe-Signature`` exactly as Stripe does:
``t=<unix ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<raw payload>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
import urllib.error
import urllib.request
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_anima_stub_" + "0" * 24
WEBHOOK_SECRET = "whsec_anima_test_secret"
PRICE_PRO = "price_pro_test"
PRICE_CENTER = "price_center_test"


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeStub:
    """The stub server; ``url`` is its base (use as STRIPE_API_BASE)."""

    requests: list[Recorded] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None
    #: Checkout Sessions created, by id (their Stripe-shaped bodies plus the price)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: where the stub's own Checkout page delivers webhooks (None: Checkout URLs stay on checkout.stripe.com)
    webhook_url: str | None = None
    #: (event type, HTTP status of Anima's answer) of every webhook the Checkout page delivered
    delivered: list[tuple[str, int]] = field(default_factory=list)
    #: Connect accounts created, by id (their Stripe-shaped bodies; tests may change them)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: transfers made on the platform, by id (their Stripe-shaped bodies, ``amount_reversed`` kept up to date)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: idempotency key -> the answer first given (Stripe replays the same answer for a reused key)
    idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: PaymentIntents created (off-session charges), by id: each one is one charge of a card
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: where a paid payment-mode Checkout delivers its Connect events (None: ``webhook_url``)
    connect_webhook_url: str | None = None

    def serve_checkout(self, webhook_url: str, connect_webhook_url: str | None = None) -> StripeStub:
        """Host Checkout on the stub (see the module docstring), delivering webhooks to ``webhook_url``
        (payment-mode sessions on a connected account: to ``connect_webhook_url``)."""
        self.webhook_url = webhook_url
        self.connect_webhook_url = connect_webhook_url
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StripeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/v1/accounts/"):
                    stub.requests.append(Recorded("GET", self.path, {}, {k.lower(): v for k, v in self.headers.items()}))
                    if self.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                        return self._send(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                    account = stub.accounts.get(self.path.removeprefix("/v1/accounts/"))
                    if account is None:
                        return self._send(404, {"error": {"type": "invalid_request_error", "message": "No such account"}})
                    return self._send(200, account)
                session = stub.sessions.get(self.path.removeprefix("/c/pay/")) if self.path.startswith("/c/pay/") else None
                if session is None or stub.webhook_url is None:
                    return self._page(404, "<h1>Not found</h1>")
                self._page(200, _checkout_page(session))

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = dict(parse_qsl(raw, keep_blank_values=True))
                stub.requests.append(Recorded("POST", self.path, form, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.startswith("/c/pay/") and stub.webhook_url is not None:
                    return self._pay(self.path.removeprefix("/c/pay/"), form)
                if self.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                    return self._send(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                if self.path.startswith("/v1/transfers/") and self.path.endswith("/reversals"):
                    key = self.headers.get("Idempotency-Key")
                    replay_key = f"|{self.path}|{key}"
                    if key and replay_key in stub.idempotent:
                        return self._send(*stub.idempotent[replay_key])
                    status, body = _reversal(stub, self.path.split("/")[3], form)
                    if key:
                        stub.idempotent[replay_key] = (status, body)
                    return self._send(status, body)
                if self.path.startswith("/v1/checkout/sessions/") and self.path.endswith("/expire"):
                    return self._send(*_expire(stub, self.path.split("/")[4]))
                handler = {
                    "/v1/transfers": _transfer,
                    "/v1/customers": _customer,
                    "/v1/checkout/sessions": _checkout_session,
                    "/v1/billing_portal/sessions": _portal_session,
                    "/v1/accounts": _account,
                    "/v1/account_links": _account_link,
                    "/v1/refunds": _refund,
                    "/v1/payment_intents": _payment_intent,
                }.get(self.path)
                if handler is None:
                    return self._send(404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL (POST: {self.path})"}})
                key = self.headers.get("Idempotency-Key")
                replay_key = f"{self.headers.get('Stripe-Account', '')}|{self.path}|{key}"
                if key and replay_key in stub.idempotent:
                    return self._send(*stub.idempotent[replay_key])
                status, body = handler(form)
                if self.path == "/v1/accounts" and status == 200:
                    stub.accounts[body["id"]] = body
                if self.path == "/v1/transfers" and status == 200:
                    stub.transfers[body["id"]] = body
                if key and self.path in ("/v1/accounts", "/v1/refunds", "/v1/checkout/sessions", "/v1/transfers", "/v1/payment_intents"):
                    stub.idempotent[replay_key] = (status, body)
                if self.path == "/v1/payment_intents":
                    intent = body if status == 200 else body["error"]["payment_intent"]
                    stub.payment_intents[intent["id"]] = {**intent, "account": self.headers.get("Stripe-Account")}
                if self.path == "/v1/checkout/sessions" and status == 200:
                    stub.sessions[body["id"]] = {**body, "price": form.get("line_items[0][price]"),
                                                 "account": self.headers.get("Stripe-Account")}
                    if stub.webhook_url is not None:
                        body["url"] = f"{stub.url}/c/pay/{body['id']}"
                self._send(status, body)

            def _pay(self, session_id: str, form: dict[str, str]) -> None:
                session = stub.sessions.get(session_id)
                if session is None:
                    return self._page(404, "<h1>Not found</h1>")
                if form.get("action") == "cancel":
                    return self._redirect(session["cancel_url"])
                if session.get("status") != "open":
                    return self._page(410, "<h1>This checkout has expired</h1>")
                session["status"] = "complete"
                payment_mode = session.get("mode") == "payment"
                url = (stub.connect_webhook_url or stub.webhook_url or "") if payment_mode else (stub.webhook_url or "")
                for kind, obj in (_payment_paid_events(session) if payment_mode else _paid_events(session)):
                    payload = json.dumps(event(kind, obj, created=int(time.time()), account=session.get("account")))
                    status = _deliver(url, payload)
                    stub.delivered.append((kind, status))
                    if status != 200:
                        return self._page(502, f"<h1>Anima refused the {kind} webhook ({status})</h1>")
                self._redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))

            def _redirect(self, location: str) -> None:
                self.send_response(303)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _page(self, status: int, body: str) -> None:
                data = _PAGE.format(body=body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


def _metadata(form: dict[str, str], prefix: str = "metadata") -> dict[str, str]:
    start = f"{prefix}["
    return {k[len(start):-1]: v for k, v in form.items() if k.startswith(start) and k.endswith("]") and "][" not in k[len(start):]}


def _customer(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    return 200, {
        "id": "cus_" + secrets.token_hex(7),
        "object": "customer",
        "created": int(time.time()),
        "email": form.get("email"),
        "name": form.get("name"),
        "livemode": False,
        "metadata": _metadata(form),
    }


def _checkout_session(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if form.get("mode") == "payment":
        return _payment_checkout_session(form)
    if form.get("mode") != "subscription" or "line_items[0][price]" not in form:
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: line_items."}}
    session_id = "cs_test_" + secrets.token_hex(12)
    return 200, {
        "id": session_id,
        "object": "checkout.session",
        "mode": "subscription",
        "status": "open",
        "payment_status": "unpaid",
        "customer": form.get("customer"),
        "client_reference_id": form.get("client_reference_id"),
        "metadata": _metadata(form),
        "success_url": form.get("success_url"),
        "cancel_url": form.get("cancel_url"),
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "subscription": None,
        "livemode": False,
        "created": int(time.time()),
    }


def _payment_checkout_session(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A payment-mode Checkout Session (one line with inline ``price_data``), as on a connected account."""
    amount = form.get("line_items[0][price_data][unit_amount]", "")
    currency = form.get("line_items[0][price_data][currency]", "")
    if not amount.isdigit() or int(amount) < 1 or len(currency) != 3:
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: line_items[0][price_data]."}}
    session_id = "cs_test_" + secrets.token_hex(12)
    now = int(time.time())
    expires = form.get("expires_at")
    if expires is not None and (not expires.isdigit() or not now + 1800 <= int(expires) <= now + 24 * 3600):
        return 400, {"error": {"type": "invalid_request_error", "param": "expires_at",
                               "message": "The `expires_at` timestamp must be between 30 minutes and 24 hours from creation."}}
    return 200, {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": int(amount),
        "currency": currency,
        "client_reference_id": form.get("client_reference_id"),
        "metadata": _metadata(form),
        "payment_intent": None,
        "application_fee_amount": int(form.get("payment_intent_data[application_fee_amount]") or 0),
        "success_url": form.get("success_url"),
        "cancel_url": form.get("cancel_url"),
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "expires_at": int(form.get("expires_at") or now + 24 * 3600),
        "customer_creation": form.get("customer_creation"),
        "setup_future_usage": form.get("payment_intent_data[setup_future_usage]"),
        "livemode": False,
        "created": now,
    }


def _expire(stub: StripeStub, session_id: str) -> tuple[int, dict[str, Any]]:
    """``POST /v1/checkout/sessions/{id}/expire``: only an open session can be expired."""
    session = stub.sessions.get(session_id)
    if session is None:
        return 404, {"error": {"type": "invalid_request_error", "message": f"No such checkout.session: '{session_id}'"}}
    if session.get("status") != "open":
        return 400, {"error": {"type": "invalid_request_error",
                               "message": f"Only Checkout Sessions with a status in [\"open\"] can be expired; it is {session.get('status')}."}}
    session["status"] = "expired"
    return 200, {k: v for k, v in session.items() if k not in ("price", "account")}


def _payment_intent(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """An off-session PaymentIntent confirmed at once on a saved card (see the module docstring)."""
    amount = form.get("amount", "")
    if not amount.isdigit() or int(amount) < 1 or not form.get("currency") or not form.get("payment_method"):
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: amount."}}
    if form.get("confirm") != "true" or form.get("off_session") != "true":
        return 400, {"error": {"type": "invalid_request_error", "message": "this stub only confirms off-session PaymentIntents"}}
    intent_id = "pi_" + secrets.token_hex(12)
    method = form["payment_method"]
    base = {"id": intent_id, "object": "payment_intent", "amount": int(amount), "currency": form["currency"],
            "customer": form.get("customer"), "payment_method": method, "metadata": _metadata(form),
            "created": int(time.time()), "livemode": False}
    if method in ("pm_card_chargeDeclined", "pm_card_authenticationRequired"):
        code = "card_declined" if method == "pm_card_chargeDeclined" else "authentication_required"
        status = "requires_payment_method" if code == "card_declined" else "requires_action"
        intent = {**base, "status": status, "amount_received": 0}
        return 402, {"error": {"type": "card_error", "code": code, "message": "Your card was declined.", "payment_intent": intent}}
    return 200, {**base, "status": "succeeded", "amount_received": int(amount)}


def _payment_paid_events(session: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Connect events of a paid payment-mode Checkout: the session completed (with a customer
    when one was created), then its PaymentIntent succeeded (with the card kept when asked)."""
    metadata = session.get("metadata", {})
    now, intent = int(time.time()), "pi_" + secrets.token_hex(12)
    saved = session.get("setup_future_usage") == "off_session" or session.get("customer_creation") == "always"
    customer = "cus_" + secrets.token_hex(7) if saved else None
    completed = payment_checkout_completed_object(session["id"], payment_intent=intent, amount=session["amount_total"],
                                                  currency=session["currency"], metadata=metadata, created=now)
    completed["customer"] = customer
    succeeded = payment_intent_object(intent, status="succeeded", amount=session["amount_total"], currency=session["currency"],
                                      metadata=metadata, created=now)
    succeeded["customer"] = customer
    succeeded["payment_method"] = "pm_" + secrets.token_hex(8)
    return [("checkout.session.completed", completed), ("payment_intent.succeeded", succeeded)]


def _account(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A new Connect account: nothing submitted yet, so charges and payouts are off."""
    return 200, account_object("acct_" + secrets.token_hex(8), metadata=_metadata(form), email=form.get("email"))


def account_object(
    account_id: str, *, charges_enabled: bool = False, payouts_enabled: bool = False, details_submitted: bool = False,
    currently_due: list[str] | None = None, disabled_reason: str | None = None, metadata: dict[str, str] | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """A Connect account as Stripe documents it (the fields Anima reads)."""
    due = ["external_account", "business_profile.url"] if currently_due is None and not details_submitted else (currently_due or [])
    return {
        "id": account_id,
        "object": "account",
        "type": "express",
        "email": email,
        "charges_enabled": charges_enabled,
        "payouts_enabled": payouts_enabled,
        "details_submitted": details_submitted,
        "requirements": {"currently_due": due, "disabled_reason": disabled_reason, "past_due": []},
        "metadata": metadata or {},
        "created": int(time.time()),
    }


def _account_link(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if not form.get("account") or form.get("type") != "account_onboarding" or not form.get("return_url"):
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: account."}}
    now = int(time.time())
    return 200, {
        "object": "account_link",
        "created": now,
        "expires_at": now + 300,
        "url": f"https://connect.stripe.com/setup/e/{form['account']}/{secrets.token_hex(8)}",
    }


def _refund(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    amount = form.get("amount", "")
    if not form.get("payment_intent") or not amount.isdigit():
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: payment_intent."}}
    return 200, {
        "id": "re_" + secrets.token_hex(10),
        "object": "refund",
        "amount": int(amount),
        "payment_intent": form["payment_intent"],
        "status": "succeeded",
        "metadata": _metadata(form),
        "created": int(time.time()),
    }


def _transfer(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A Transfer from the platform's balance to a connected account (``destination``)."""
    amount, currency, destination = form.get("amount", ""), form.get("currency", ""), form.get("destination", "")
    if not amount.isdigit() or int(amount) < 1 or len(currency) != 3 or not destination.startswith("acct_"):
        return 400, {"error": {"type": "invalid_request_error", "message": "Missing required param: amount, currency or destination."}}
    return 200, transfer_object("tr_" + secrets.token_hex(10), amount=int(amount), currency=currency, destination=destination,
                                transfer_group=form.get("transfer_group"), metadata=_metadata(form))


def transfer_object(
    transfer_id: str, *, amount: int, currency: str, destination: str, transfer_group: str | None = None,
    metadata: dict[str, str] | None = None, amount_reversed: int = 0,
) -> dict[str, Any]:
    """A Transfer as Stripe documents it (the fields Anima reads; ``transfer.created`` /
    ``transfer.reversed`` events carry it)."""
    return {
        "id": transfer_id, "object": "transfer", "amount": amount, "amount_reversed": amount_reversed,
        "currency": currency.lower(), "destination": destination, "transfer_group": transfer_group,
        "reversed": amount_reversed >= amount, "metadata": metadata or {}, "created": int(time.time()), "livemode": False,
    }


def _reversal(stub: StripeStub, transfer_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    transfer = stub.transfers.get(transfer_id)
    if transfer is None:
        return 404, {"error": {"type": "invalid_request_error", "message": f"No such transfer: '{transfer_id}'"}}
    left = transfer["amount"] - transfer["amount_reversed"]
    amount = int(form["amount"]) if form.get("amount", "").isdigit() else left
    if amount < 1 or amount > left:
        return 400, {"error": {"type": "invalid_request_error", "message": "Transfer reversal amount exceeds the transfer's remaining amount."}}
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
    return 200, {"id": "trr_" + secrets.token_hex(10), "object": "transfer_reversal", "amount": amount, "currency": transfer["currency"],
                 "transfer": transfer_id, "metadata": _metadata(form), "created": int(time.time())}


def payment_checkout_completed_object(
    session_id: str, *, payment_intent: str, amount: int, currency: str, metadata: dict[str, str], created: int, paid: bool = True
) -> dict[str, Any]:
    """The ``checkout.session.completed`` object of a payment-mode session."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": "paid" if paid else "unpaid",
        "amount_total": amount,
        "currency": currency.lower(),
        "payment_intent": payment_intent,
        "metadata": metadata,
        "client_reference_id": metadata.get("payment_id"),
        "created": created,
        "livemode": False,
    }


def payment_intent_object(
    intent_id: str, *, status: str, amount: int, currency: str, metadata: dict[str, str], created: int, amount_refunded: int = 0
) -> dict[str, Any]:
    """A PaymentIntent (``payment_intent.succeeded`` / ``payment_intent.payment_failed``)."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "status": status,
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency.lower(),
        "metadata": metadata,
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."} if status == "requires_payment_method" else None,
        "created": created,
        "livemode": False,
    }


def charge_refunded_object(intent_id: str, *, amount: int, amount_refunded: int, currency: str, metadata: dict[str, str], created: int) -> dict[str, Any]:
    """A Charge after a refund (``charge.refunded``): ``amount_refunded`` is the cumulative total."""
    return {
        "id": "ch_" + secrets.token_hex(10),
        "object": "charge",
        "payment_intent": intent_id,
        "amount": amount,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded >= amount,
        "currency": currency.lower(),
        "metadata": metadata,
        "created": created,
        "livemode": False,
    }


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (test stub)</title></head>
<body><main>{body}</main></body></html>
"""


def _checkout_page(session: dict[str, Any]) -> str:
    """The stub's Checkout page: what is bought, a Pay button and a Cancel button."""
    tier = html.escape(session.get("metadata", {}).get("tier", "?"))
    if session.get("mode") == "payment":
        tier = html.escape(f"{session['amount_total']} {session['currency'].upper()} (minor units) on {session.get('account')}")
    return (
        f"<h1>Pay for Anima {tier}</h1><p>Test payment: nothing is charged. Stripe would ask for a card here.</p>"
        f'<form method="post"><button type="submit" name="action" value="pay">Pay</button> '
        f'<button type="submit" name="action" value="cancel">Cancel</button></form>'
    )


def _paid_events(session: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events Stripe sends when a subscription Checkout is paid, in its usual order."""
    metadata = session.get("metadata", {})
    tenant_id, tier = int(metadata["tenant_id"]), metadata.get("tier", "PRO")
    customer, sub_id, now = session["customer"], "sub_" + secrets.token_hex(8), int(time.time())
    price = session.get("price") or PRICE_PRO
    completed = checkout_completed_object(customer, sub_id, tenant_id=tenant_id, tier=tier, created=now)
    completed["id"] = session["id"]
    return [
        ("checkout.session.completed", completed),
        ("customer.subscription.created", subscription_object(sub_id, customer, "active", price, created=now, tenant_id=tenant_id)),
        ("invoice.paid", invoice_object(sub_id, customer, price, paid=True, created=now)),
    ]


def _deliver(url: str, payload: str) -> int:
    """POST a signed webhook to Anima; returns the HTTP status."""
    request = urllib.request.Request(
        url, data=payload.encode(), method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a local test URL
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _portal_session(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    session_id = "bps_" + secrets.token_hex(12)
    return 200, {
        "id": session_id,
        "object": "billing_portal.session",
        "customer": form.get("customer"),
        "return_url": form.get("return_url"),
        "url": f"https://billing.stripe.com/p/session/{session_id}",
        "livemode": False,
        "created": int(time.time()),
    }


# --- webhooks -------------------------------------------------------------------------------


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(kind: str, obj: dict[str, Any], *, created: int, event_id: str | None = None, account: str | None = None) -> dict[str, Any]:
    """An event envelope as Stripe documents it (API version 2025-03-31.basil); ``account`` for a
    Connect event (one that happened on a connected account)."""
    envelope = {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    if account is not None:
        envelope["account"] = account
    return envelope


def subscription_object(
    sub_id: str, customer: str, status: str, price: str, *, created: int, tenant_id: int | None = None, period_end: int | None = None
) -> dict[str, Any]:
    period_end = period_end or created + 30 * 86400
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "created": created,
        "cancel_at_period_end": False,
        "canceled_at": created if status == "canceled" else None,
        "ended_at": created if status == "canceled" else None,
        "metadata": {"tenant_id": str(tenant_id)} if tenant_id is not None else {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_" + sub_id[4:],
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
                    "quantity": 1,
                    "current_period_start": period_end - 30 * 86400,
                    "current_period_end": period_end,
                }
            ],
        },
        "livemode": False,
    }


def invoice_object(sub_id: str, customer: str, price: str, *, paid: bool, created: int) -> dict[str, Any]:
    return {
        "id": "in_" + secrets.token_hex(10),
        "object": "invoice",
        "customer": customer,
        "status": "paid" if paid else "open",
        "attempt_count": 1,
        "created": created,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "metadata": {}},
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_" + secrets.token_hex(8),
                    "object": "line_item",
                    "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_x"}},
                    "period": {"start": created, "end": created + 30 * 86400},
                }
            ],
        },
        "livemode": False,
    }


def checkout_completed_object(customer: str, sub_id: str, *, tenant_id: int, tier: str, created: int) -> dict[str, Any]:
    return {
        "id": "cs_test_" + secrets.token_hex(12),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "customer": customer,
        "subscription": sub_id,
        "client_reference_id": str(tenant_id),
        "metadata": {"tenant_id": str(tenant_id), "tier": tier},
        "created": created,
        "livemode": False,
    }


def stripe_environ() -> dict[str, str]:
    """The Stripe settings of the tests (STRIPE_API_BASE is added by the fixture)."""
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_PRICE_PRO": PRICE_PRO,
        "STRIPE_PRICE_CENTER": PRICE_CENTER,
    }
