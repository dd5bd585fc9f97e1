"""Practices paid through Stripe Connect: onboarding, account state from webhooks, pay links to
Checkout on the connected account, payment outcomes from signed webhooks in any order, refunds.

The real ``stripe`` SDK talks to the local stub (tests/stripe_stub.py); webhooks are signed as
Stripe signs them and go through the real HTTP path.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.billing.plans import application_fee_minor
from tests.conftest import add_member, bearer, signup
from tests.integration.billing_support import (  # noqa: F401 - fixtures
    now,
    paid_client,
    scalar,
    stripe_settings,
    stripe_stub,
    tenant_row,
)
from tests.stripe_stub import (
    account_object,
    charge_refunded_object,
    event,
    payment_checkout_completed_object,
    payment_intent_object,
    sign,
)

CONNECT_WEBHOOK = "/api/v1/payments/webhooks/stripe"


async def post_connect(client, body: dict) -> dict:
    payload = json.dumps(body)
    response = await client.post(CONNECT_WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def connected_practice(client, stub, db, *, tier: str = "PRO"):
    """A practice whose Stripe account completed onboarding (``account.updated`` says enabled)."""
    org = await signup(client, tier=tier)
    started = await client.post(f"/api/v1/orgs/{org.slug}/payments-account/onboarding", json={"return_path": f"/o/{org.slug}/"}, headers=org.headers)
    assert started.status_code == 200, started.text
    account = started.json()["account_id"]
    await post_connect(client, event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True,
                                                                        details_submitted=True), created=now(), account=account))
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Pau"}, headers=org.headers)).json()
    return org, account, patient


async def test_without_stripe_settings_payments_are_off_and_staff_still_record_cash(client, db):
    org = await signup(client)
    state = await client.get(f"/api/v1/orgs/{org.slug}/payments-account", headers=org.headers)
    assert state.status_code == 200 and state.json()["status"] == "not_configured" and state.json()["payments_on"] is False
    onboarding = await client.post(f"/api/v1/orgs/{org.slug}/payments-account/onboarding", json={}, headers=org.headers)
    assert onboarding.status_code == 503 and onboarding.json()["type"].endswith("payments-not-configured")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ona"}, headers=org.headers)).json()
    payment = (await client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 4000, "currency": "EUR"},
                                 headers=org.headers)).json()
    assert payment["pay_path"] == f"/api/v1/pay/{org.slug}/" + payment["pay_path"].rsplit("/", 1)[1]
    link = await client.get(payment["pay_path"])
    assert link.status_code == 503 and "cash or bank transfer" in link.json()["detail"]
    paid = await client.post(f"/api/v1/orgs/{org.slug}/payments/{payment['id']}/succeed", headers=org.headers)
    assert paid.status_code == 200 and paid.json()["method"] == "manual" and paid.json()["pay_path"] is None
    # a cash refund is recorded without Stripe
    refund = await client.post(f"/api/v1/orgs/{org.slug}/payments/{payment['id']}/refunds", json={"reason": "cash back", "amount_minor": 1000},
                               headers=org.headers)
    assert refund.status_code == 201 and refund.json()["stripe_refund_id"] is None


async def test_onboarding_is_idempotent_and_account_state_follows_the_newest_event(paid_client, stripe_stub, db):
    org = await signup(paid_client)
    base = f"/api/v1/orgs/{org.slug}/payments-account"
    assert (await paid_client.get(base, headers=org.headers)).json()["status"] == "not_connected"
    _, assistant, _ = await add_member(paid_client, db, org, "ASSISTANT")
    assert (await paid_client.post(f"{base}/onboarding", json={}, headers=bearer(assistant["access_token"]))).status_code == 403
    first = (await paid_client.post(f"{base}/onboarding", json={"return_path": "/o/x/?connected=1"}, headers=org.headers)).json()
    second = (await paid_client.post(f"{base}/onboarding", json={}, headers=org.headers)).json()
    assert first["account_id"] == second["account_id"] and first["onboarding_url"].startswith("https://connect.stripe.com/")
    assert first["status"] == "details_needed" and first["currently_due"]
    tenant = await tenant_row(db, org.slug)
    creations = [r for r in stripe_stub.calls("/v1/accounts") if r.form.get("metadata[tenant_id]") == str(tenant.id)]
    assert len(creations) == 1 and creations[0].headers["idempotency-key"] == f"anima-connect-account-{tenant.id}"
    bad = await paid_client.post(f"{base}/onboarding", json={"return_path": "https://evil.example/"}, headers=org.headers)
    assert bad.status_code in (400, 422) and "return_path" in bad.text

    account, t = first["account_id"], now()
    enabled = event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True, details_submitted=True),
                    created=t, account=account)
    older = event("account.updated", account_object(account, details_submitted=True, disabled_reason="requirements.past_due"),
                  created=t - 60, account=account)
    assert (await post_connect(paid_client, enabled))["result"] == "processed"
    assert (await post_connect(paid_client, older))["result"] == "processed"
    assert (await post_connect(paid_client, enabled))["result"] == "duplicate"
    state = (await paid_client.get(base, headers=org.headers)).json()
    assert state["status"] == "enabled" and state["payments_on"] is True and state["application_fee_bps"] == 150  # BUILDER
    newer = event("account.updated", account_object(account, details_submitted=True, disabled_reason="rejected.fraud"),
                  created=t + 60, account=account)
    await post_connect(paid_client, newer)
    assert (await paid_client.get(base, headers=org.headers)).json()["status"] == "restricted"
    # refreshing asks Stripe (the stub's account has not finished onboarding)
    refreshed = await paid_client.post(f"{base}/refresh", headers=org.headers)
    assert refreshed.status_code == 200 and refreshed.json()["status"] == "details_needed"


async def test_connect_webhook_refuses_bad_signatures_and_malformed_events(paid_client):
    payload = json.dumps(event("account.updated", account_object("acct_x"), created=now(), account="acct_x"))
    bad = await paid_client.post(CONNECT_WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload, secret="whsec_wrong")})
    assert bad.status_code == 400
    for body in ({"id": "evt_1", "type": "account.updated", "created": "yesterday", "data": {"object": {}}},
                 {"id": "evt_2", "type": "charge.refunded", "created": now(), "account": "acct_x",
                  "data": {"object": {"object": "charge", "amount_refunded": "lots"}}},
                 [1, 2]):
        payload = json.dumps(body)
        response = await paid_client.post(CONNECT_WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload)})
        assert response.status_code == 400, response.text
    unknown = await post_connect(paid_client, event("payment_intent.succeeded", payment_intent_object(
        "pi_x", status="succeeded", amount=100, currency="eur", metadata={}, created=now()), created=now(), account="acct_nobody"))
    assert unknown["result"] == "unmatched"


async def test_pay_link_opens_checkout_on_the_practice_account_with_the_fee(paid_client, stripe_stub, db):
    org, account, patient = await connected_practice(paid_client, stripe_stub, db)
    payment = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments",
                                      json={"patient_id": patient["id"], "amount_minor": 12345, "currency": "EUR", "description": "Session"},
                                      headers=org.headers)).json()
    first = await paid_client.get(payment["pay_path"])
    assert first.status_code == 303 and first.headers["location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    again = await paid_client.get(payment["pay_path"])
    assert again.headers["location"] == first.headers["location"]
    calls = [r for r in stripe_stub.calls("/v1/checkout/sessions") if r.form.get("metadata[payment_id]") == payment["id"]]
    assert len(calls) == 1
    call = calls[0]
    assert call.headers["stripe-account"] == account and call.headers["idempotency-key"] == f"anima-checkout-{payment['id']}-1"
    assert call.form["mode"] == "payment" and call.form["line_items[0][price_data][unit_amount]"] == "12345"
    assert call.form["payment_intent_data[application_fee_amount]"] == str(application_fee_minor("BUILDER", 12345)) == "185"  # 1.5 %, half up
    assert (await paid_client.get(f"/api/v1/pay/{org.slug}/{'x' * 30}")).status_code == 404
    assert (await paid_client.get(f"/api/v1/pay/no-such-org-{uuid.uuid4().hex[:6]}/{'x' * 30}")).status_code == 404


async def test_a_practice_not_yet_enabled_cannot_take_card_payments(paid_client, db):
    org = await signup(paid_client)
    await paid_client.post(f"/api/v1/orgs/{org.slug}/payments-account/onboarding", json={}, headers=org.headers)
    patient = (await paid_client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Nil"}, headers=org.headers)).json()
    payment = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 500, "currency": "EUR"},
                                      headers=org.headers)).json()
    refused = await paid_client.get(payment["pay_path"])
    assert refused.status_code == 409 and refused.json()["type"].endswith("payments-off")


def _payment_events(account: str, payment_id: str, amount: int, t: int) -> dict[str, dict]:
    metadata = {"payment_id": payment_id}
    intent = "pi_" + uuid.uuid4().hex[:16]
    return {
        "failed": event("payment_intent.payment_failed", payment_intent_object(intent, status="requires_payment_method", amount=amount,
                                                                              currency="eur", metadata=metadata, created=t), created=t, account=account),
        "completed": event("checkout.session.completed", payment_checkout_completed_object(
            "cs_test_" + uuid.uuid4().hex, payment_intent=intent, amount=amount, currency="eur", metadata=metadata, created=t + 5),
            created=t + 5, account=account),
        "succeeded": event("payment_intent.succeeded", payment_intent_object(intent, status="succeeded", amount=amount, currency="eur",
                                                                            metadata=metadata, created=t + 6), created=t + 6, account=account),
        "refunded": event("charge.refunded", charge_refunded_object(intent, amount=amount, amount_refunded=amount // 4, currency="eur",
                                                                   metadata={}, created=t + 9), created=t + 9, account=account),
    }


@pytest.fixture(scope="module")
async def practice(paid_client, stripe_stub, db):
    return await connected_practice(paid_client, stripe_stub, db)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(["failed", "completed", "succeeded", "refunded"]), duplicates=st.lists(st.sampled_from(
    ["failed", "completed", "succeeded", "refunded"]), max_size=3))
async def test_payment_webhooks_in_any_order_and_repeated_give_the_same_final_state(paid_client, practice, order, duplicates):
    org, account, patient = practice
    payment = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 8000, "currency": "EUR"},
                                      headers=org.headers)).json()
    events = _payment_events(account, payment["id"], 8000, now())
    for name in [*order, *duplicates]:
        await post_connect(paid_client, events[name])
    final = (await paid_client.get(f"/api/v1/orgs/{org.slug}/payments/{payment['id']}", headers=org.headers)).json()
    assert (final["status"], final["method"], final["refunded_minor"], final["failure_reason"]) == ("SUCCEEDED", "stripe", 2000, None)
    kinds = [e["type"] for e in (await paid_client.get(f"/api/v1/orgs/{org.slug}/events?limit=200", headers=org.headers)).json()["items"]
             if e["payload"].get("payment_id") == payment["id"]]
    assert kinds.count("PAYMENT_SUCCEEDED") == 1


async def test_owners_refund_card_payments_within_what_was_paid(paid_client, stripe_stub, practice, db):
    org, account, patient = practice
    base = f"/api/v1/orgs/{org.slug}/payments"
    payment = (await paid_client.post(base, json={"patient_id": patient["id"], "amount_minor": 10000, "currency": "EUR"}, headers=org.headers)).json()
    assert (await paid_client.post(f"{base}/{payment['id']}/refunds", json={"reason": "early"}, headers=org.headers)).status_code == 409
    events = _payment_events(account, payment["id"], 10000, now())
    await post_connect(paid_client, events["completed"])
    _, assistant, _ = await add_member(paid_client, db, org, "ASSISTANT")
    refunds = f"{base}/{payment['id']}/refunds"
    assert (await paid_client.post(refunds, json={"reason": "x", "amount_minor": 100}, headers=bearer(assistant["access_token"]))).status_code == 403
    for body, field in (({"reason": "too much", "amount_minor": 10001}, "amount_minor"), ({"reason": "", "amount_minor": 5}, "reason"),
                        ({"reason": "nul\x00", "amount_minor": 5}, "reason"), ({"reason": "x", "amount_minor": "5"}, "amount_minor"),
                        ({"reason": "x", "amount_minor": 10**12}, "amount_minor")):
        bad = await paid_client.post(refunds, json=body, headers=org.headers)
        assert bad.status_code in (400, 422) and field in bad.text, (body, bad.text)
    part = await paid_client.post(refunds, json={"reason": "late start", "amount_minor": 3000}, headers=org.headers)
    assert part.status_code == 201 and part.json()["seq"] == 1
    over = await paid_client.post(refunds, json={"reason": "again", "amount_minor": 7001}, headers=org.headers)
    assert over.status_code == 422 and "7000" in over.text
    rest = await paid_client.post(refunds, json={"reason": "the rest"}, headers=org.headers)
    assert rest.status_code == 201 and rest.json()["amount_minor"] == 7000
    assert (await paid_client.post(refunds, json={"reason": "more"}, headers=org.headers)).status_code == 409
    calls = [r for r in stripe_stub.calls("/v1/refunds") if r.form.get("metadata[payment_id]") == payment["id"]]
    assert [(c.form["amount"], c.headers["idempotency-key"], c.headers["stripe-account"]) for c in calls] == [
        ("3000", f"anima-refund-{payment['id']}-1", account), ("7000", f"anima-refund-{payment['id']}-2", account)]
    # Stripe's later charge.refunded (cumulative, lower) never lowers what is refunded
    await post_connect(paid_client, events["refunded"])
    final = (await paid_client.get(f"{base}/{payment['id']}", headers=org.headers)).json()
    assert final["refunded_minor"] == 10000
    listed = (await paid_client.get(refunds, headers=org.headers)).json()
    assert [r["amount_minor"] for r in listed] == [3000, 7000]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(4)), repeat=st.lists(st.integers(0, 3), max_size=2))
async def test_account_events_in_any_order_leave_the_newest_state(paid_client, stripe_stub, order, repeat):
    org = await signup(paid_client)
    account = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments-account/onboarding", json={}, headers=org.headers)).json()["account_id"]
    t = now()
    states = [account_object(account, details_submitted=False),
              account_object(account, details_submitted=True),
              account_object(account, details_submitted=True, disabled_reason="requirements.past_due"),
              account_object(account, charges_enabled=True, payouts_enabled=True, details_submitted=True)]
    events = [event("account.updated", obj, created=t + 10 * i, account=account) for i, obj in enumerate(states)]
    for i in [*order, *repeat]:
        await post_connect(paid_client, events[i])
    assert (await paid_client.get(f"/api/v1/orgs/{org.slug}/payments-account", headers=org.headers)).json()["status"] == "enabled"
