"""Getting paid, end to end: receipts and refund notices by email (once, in the patient's language
and zone), the pay link in the payment reminder opening Checkout on the stub, therapists' payout
settings and their shares transferred through Connect on completion (once, reversed on refunds),
earnings with paid-out and pending shares.

Real PostgreSQL, the real ``stripe`` SDK against tests/stripe_stub.py, Stripe-signed webhooks
through HTTP, real SMTP in process (aiosmtpd), the job functions called as the worker calls them.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from urllib.parse import urlsplit

import msgspec
import pytest
import sqlalchemy as sa

from anima.domains.payments.receipts import send_payment_receipt
from anima.domains.payments.services import request_payment
from anima.billing.stripe_client import gateway_for
from anima.domains.payments.transfers import TransferGateway, transfer_therapist_share
from anima.jobs.handlers import FOLLOW_UPS, handle_event, tenant_tick
from anima.mail.tenant_sender import run_once
from anima.runtime import build_runtime
from tests import clock
from tests.conftest import add_member, bearer, signup, unique_email
from tests.integration.billing_support import (  # noqa: F401 - fixtures
    now,
    paid_client,
    stripe_settings,
    stripe_stub,
    tenant_row,
)
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_mail_sender import RecordingHandler, smtp  # noqa: F401 - fixtures
from tests.integration.test_packages_credits import tenant_session
from tests.integration.test_practice_payments import connected_practice, post_connect
from tests.stripe_stub import charge_refunded_object, event, payment_checkout_completed_object, sign, transfer_object


@pytest.fixture
def runtime(db, stripe_settings, smtp):  # noqa: F811
    """The worker's runtime: Stripe aimed at the stub, SMTP at the in-process server."""
    return build_runtime(msgspec.structs.replace(stripe_settings, smtp_url=f"smtp://127.0.0.1:{smtp.port}"), db)  # type: ignore[attr-defined]


async def _events(db, slug: str, kind: str) -> list[tuple[str, dict]]:
    return [(str(r[0]), r[1]) for r in await in_tenant(db, slug, "SELECT id, payload FROM outbox_events WHERE type = :t ORDER BY occurred_at, id",
                                                         {"t": kind})]


async def _pay_by_card(client, account: str, payment: dict) -> str:
    """Open the pay link (Checkout on the practice's account), then Stripe says it was paid; the PaymentIntent."""
    link = await client.get(payment["pay_path"])
    assert link.status_code == 303, link.text
    session_id = urlsplit(link.headers["location"]).path.rsplit("/", 1)[1]
    intent = "pi_" + uuid.uuid4().hex[:16]
    await post_connect(client, event("checkout.session.completed", payment_checkout_completed_object(
        session_id, payment_intent=intent, amount=payment["amount_minor"], currency=payment["currency"],
        metadata={"payment_id": payment["id"]}, created=now()), created=now(), account=account))
    return intent


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_succeeded_payment_hands_on_the_receipt_and_a_completed_booking_the_transfer():
    assert [f.function for f in FOLLOW_UPS["PAYMENT_SUCCEEDED"]] == ["send_payment_receipt"]
    assert [f.function for f in FOLLOW_UPS["BOOKING_COMPLETED"]] == ["transfer_therapist_share"]


async def test_a_card_payment_gets_one_receipt_in_the_patients_language_and_zone_even_when_redelivered(
    paid_client, stripe_stub, db, smtp, runtime,  # noqa: F811
):
    org, account, _ = await connected_practice(paid_client, stripe_stub, db)
    tid = await tenant_id_of(db, org.slug)
    address = unique_email("nuria")
    patient = (await paid_client.post(f"/api/v1/orgs/{org.slug}/patients", json={
        "first_name": "Núria", "email": address, "language": "es", "time_zone": "America/Mexico_City"}, headers=org.headers)).json()
    payment = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={
        "patient_id": patient["id"], "amount_minor": 123456, "currency": "EUR", "description": "Sesión"}, headers=org.headers)).json()
    link = await paid_client.get(payment["pay_path"])
    session_id = urlsplit(link.headers["location"]).path.rsplit("/", 1)[1]
    paid = event("checkout.session.completed", payment_checkout_completed_object(
        session_id, payment_intent="pi_receipt1", amount=123456, currency="EUR", metadata={"payment_id": payment["id"]}, created=now()),
        created=now(), account=account)
    assert (await post_connect(paid_client, paid))["result"] == "processed"
    assert (await post_connect(paid_client, paid))["result"] == "duplicate"  # Stripe redelivers the same event
    succeeded = await _events(db, org.slug, "PAYMENT_SUCCEEDED")
    assert len(succeeded) == 1
    ctx = {"anima": runtime}
    first = await send_payment_receipt(ctx, tenant_id=tid, payment_id=succeeded[0][1]["payment_id"])
    again = await send_payment_receipt(ctx, tenant_id=tid, payment_id=succeeded[0][1]["payment_id"])  # a retried job
    assert first == {"receipt": "R-000001", "queued": True} and again == {"receipt": "R-000001", "queued": False}
    await run_once(runtime)
    [mail] = smtp.to(address)
    text = _text(mail)
    assert mail["Subject"].startswith("Recibo R-000001 de ") and "Hola, Núria:" in text
    assert "Importe: 1.234,56\xa0€" in text, text  # Babel's money in Spanish
    assert re.search(r"Fecha: .*\d{1,2}:\d\d CST", text), text  # the patient's zone (Mexico City keeps CST all year), named
    assert "Tarjeta (en línea)" in text and "R-000001" in text and "Sesión" in text
    # staff read the receipt; an assistant too, and it is 404 for a payment without one
    _, assistant, _ = await add_member(paid_client, db, org, "ASSISTANT")
    base = f"/api/v1/orgs/{org.slug}/payments/{payment['id']}"
    page = await paid_client.get(f"{base}/receipt", headers=bearer(assistant["access_token"]))
    assert page.status_code == 200 and "R-000001" in page.text and "Núria" in page.text and page.headers["content-type"].startswith("text/html")
    pdf = await paid_client.get(f"{base}/receipt/pdf", headers=org.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = (await paid_client.get(f"{base}/receipts", headers=org.headers)).json()
    assert [(r["number"], r["seq"], r["amount_minor"]) for r in listed] == [("R-000001", 0, 123456)]
    other = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 100, "currency": "EUR"},
                                    headers=org.headers)).json()
    assert (await paid_client.get(f"/api/v1/orgs/{org.slug}/payments/{other['id']}/receipt", headers=org.headers)).status_code == 404

    # only owners refund; the patient gets a refund notice, numbered next, once
    refunds = f"{base}/refunds"
    assert (await paid_client.post(refunds, json={"reason": "x", "amount_minor": 100}, headers=bearer(assistant["access_token"]))).status_code == 403
    refund = await paid_client.post(refunds, json={"reason": "session shortened", "amount_minor": 23456}, headers=org.headers)
    assert refund.status_code == 201, refund.text
    await run_once(runtime)
    notices = [m for m in smtp.to(address) if m["Subject"].startswith("Reembolso")]
    assert len(notices) == 1 and "R-000002" in _text(notices[0]) and "234,56\xa0€" in _text(notices[0])
    listed = (await paid_client.get(f"{base}/receipts", headers=org.headers)).json()
    assert [(r["number"], r["seq"]) for r in listed] == [("R-000001", 0), ("R-000002", 1)]
    page = await paid_client.get(f"{base}/receipt", headers=org.headers)
    assert "R-000002" in page.text


@pytest.mark.parametrize("language, words", [("en", ("Receipt R-", "Cash or bank transfer", "€12.50")),
                                              ("ca", ("Rebut R-", "Efectiu o transferència bancària", "12,50\xa0€")),
                                              ("it", ("Ricevuta R-", "Contanti o bonifico bancario", "12,50\xa0€"))])
async def test_cash_recorded_by_staff_gets_a_receipt_in_the_patients_language(paid_client, db, smtp, runtime, language, words):  # noqa: F811
    org = await signup(paid_client)
    tid = await tenant_id_of(db, org.slug)
    _, assistant, _ = await add_member(paid_client, db, org, "ASSISTANT")
    address = unique_email("cash")
    patient = (await paid_client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Pau", "email": address, "language": language},
                                      headers=org.headers)).json()
    payment = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 1250, "currency": "EUR"},
                                      headers=bearer(assistant["access_token"]))).json()
    paid = await paid_client.post(f"/api/v1/orgs/{org.slug}/payments/{payment['id']}/succeed", headers=bearer(assistant["access_token"]))
    assert paid.status_code == 200
    [(_, payload)] = await _events(db, org.slug, "PAYMENT_SUCCEEDED")
    assert (await send_payment_receipt({"anima": runtime}, tenant_id=tid, payment_id=payload["payment_id"]))["queued"] is True
    await run_once(runtime)
    [mail] = smtp.to(address)
    text = _text(mail)
    assert mail["Subject"].startswith(words[0]) and words[1] in text and words[2] in text, (mail["Subject"], text)
    assert "UTC" in text  # neither the patient nor the practice chose a zone: UTC, named


async def _pro(db, slug: str) -> int:
    """Put the practice on PRO (on a deployment with Stripe it is bought through Checkout); its id."""
    tid = await tenant_id_of(db, slug)
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.tenants SET tier = 'PRO' WHERE id = :i"), {"i": tid})
    return tid


async def _cobrador_reminder(client, db, runtime, smtp, org, address: str):  # noqa: F811
    """Install the Cobrador, ask for a payment, let 48 hours pass, deliver the reminder: its text."""
    tid = await _pro(db, org.slug)
    assert (await client.post(f"/api/v1/orgs/{org.slug}/playbooks/marketplace/cobrador-automatico/install", headers=org.headers)).status_code == 201
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Rosa", "email": address}, headers=org.headers)).json()
    payment = (await client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 4500, "currency": "EUR"},
                                 headers=org.headers)).json()
    ctx = {"anima": runtime}
    [(event_id, _)] = await _events(db, org.slug, "PAYMENT_REQUESTED")
    await handle_event(ctx, tenant_id=tid, event_id=event_id)
    await in_tenant(db, org.slug, "UPDATE automation_delays SET due_at = now() - interval '1 second' WHERE fired_at IS NULL")
    await tenant_tick(ctx, tenant_id=tid)
    await run_once(runtime)
    [mail] = smtp.to(address)
    return payment, mail


async def test_the_payment_reminder_carries_the_pay_link_that_opens_checkout(paid_client, stripe_stub, db, smtp, runtime):  # noqa: F811
    org, account, _ = await connected_practice(paid_client, stripe_stub, db, tier="PRO")
    address = unique_email("rosa")
    payment, mail = await _cobrador_reminder(paid_client, db, runtime, smtp, org, address)
    text, html = _text(mail), mail.get_body(("html",)).get_content()
    links = re.findall(r"https?://\S+/api/v1/pay/\S+", text)
    assert len(links) == 1 and links[0].endswith(payment["pay_path"]), text
    assert f'href="{links[0]}"' in html
    opened = await paid_client.get(urlsplit(links[0]).path)
    assert opened.status_code == 303 and "/c/pay/cs_test_" in opened.headers["location"]


async def test_without_online_payments_the_reminder_says_how_to_pay_at_the_practice(paid_client, db, smtp, runtime):  # noqa: F811
    org = await signup(paid_client, tier="PRO")  # never connected its Stripe account
    address = unique_email("rosa")
    _, mail = await _cobrador_reminder(paid_client, db, runtime, smtp, org, address)
    text = _text(mail)
    assert "/api/v1/pay/" not in text and "/api/v1/pay/" not in mail.get_body(("html",)).get_content()
    assert "pay at the practice, in cash or by bank transfer" in text


async def _completed_booking(client, db, org, therapist_id: str, patient_id: str, *, days: int = -2) -> str:
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": f"Session {uuid.uuid4().hex[:6]}", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 10000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id]}, headers=org.headers)).json()
    made = await client.post(f"/api/v1/orgs/{org.slug}/bookings", json={
        "patient_id": patient_id, "service_id": service["id"], "starts_at": clock.iso(days=days), "therapist_id": therapist_id},
        headers=org.headers)
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def _booking_payment(db, org, patient_id: str, booking_id: str, amount: int) -> dict:
    tenant = await tenant_row(db, org.slug)
    async with tenant_session(db, tenant.id) as s:
        p = await request_payment(s, patient_id=uuid.UUID(patient_id), amount_minor=amount, currency="EUR", booking_id=uuid.UUID(booking_id))
        token, pid = p.pay_token, str(p.id)
    return {"id": pid, "amount_minor": amount, "currency": "EUR", "pay_path": f"/api/v1/pay/{org.slug}/{token}"}


async def test_payout_settings_are_set_by_owners_and_checked(paid_client, db):
    org = await signup(paid_client)
    _, therapist, therapist_id = await add_member(paid_client, db, org, "THERAPIST")
    _, assistant, assistant_id = await add_member(paid_client, db, org, "ASSISTANT")
    url = f"/api/v1/orgs/{org.slug}/payouts/{therapist_id}"
    good = {"mode": "connect", "stripe_account_id": "acct_therapist1", "share_bps": 6000}
    for who in (therapist, assistant):
        assert (await paid_client.put(url, json=good, headers=bearer(who["access_token"]))).status_code == 403
        assert (await paid_client.get(f"/api/v1/orgs/{org.slug}/payouts", headers=bearer(who["access_token"]))).status_code == 403
    for body, field, rule in (({**good, "stripe_account_id": None}, "stripe_account_id", "required"),
                              ({"mode": "outside", "stripe_account_id": "acct_x", "share_bps": 10}, "stripe_account_id", "forbidden"),
                              ({**good, "share_bps": 10001}, "share_bps", None), ({**good, "share_bps": "60"}, "share_bps", None),
                              ({**good, "stripe_account_id": "acct_\x00x"}, "stripe_account_id", None),
                              ({**good, "stripe_account_id": "https://evil"}, "stripe_account_id", None),
                              ({**good, "mode": "cash"}, "mode", None), ({**good, "extra": 1}, "extra", "unknown-field")):
        bad = await paid_client.put(url, json=body, headers=org.headers)
        assert bad.status_code in (400, 422), (body, bad.text)
        fields = {(e["field"], e["rule"]) for e in bad.json().get("errors", [])}
        assert any(f == field and (rule is None or r == rule) for f, r in fields), (body, bad.text)
    refused = await paid_client.put(f"/api/v1/orgs/{org.slug}/payouts/{assistant_id}", json=good, headers=org.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "staff_id"
    assert (await paid_client.put(f"/api/v1/orgs/{org.slug}/payouts/{uuid.uuid4()}", json=good, headers=org.headers)).status_code == 422
    assert (await paid_client.put(url, json=good, headers=org.headers)).status_code == 200
    changed = await paid_client.put(url, json={"mode": "outside", "share_bps": 5000}, headers=org.headers)
    assert changed.status_code == 200 and changed.json()["stripe_account_id"] is None
    assert [(p["staff_id"], p["mode"], p["share_bps"]) for p in (await paid_client.get(f"/api/v1/orgs/{org.slug}/payouts", headers=org.headers)).json()] \
        == [(therapist_id, "outside", 5000)]


async def test_the_therapists_share_is_transferred_once_after_completion_and_reversed_by_refunds(
    paid_client, stripe_stub, db, runtime,
):
    org, account, patient = await connected_practice(paid_client, stripe_stub, db)
    tid = await _pro(db, org.slug)
    _, therapist, therapist_id = await add_member(paid_client, db, org, "THERAPIST")
    _, other, _ = await add_member(paid_client, db, org, "THERAPIST")
    _, assistant, _ = await add_member(paid_client, db, org, "ASSISTANT")
    destination = "acct_" + uuid.uuid4().hex[:16]
    assert (await paid_client.put(f"/api/v1/orgs/{org.slug}/payouts/{therapist_id}", json={
        "mode": "connect", "stripe_account_id": destination, "share_bps": 6000}, headers=org.headers)).status_code == 200
    booking_id = await _completed_booking(paid_client, db, org, therapist_id, patient["id"])
    payment = await _booking_payment(db, org, patient["id"], booking_id, 10001)
    await _pay_by_card(paid_client, account, payment)
    ctx = {"anima": runtime}

    def made() -> list:
        return [r for r in stripe_stub.calls("/v1/transfers") if r.form.get("metadata[booking_id]") == booking_id]

    # never before completion
    assert (await transfer_therapist_share(ctx, tenant_id=tid, booking_id=booking_id)) == {"skipped": "nothing to transfer"}
    assert made() == []
    done = await paid_client.post(f"/api/v1/orgs/{org.slug}/bookings/{booking_id}/complete", headers=org.headers)
    assert done.status_code == 200, done.text
    [(_, payload)] = await _events(db, org.slug, "BOOKING_COMPLETED")
    first = await transfer_therapist_share(ctx, tenant_id=tid, booking_id=payload["booking_id"])
    second = await transfer_therapist_share(ctx, tenant_id=tid, booking_id=payload["booking_id"])  # the job retried
    assert first == {"status": "transferred", "transferred": 6000} and second == {"status": "transferred"}
    [call] = made()
    assert call.form["amount"] == "6000" and call.form["currency"] == "eur" and call.form["destination"] == destination  # 10001 × 60 %, rounded down
    assert call.form["transfer_group"] == f"anima-booking-{booking_id}" and call.headers["idempotency-key"] == f"anima-transfer-{booking_id}"
    assert "stripe-account" not in call.headers  # on the platform, not on the practice's account

    listed = await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=org.headers)
    [row] = listed.json()["items"]
    assert (row["status"], row["amount_minor"], row["due_minor"], row["reversed_minor"]) == ("transferred", 6000, 6000, 0)
    assert [r["booking_id"] for r in (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=bearer(therapist["access_token"]))).json()["items"]] == [booking_id]
    assert (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=bearer(other["access_token"]))).json()["items"] == []
    assert (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=bearer(assistant["access_token"]))).status_code == 403
    earnings = (await paid_client.get(f"/api/v1/orgs/{org.slug}/earnings", headers=bearer(therapist["access_token"]))).json()
    assert [(e["therapist_id"], e["gross_minor"], e["paid_out_minor"], e["pending_minor"]) for e in earnings] == [(therapist_id, 10001, 6000, 0)]

    # someone reverses 2,000 in Stripe's dashboard: the signed transfer.reversed events fold in, in any order, once
    transfer_id = row["stripe_transfer_id"]
    assert call.form["metadata[tenant_id]"] == str(tid)
    await TransferGateway(gateway_for(runtime.settings).client).reverse(
        transfer_id=transfer_id, amount_minor=2000, idempotency_key="dashboard-1", metadata={})
    metadata = {"tenant_id": str(tid), "booking_id": booking_id}
    newer = event("transfer.reversed", transfer_object(transfer_id, amount=6000, currency="eur", destination=destination, metadata=metadata,
                                                       amount_reversed=2000), created=now())
    older = event("transfer.reversed", transfer_object(transfer_id, amount=6000, currency="eur", destination=destination, metadata=metadata,
                                                       amount_reversed=500), created=now() - 60)
    assert (await post_connect(paid_client, newer))["result"] == "processed"
    assert (await post_connect(paid_client, newer))["result"] == "duplicate"
    assert (await post_connect(paid_client, older))["result"] == "processed"
    [row] = (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=org.headers)).json()["items"]
    assert (row["status"], row["reversed_minor"]) == ("transferred", 2000)
    stranger = event("transfer.reversed", transfer_object(transfer_id, amount=6000, currency="eur", destination=destination,
                                                          metadata={"tenant_id": "999999"}, amount_reversed=6000), created=now())
    assert (await post_connect(paid_client, stranger))["result"] == "unmatched"
    bad = json.dumps(event("transfer.reversed", {**transfer_object(transfer_id, amount=1, currency="eur", destination=destination),
                                                  "amount_reversed": -1}, created=now()))
    assert (await paid_client.post("/api/v1/payments/webhooks/stripe", content=bad, headers={"Stripe-Signature": sign(bad)})).status_code == 400

    # an owner's partial refund takes back what exceeds the share (3,000 due, 4,000 kept); the rest returns it all
    refunds = f"/api/v1/orgs/{org.slug}/payments/{payment['id']}/refunds"
    assert (await paid_client.post(refunds, json={"reason": "late start", "amount_minor": 5001}, headers=org.headers)).status_code == 201
    reversals = [r for r in stripe_stub.requests if r.path.endswith("/reversals") and r.form.get("metadata[booking_id]") == booking_id]
    assert [(r.form["amount"], r.headers["idempotency-key"]) for r in reversals] == [("1000", f"anima-transfer-reversal-{booking_id}-1")]
    assert (await paid_client.post(refunds, json={"reason": "cancelled after all"}, headers=org.headers)).status_code == 201
    [row] = (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=org.headers)).json()["items"]
    assert (row["status"], row["amount_minor"], row["reversed_minor"], row["due_minor"]) == ("returned", 6000, 6000, 0)
    transfer = stripe_stub.transfers[row["stripe_transfer_id"]]
    assert transfer["amount_reversed"] == 6000 and transfer["reversed"] is True
    assert (await transfer_therapist_share(ctx, tenant_id=tid, booking_id=booking_id))["status"] == "returned"
    assert len(made()) == 1


async def test_a_share_paid_outside_anima_is_recorded_and_never_transferred(paid_client, stripe_stub, db, runtime):
    org, account, patient = await connected_practice(paid_client, stripe_stub, db)
    tid = await tenant_id_of(db, org.slug)
    _, therapist, therapist_id = await add_member(paid_client, db, org, "THERAPIST")
    assert (await paid_client.put(f"/api/v1/orgs/{org.slug}/payouts/{therapist_id}", json={"mode": "outside", "share_bps": 5000},
                                  headers=org.headers)).status_code == 200
    booking_id = await _completed_booking(paid_client, db, org, therapist_id, patient["id"])
    payment = await _booking_payment(db, org, patient["id"], booking_id, 8000)
    await _pay_by_card(paid_client, account, payment)
    assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/bookings/{booking_id}/complete", headers=org.headers)).status_code == 200
    assert (await transfer_therapist_share({"anima": runtime}, tenant_id=tid, booking_id=booking_id)) == {"status": "outside"}
    assert [r for r in stripe_stub.calls("/v1/transfers") if r.form.get("metadata[booking_id]") == booking_id] == []
    [row] = (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=bearer(therapist["access_token"]))).json()["items"]
    assert (row["status"], row["due_minor"], row["amount_minor"]) == ("outside", 4000, 0)


async def test_a_refund_made_in_stripe_reverses_the_transferred_share(paid_client, stripe_stub, db, runtime):
    org, account, patient = await connected_practice(paid_client, stripe_stub, db)
    tid = await tenant_id_of(db, org.slug)
    _, _, therapist_id = await add_member(paid_client, db, org, "THERAPIST")
    destination = "acct_" + uuid.uuid4().hex[:16]
    assert (await paid_client.put(f"/api/v1/orgs/{org.slug}/payouts/{therapist_id}", json={
        "mode": "connect", "stripe_account_id": destination, "share_bps": 5000}, headers=org.headers)).status_code == 200
    booking_id = await _completed_booking(paid_client, db, org, therapist_id, patient["id"])
    payment = await _booking_payment(db, org, patient["id"], booking_id, 8000)
    intent = await _pay_by_card(paid_client, account, payment)
    assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/bookings/{booking_id}/complete", headers=org.headers)).status_code == 200
    assert (await transfer_therapist_share({"anima": runtime}, tenant_id=tid, booking_id=booking_id))["transferred"] == 4000
    refunded = event("charge.refunded", charge_refunded_object(intent, amount=8000, amount_refunded=2000, currency="eur",
                                                               metadata={"payment_id": payment["id"]}, created=now()), created=now(), account=account)
    assert (await post_connect(paid_client, refunded))["result"] == "processed"
    assert (await post_connect(paid_client, refunded))["result"] == "duplicate"
    reversals = [r for r in stripe_stub.requests if r.path.endswith("/reversals") and r.form.get("metadata[booking_id]") == booking_id]
    assert [(r.form["amount"], r.headers["idempotency-key"]) for r in reversals] == [("1000", f"anima-transfer-reversal-{booking_id}-1")]
    [row] = (await paid_client.get(f"/api/v1/orgs/{org.slug}/transfers", headers=org.headers)).json()["items"]
    assert (row["status"], row["due_minor"], row["amount_minor"], row["reversed_minor"]) == ("transferred", 3000, 4000, 1000)


async def test_concurrent_receipts_get_distinct_numbers_without_gaps(paid_client, db, runtime):
    org = await signup(paid_client)
    tid = await tenant_id_of(db, org.slug)
    patient = (await paid_client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Abril", "email": unique_email("abril")},
                                      headers=org.headers)).json()
    ids = []
    for amount in range(100, 1100, 100):
        made = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": amount,
                                                                                  "currency": "EUR"}, headers=org.headers)).json()
        assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments/{made['id']}/succeed", headers=org.headers)).status_code == 200
        ids.append(made["id"])
    ctx = {"anima": runtime}
    outcomes = await asyncio.gather(*(send_payment_receipt(ctx, tenant_id=tid, payment_id=pid) for pid in ids + ids))
    numbers = await in_tenant(db, org.slug, "SELECT number FROM payment_receipts ORDER BY number")
    assert [n[0] for n in numbers] == list(range(1, 11))
    assert sum(o["queued"] for o in outcomes) == 10  # each payment's receipt queued once, though asked twice at once
    assert len(await in_tenant(db, org.slug, "SELECT 1 FROM outbound_emails WHERE template = 'payment_receipt'")) == 10
