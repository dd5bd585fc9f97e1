"""The payments and earnings pages: the front desk records cash and asks for payments (no refunds),
owners refund after seeing the cancellation policy (never more than what is left), receipts as HTML
and PDF, bad input beside its field; earnings per therapist and currency, a therapist seeing only
their own row, owners setting payouts; the person page's credit ledger."""

from __future__ import annotations

import re
import uuid

import pytest

from anima.domains.payments.services import request_payment
from tests import clock
from tests.conftest import add_member, signup
from tests.integration.billing_support import paid_client, tenant_row  # noqa: F401 - fixture
from tests.integration.test_practice_payments import connected_practice
from tests.web.account_support import paid_browser, stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.integration.test_packages_credits import tenant_session
from tests.web.conftest import Browser


async def _patient(client, org, first="Lia", last="Puig") -> dict:
    made = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": first, "last_name": last}, headers=org.headers)
    assert made.status_code == 201, made.text
    return made.json()


def _payment_id(response) -> str:
    match = re.search(r"/payments/([0-9a-f-]{36})\?done=", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


async def test_the_front_desk_records_cash_and_asks_but_only_owners_refund_with_the_policy_shown(client, browser: Browser, db):
    org = await signup(client)
    patient = await _patient(client, org)
    assert (await client.put(f"/api/v1/orgs/{org.slug}/cancellation-policies/organization", json={
        "window_hours": 48, "late_cancel_kind": "SHARE", "late_cancel_value": 5000, "no_show_kind": "FIXED", "no_show_value": 3000},
        headers=org.headers)).status_code == 200
    assistant, _, _ = await add_member(client, db, org, "ASSISTANT")
    therapist, _, _ = await add_member(client, db, org, "THERAPIST")
    base = f"/o/{org.slug}/payments"

    await browser.login(assistant)
    empty = await browser.get(base)
    assert empty.status_code == 200 and "No payments yet" in empty.text and 'aria-current="page">Payments' in empty.text
    assert "Online payments are off." in empty.text and "no Stripe settings" in empty.text
    recorded = await browser.submit(base, {"kind": "record", "patient_id": patient["id"], "amount": "80", "currency": "eur",
                                           "description": "Two sessions"}, form_page=base)
    assert recorded.status_code == 303, recorded.text
    paid = _payment_id(recorded)
    detail = (await browser.get(f"{base}/{paid}?done=recorded")).text
    assert "€80.00" in detail and "Paid" in detail and "Receipt R-000001" in detail and "Lia Puig" in detail
    assert "Refund" not in re.sub(r"<h2 id=\"refunds-heading\">Refunds</h2>", "", detail)  # no refund form for the front desk
    receipt = await browser.get(f"{base}/{paid}/receipt")
    assert receipt.status_code == 200 and "R-000001" in receipt.text and "€80.00" in receipt.text
    pdf = await browser.get(f"{base}/{paid}/receipt/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    api = (await client.get(f"/api/v1/orgs/{org.slug}/payments/{paid}", headers=org.headers)).json()
    assert (api["status"], api["method"], api["amount_minor"], api["currency"]) == ("SUCCEEDED", "manual", 8000, "EUR")
    # asking: a pending request; without Stripe settings the page says why there is no link
    asked = await browser.submit(base, {"kind": "ask", "patient_id": patient["id"], "amount": "12,50", "currency": "USD"}, form_page=base)
    assert asked.status_code == 303
    pending = (await browser.get(f"{base}/{_payment_id(asked)}")).text
    assert "$12.50" in pending and "Pending" in pending and "Online payments are off." in pending and "Mark paid" in pending
    listed = (await browser.get(f"{base}?status=PENDING")).text
    assert "$12.50" in listed and "€80.00" not in listed and "1 payment" in listed
    # the front desk may not refund
    refused = await browser.submit(f"{base}/{paid}/refund", {"reason": "x", "confirm": "yes"}, form_page=f"{base}/{paid}")
    assert refused.status_code == 403
    await browser.get("/logout")

    # a therapist meets neither the payments pages nor a refund
    await browser.login(therapist)
    assert (await browser.get(base)).status_code == 403
    assert (await browser.get(f"{base}/{paid}")).status_code == 403
    token = await browser.csrf(f"/o/{org.slug}/earnings")
    assert (await browser.http.post(f"{base}/{paid}/refund", data={"reason": "x", "confirm": "yes", "_csrf_token": token})).status_code == 403
    await browser.get("/logout")

    # the owner: the policy is shown, the refund is confirmed, never more than what is left
    await browser.login(org.owner_email)
    page = (await browser.get(f"{base}/{paid}")).text
    assert "The organization&#39;s cancellation policy" in page or "The organization's cancellation policy" in page
    assert "less than 48 hours before the start costs 50% of the price" in page and "A no-show costs €30.00" in page
    too_much = await browser.submit(f"{base}/{paid}/refund", {"amount": "90", "reason": "late cancellation"}, form_page=f"{base}/{paid}")
    assert too_much.status_code == 422 and "At most €80.00 is left to refund" in too_much.text and 'value="90"' in too_much.text
    for hostile, field in (({"amount": "-5"}, "amount"), ({"amount": "9" * 30}, "amount"), ({"reason": "a\x00b"}, "reason"),
                           ({"reason": ""}, "reason"), ({"amount": "1.234"}, "amount")):
        bad = await browser.submit(f"{base}/{paid}/refund", {"amount": "10", "reason": "late", **hostile}, form_page=f"{base}/{paid}")
        assert bad.status_code == 422, (hostile, bad.status_code)
        assert f'id="e-{field}"' in bad.text, hostile
    review = await browser.submit(f"{base}/{paid}/refund", {"amount": "30", "reason": "late cancellation"}, form_page=f"{base}/{paid}")
    assert review.status_code == 200 and "Refund €30.00 to Lia Puig?" in review.text and "Confirm refund" in review.text
    assert (await client.get(f"/api/v1/orgs/{org.slug}/payments/{paid}", headers=org.headers)).json()["refunded_minor"] == 0
    done = await browser.submit(f"{base}/{paid}/refund", {"amount": "30", "reason": "late cancellation", "confirm": "yes"},
                                form_page=f"{base}/{paid}")
    assert done.status_code == 303
    after = (await browser.get(f"{base}/{paid}?done=refunded")).text
    assert "€50.00 is left to refund" in after and "late cancellation" in after and "R-000002" in after
    rest = await browser.submit(f"{base}/{paid}/refund", {"amount": "", "reason": "goodwill", "confirm": "yes"}, form_page=f"{base}/{paid}")
    assert rest.status_code == 303
    assert "Fully refunded" in (await browser.get(f"{base}/{paid}")).text
    again = await browser.submit(f"{base}/{paid}/refund", {"amount": "1", "reason": "again", "confirm": "yes"}, form_page=f"{base}/{paid}")
    assert again.status_code == 409 and "fully refunded" in again.text
    refunds = (await client.get(f"/api/v1/orgs/{org.slug}/payments/{paid}/refunds", headers=org.headers)).json()
    assert [(r["amount_minor"], r["reason"]) for r in refunds] == [(3000, "late cancellation"), (5000, "goodwill")]


@pytest.mark.parametrize("values, field", [
    ({"amount": "-10"}, "amount"), ({"amount": "0"}, "amount"), ({"amount": "1000000000"}, "amount"), ({"amount": "ten"}, "amount"),
    ({"currency": "EU"}, "currency"), ({"currency": "ZZZ"}, "currency"), ({"currency": "EU\x00"}, "currency"),
    ({"description": "a\x00b"}, "description"), ({"description": "d" * 5000}, "description"), ({"patient_id": "nope"}, "patient_id"),
    ({"patient_id": str(uuid.UUID(int=7))}, "patient_id"),
])
async def test_bad_payment_input_is_refused_beside_its_field_and_nothing_typed_is_lost(client, browser: Browser, values, field):
    org = await signup(client)
    patient = await _patient(client, org)
    base = f"/o/{org.slug}/payments"
    await browser.login(org.owner_email)
    sent = {"kind": "record", "patient_id": patient["id"], "amount": "25", "currency": "EUR", "description": "Session", **values}
    refused = await browser.submit(base, sent, form_page=base)
    assert refused.status_code == 422, refused.text
    assert f'id="e-{field}"' in refused.text
    assert (await client.get(f"/api/v1/orgs/{org.slug}/payments", headers=org.headers)).json()["total"] == 0
    if field != "description":
        assert 'value="Session"' in refused.text


async def test_earnings_per_therapist_each_therapist_sees_only_their_own_and_owners_set_payouts(client, browser: Browser, db):
    org = await signup(client, tier="PRO")
    t1_email, _, t1 = await add_member(client, db, org, "THERAPIST")
    t2_email, _, t2 = await add_member(client, db, org, "THERAPIST")
    assistant, _, _ = await add_member(client, db, org, "ASSISTANT")
    patient = await _patient(client, org, "Aina", "Vidal")
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [t1, t2]}, headers=org.headers)).json()
    bookings = []
    for i, therapist in enumerate([t1, t2]):
        made = await client.post(f"/api/v1/orgs/{org.slug}/bookings", json={
            "patient_id": patient["id"], "service_id": service["id"], "starts_at": clock.iso(days=30 + i), "therapist_id": therapist},
            headers=org.headers)
        assert made.status_code == 201, made.text
        bookings.append(made.json()["id"])
    tenant = await tenant_row(db, org.slug)
    ids = []
    async with tenant_session(db, tenant.id) as s:
        for booking, amount, currency in ((bookings[0], 6000, "EUR"), (bookings[0], 7000, "USD"), (bookings[1], 5000, "EUR")):
            ids.append(str((await request_payment(s, patient_id=uuid.UUID(patient["id"]), amount_minor=amount, currency=currency,
                                                  booking_id=uuid.UUID(booking))).id))
    for pid in ids:
        assert (await client.post(f"/api/v1/orgs/{org.slug}/payments/{pid}/succeed", headers=org.headers)).status_code == 200
    base = f"/o/{org.slug}/earnings"

    await browser.login(org.owner_email)
    page = await browser.get(base)
    assert page.status_code == 200 and 'aria-current="page">Earnings' in page.text
    text = page.text
    assert "€60.00" in text and "$70.00" in text and "€50.00" in text and "€110.00" in text  # EUR total; USD never mixed in
    assert "Therapist" in text and "Download CSV" in text and "How each therapist is paid" in text
    csv_text = (await browser.get(f"{base}/csv")).text
    assert csv_text.splitlines()[0].startswith("therapist_id,currency") and "total,EUR,2,11000" in csv_text
    bad_period = await browser.get(f"{base}?start=2026-13-01&end=x")
    assert bad_period.status_code == 422 and 'id="e-start"' in bad_period.text and 'id="e-end"' in bad_period.text
    backwards = await browser.get(f"{base}?start={clock.at(days=5).date()}&end={clock.at(days=1).date()}")
    assert backwards.status_code == 422 and 'id="e-end"' in backwards.text
    # payout settings: errors beside the field, then saved through the service
    for values, field in (({"mode": "connect", "share": "40"}, "stripe_account_id"), ({"mode": "outside", "share": "140"}, "share"),
                          ({"mode": "outside", "share": "-1"}, "share"), ({"mode": "outside", "share": "4\x000"}, "share"),
                          ({"mode": "connect", "share": "40", "stripe_account_id": "bogus"}, "stripe_account_id"),
                          ({"mode": "sideways", "share": "40"}, "mode")):
        bad = await browser.submit(f"{base}/payouts/{t1}", values, form_page=base)
        assert bad.status_code == 422, (values, bad.status_code)
        assert f'id="{ {"stripe_account_id": "acct", "share": "share", "mode": "mode"}[field]}-e-{t1}"' in bad.text, values
    saved = await browser.submit(f"{base}/payouts/{t1}", {"mode": "connect", "stripe_account_id": "acct_T1", "share": "40,5"}, form_page=base)
    assert saved.status_code == 303
    payouts = (await client.get(f"/api/v1/orgs/{org.slug}/payouts", headers=org.headers)).json()
    assert [(p["staff_id"], p["mode"], p["stripe_account_id"], p["share_bps"]) for p in payouts] == [(t1, "connect", "acct_T1", 4050)]
    assert 'value="acct_T1"' in (await browser.get(base)).text
    await browser.get("/logout")

    # a therapist: their own row only, no payouts form, cannot set one
    await browser.login(t1_email)
    mine = (await browser.get(base)).text
    assert "€60.00" in mine and "$70.00" in mine and "€50.00" not in mine and "How each therapist is paid" not in mine
    assert "total" not in (await browser.get(f"{base}/csv")).text.split("\n", 1)[1].split(",")[0]
    assert t2 not in (await browser.get(f"{base}/csv")).text
    token = await browser.csrf(base)
    assert (await browser.http.post(f"{base}/payouts/{t1}", data={"mode": "outside", "share": "100", "_csrf_token": token})).status_code == 403
    await browser.get("/logout")
    await browser.login(t2_email)
    theirs = (await browser.get(base)).text
    assert "€50.00" in theirs and "€60.00" not in theirs
    await browser.get("/logout")
    await browser.login(assistant)
    assert (await browser.get(base)).status_code == 403


async def test_the_person_page_shows_each_sales_credit_ledger(client, browser: Browser):
    org = await signup(client)
    patient = await _patient(client, org)
    package = (await client.post(f"/api/v1/orgs/{org.slug}/packages", json={"name": "Five sessions", "sessions": 5, "validity_days": 90,
               "prices": [{"currency": "EUR", "amount_minor": 25000}]}, headers=org.headers)).json()
    sale = await client.post(f"/api/v1/orgs/{org.slug}/packages/{package['id']}/sales", json={
        "patient_id": patient["id"], "currency": "EUR"}, headers=org.headers)
    assert sale.status_code == 201, sale.text
    adjusted = await client.post(f"/api/v1/orgs/{org.slug}/credits/sales/{sale.json()['id']}/adjustments", json={
        "delta": -2, "reason": "two sessions given before Anima"}, headers=org.headers)
    assert adjusted.status_code == 201, adjusted.text
    await browser.login(org.owner_email)
    page = (await browser.get(f"/o/{org.slug}/people/{patient['id']}")).text
    assert "Credit history" in page and "Purchase" in page and "+5" in page
    assert "Adjustment: two sessions given before Anima" in page and "-2" in page


async def test_with_online_payments_on_the_front_desk_copies_the_pay_link_that_leads_to_checkout(
        paid_client, paid_browser: Browser, stripe_stub, db):
    org, _account, patient = await connected_practice(paid_client, stripe_stub, db)
    assistant, _, _ = await add_member(paid_client, db, org, "ASSISTANT")
    base = f"/o/{org.slug}/payments"
    await paid_browser.login(assistant)
    form = (await paid_browser.get(base)).text
    assert "Online payments are off" not in form
    asked = await paid_browser.submit(base, {"kind": "ask", "patient_id": patient["id"], "amount": "45", "currency": "CHF",
                                             "description": "Session"}, form_page=base)
    assert asked.status_code == 303
    page = (await paid_browser.get(f"{base}/{_payment_id(asked)}?done=asked")).text
    link = re.search(r'id="pay-link" type="text" readonly value="([^"]+)"', page)
    assert link and f"/api/v1/pay/{org.slug}/" in link.group(1) and "CHF" in page and "Payment request created" in page
    path = link.group(1)[link.group(1).index("/api/v1/pay/"):]
    opened = await paid_client.get(path, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("https://checkout.stripe.com/")
