"""The packages and invoices pages (owners and assistants), the person page's credits, and the public
page where a client buys a package online (503 text without online payments; with them, the sale's
payment request and a 303 to its pay link)."""

from __future__ import annotations

import datetime

from tests.conftest import add_member, signup
from tests.integration.billing_support import paid_client  # noqa: F401 - fixture
from tests.integration.test_practice_payments import connected_practice
from tests.web.account_support import paid_browser, stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.web.conftest import Browser


async def _service(client, org) -> dict:
    made = await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Therapy session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE"}, headers=org.headers)
    assert made.status_code == 201, made.text
    return made.json()


async def test_owners_define_and_edit_assistants_sell_and_the_person_page_shows_credits_left(client, browser: Browser, db):
    org = await signup(client)
    service = await _service(client, org)
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Lia", "last_name": "Puig"},
                                 headers=org.headers)).json()
    base = f"/o/{org.slug}/packages"
    await browser.login(org.owner_email)
    empty = await browser.get(base)
    assert empty.status_code == 200 and "No packages yet" in empty.text and 'aria-current="page">Packages' in empty.text
    bad = await browser.submit(base, {"name": "Ten", "sessions": "ten", "validity_days": "90", "amount": "12.345", "currency": "EUR", 
                                      "service_ids": service["id"], "active": "on"}, form_page=base)
    assert bad.status_code == 422 and "whole number" in bad.text and "2 decimals" in bad.text and 'value="Ten"' in bad.text
    for hostile in ({"name": "a\x00b"}, {"name": "n" * 5_000}, {"sessions": "9" * 30}, {"validity_days": "-1"}, {"currency": "EU\x00"}):
        refused = await browser.submit(base, {"name": "Ten", "sessions": "10", "validity_days": "90", "amount": "450", "currency": "EUR",
                                              **hostile}, form_page=base)
        assert refused.status_code == 422, (hostile, refused.status_code)
    made = await browser.submit(base, {"name": "Ten sessions", "sessions": "10", "validity_days": "90", "amount": "450",
                                       "currency": "EUR", "service_ids": service["id"], "active": "on"}, form_page=base)
    assert made.status_code == 303, made.text
    package = (await client.get(f"/api/v1/orgs/{org.slug}/packages", headers=org.headers)).json()[0]
    assert (package["sessions"], package["validity_days"], package["prices"], package["service_ids"]) == (
        10, 90, [{"currency": "EUR", "amount_minor": 45000}], [service["id"]])
    edit = await browser.get(f"{base}?edit={package['id']}")
    assert "Edit Ten sessions" in edit.text and 'value="450.00"' in edit.text
    saved = await browser.submit(f"{base}/{package['id']}", {"name": "Ten sessions", "sessions": "10", "validity_days": "90",
                                                             "amount": "480,50", "currency": "EUR", "service_ids": service["id"],
                                                             "active": "on"}, form_page=base)
    assert saved.status_code == 303
    listed = (await browser.get(base)).text
    assert "€480.50" in listed and "Therapy session" in listed and "90 days" in listed
    rule = await browser.submit(f"{base}/credit-rule", {"when_exhausted": "REFUSE"}, form_page=base)
    assert rule.status_code == 303
    assert (await client.get(f"/api/v1/orgs/{org.slug}/credit-rules", headers=org.headers)).json()["when_exhausted"] == "REFUSE"
    # an assistant sells (recorded) but may not define; a therapist sees no packages page
    email, _, _ = await add_member(client, db, org, "ASSISTANT")
    therapist_email, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.get("/logout")
    await browser.login(email)
    page = (await browser.get(base)).text
    assert "Define a package" not in page and "Record sale" in page and "Lia Puig" in page
    assert (await browser.submit(base, {"name": "X", "sessions": "1", "validity_days": "1", "amount": "1", "currency": "EUR"},
                                 form_page=base)).status_code == 403
    sold = await browser.submit(f"{base}/{package['id']}/sales", {"patient_id": patient["id"], "currency": "EUR"}, form_page=base)
    assert sold.status_code == 303
    assert "10 of 10" in (await browser.get(f"{base}?done=sold")).text
    # a staff booking of the covered service uses a credit; the person page says so
    starts = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    booking = await client.post(f"/api/v1/orgs/{org.slug}/bookings", json={"patient_id": patient["id"], "service_id": service["id"],
                                                                            "starts_at": starts.isoformat()}, headers=org.headers)
    assert booking.status_code == 201, booking.text
    person = (await browser.get(f"/o/{org.slug}/people/{patient['id']}")).text
    assert "9 credits left" in person and "Ten sessions: 9 of 10" in person and "paid by package (9 left)" in person
    await browser.get("/logout")
    await browser.login(therapist_email)
    assert (await browser.get(base)).status_code == 403
    assert ">Packages</a>" not in (await browser.get(f"/o/{org.slug}/")).text


async def test_invoices_page_drafts_issues_pays_voids_credits_filters_pages_and_downloads(client, browser: Browser, db):
    org = await signup(client)
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Lia"}, headers=org.headers)).json()
    base = f"/o/{org.slug}/invoices"
    await browser.login(org.owner_email)
    assert "No invoices yet" in (await browser.get(base)).text
    bad = await browser.submit(base, {"patient_id": patient["id"], "description": "", "amount": "abc", "quantity": "1", "currency": "EUR"},
                               form_page=base)
    assert bad.status_code == 422 and "Enter an amount" in bad.text
    for hostile in ({"description": "a\x00b"}, {"patient_id": "nope"}, {"quantity": "99999999999"}, {"description": "d" * 5_000}):
        refused = await browser.submit(base, {"patient_id": patient["id"], "description": "Session", "amount": "60", "quantity": "1",
                                              "currency": "EUR", **hostile}, form_page=base)
        assert refused.status_code == 422, (hostile, refused.status_code)
    drafted = await browser.submit(base, {"patient_id": patient["id"], "description": "Session", "amount": "60", "quantity": "2",
                                          "currency": "EUR"}, form_page=base)
    assert drafted.status_code == 303
    invoices = (await client.get(f"/api/v1/orgs/{org.slug}/invoices", headers=org.headers)).json()["items"]
    assert invoices[0]["total_minor"] == 12000 and invoices[0]["status"] == "DRAFT"
    first = invoices[0]["id"]
    assert (await browser.submit(f"{base}/{first}/issue", {}, form_page=base)).status_code == 303
    issued = (await client.get(f"/api/v1/orgs/{org.slug}/invoices/{first}", headers=org.headers)).json()
    assert issued["number"] and issued["number"] in (await browser.get(f"{base}?status=ISSUED")).text
    again = await browser.submit(f"{base}/{first}/issue", {}, form_page=base)
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert (await browser.submit(f"{base}/{first}/pay", {}, form_page=base)).status_code == 303
    credited = await browser.submit(f"{base}/{first}/credit-note", {"reason": "Charged twice"}, form_page=base)
    assert credited.status_code == 303
    listed = (await browser.get(base)).text
    assert "Credit note" in listed and "€120.00" in listed
    assert "No invoices in this status" in (await browser.get(f"{base}?status=VOID")).text
    pdf = await browser.get(f"{base}/{first}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    for i in range(26):
        await client.post(f"/api/v1/orgs/{org.slug}/invoices", json={"patient_id": patient["id"], "currency": "EUR",
                          "lines": [{"description": f"Item {i}", "unit_minor": 100}]}, headers=org.headers)
    one = (await browser.get(f"{base}?status=DRAFT")).text
    assert "Page 1 of 2" in one and "offset=25" in one
    assert "Page 2 of 2" in (await browser.get(f"{base}?status=DRAFT&offset=25")).text
    # an assistant issues and marks paid but may not void
    drafts = (await client.get(f"/api/v1/orgs/{org.slug}/invoices", headers=org.headers)).json()["items"]
    open_one = next(i for i in drafts if i["status"] == "DRAFT")["id"]
    await client.post(f"/api/v1/orgs/{org.slug}/invoices/{open_one}/issue", headers=org.headers)
    assert f"{open_one}/void" in (await browser.get(base)).text
    email, _, _ = await add_member(client, db, org, "ASSISTANT")
    await browser.get("/logout")
    await browser.login(email)
    page = await browser.get(base)
    assert page.status_code == 200 and f"{open_one}/void" not in page.text and f"{open_one}/pay" in page.text
    assert (await browser.submit(f"{base}/{first}/void", {}, form_page=base)).status_code == 403


async def test_the_public_packages_page_says_online_payment_is_off_with_a_503(client, browser: Browser, db):
    org = await signup(client)
    await client.post(f"/api/v1/orgs/{org.slug}/packages", json={"name": "Five sessions", "sessions": 5, "validity_days": 60,
                      "prices": [{"currency": "EUR", "amount_minor": 25000}]}, headers=org.headers)
    page = await browser.get(f"/p/{org.slug}/packages")
    assert page.status_code == 200 and "Five sessions" in page.text and "€250.00" in page.text
    assert "Online payment is not available" in page.text and "Buy and pay online" not in page.text
    package = (await client.get(f"/api/v1/orgs/{org.slug}/packages", headers=org.headers)).json()[0]
    refused = await browser.submit(f"/p/{org.slug}/packages", {"choice": f"{package['id']}|EUR", "first_name": "Ona",
                                                               "email": "ona@example.org", "consent": "1"}, form_page=f"/p/{org.slug}/packages")
    assert refused.status_code == 503 and "Online payment is not available" in refused.text
    assert (await browser.get("/p/no-such-practice/packages")).status_code == 404


async def test_a_client_buys_a_package_online_and_is_sent_to_the_pay_link(paid_client, paid_browser: Browser, stripe_stub, db):
    org, _, _ = await connected_practice(paid_client, stripe_stub, db)
    made = await paid_client.post(f"/api/v1/orgs/{org.slug}/packages", json={"name": "Ten sessions", "sessions": 10, "validity_days": 90,
                                  "prices": [{"currency": "EUR", "amount_minor": 45000}]}, headers=org.headers)
    package = made.json()
    url = f"/p/{org.slug}/packages"
    page = (await paid_browser.get(url)).text
    assert "Buy and pay online" in page and "€450.00" in page
    no_consent = await paid_browser.submit(url, {"choice": f"{package['id']}|EUR", "first_name": "Ona", "email": "ona@example.org"},
                                           form_page=url)
    assert no_consent.status_code == 422 and 'value="Ona"' in no_consent.text
    bad_choice = await paid_browser.submit(url, {"choice": "nothing", "first_name": "Ona", "email": "ona@example.org", "consent": "1"},
                                           form_page=url)
    assert bad_choice.status_code == 422
    for hostile in ({"first_name": "O\x00na"}, {"email": "x" * 10_000 + "@example.org"}, {"first_name": "y" * 5_000},
                    {"email": "not-an-email"}, {"choice": f"{package['id']}|XX\x00"}):
        refused = await paid_browser.submit(url, {"choice": f"{package['id']}|EUR", "first_name": "Ona", "email": "ona@example.org",
                                                  "consent": "1", **hostile}, form_page=url)
        assert 400 <= refused.status_code < 500, (hostile, refused.status_code)
    bought = await paid_browser.submit(url, {"choice": f"{package['id']}|EUR", "first_name": "Ona", "email": "ona@example.org",
                                             "consent": "1"}, form_page=url)
    assert bought.status_code == 303 and bought.headers["location"].startswith(f"/api/v1/pay/{org.slug}/"), bought.text
    checkout = await paid_client.get(bought.headers["location"])
    assert checkout.status_code == 303
    patients = (await paid_client.get(f"/api/v1/orgs/{org.slug}/patients", params={"email": "ona@example.org"}, headers=org.headers)).json()
    ona = patients["items"][0]["id"]
    credits = (await paid_client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{ona}", headers=org.headers)).json()
    assert credits["sales"][0]["status"] == "PENDING_PAYMENT" and credits["sales"][0]["amount_minor"] == 45000


async def test_a_known_client_self_booking_uses_a_credit_and_at_zero_is_refused_under_refuse(client, browser: Browser, db):
    from urllib.parse import quote

    from tests.integration.booking_support import day_ahead, practice, slots

    p = await practice(client, db, patients=0)
    lia = (await client.post(f"{p.base}/patients", json={"first_name": "Lia", "email": "lia@example.org"}, headers=p.org.headers)).json()
    package = (await client.post(f"{p.base}/packages", json={"name": "One", "sessions": 1, "validity_days": 30,
               "service_ids": [p.service["id"]], "prices": [{"currency": "EUR", "amount_minor": 6000}]}, headers=p.org.headers)).json()
    await client.post(f"{p.base}/packages/{package['id']}/sales", json={"patient_id": lia["id"], "currency": "EUR"}, headers=p.org.headers)
    await client.put(f"{p.base}/credit-rules", json={"no_show_uses_credit": True, "when_exhausted": "REFUSE"}, headers=p.org.headers)
    starts = [s["starts_at"] for s in await slots(client, p, day_ahead(6))]

    async def book(start: str):
        data = {"service": p.service["id"], "therapist": "any", "zone": "Europe/Madrid", "start": start, "first_name": "Lia",
                "last_name": "", "email": "lia@example.org", "phone": "", "time_zone": "Europe/Madrid", "consent": "1", "website": ""}
        form_page = f"/p/{p.org.slug}/book?service={data['service']}&therapist=any&zone={quote('Europe/Madrid')}&start={quote(start)}"
        return await browser.submit(f"/p/{p.org.slug}/book", data, form_page=form_page)

    first = await book(starts[0])
    assert first.status_code == 303, first.text
    credits = (await client.get(f"{p.base}/credits/patients/{lia['id']}", headers=p.org.headers)).json()
    assert credits["balance"] == 0 and [e["kind"] for e in credits["entries"]][0] == "use"
    second = await book(starts[4])
    assert second.status_code == 409 and "no credits left" in second.text
    bookings = (await client.get(f"{p.base}/bookings", params={"patient_id": lia["id"]}, headers=p.org.headers)).json()
    assert bookings["total"] == 1


async def test_checkout_returns_to_the_bought_page_and_a_full_practice_writes_nothing(paid_client, paid_browser: Browser, stripe_stub, db):
    """Checkout's success_url is the bought page (pending until Stripe says paid), its cancel_url the
    packages page; a bad zone is named; at the plan's patient limit a new buyer gets a clear page and
    nothing is written (BUILDER: 3 patients)."""
    from tests.integration.events_support import in_tenant

    org, _, _ = await connected_practice(paid_client, stripe_stub, db, tier="BUILDER")
    package = (await paid_client.post(f"/api/v1/orgs/{org.slug}/packages", json={
        "name": "Ten sessions", "sessions": 10, "validity_days": 90, "prices": [{"currency": "EUR", "amount_minor": 45000}]},
        headers=org.headers)).json()
    url = f"/p/{org.slug}/packages"
    form = {"choice": f"{package['id']}|EUR", "first_name": "Ona", "email": "ona@example.org", "consent": "1", "time_zone": "Europe/Rome"}
    bad_zone = await paid_browser.submit(url, {**form, "time_zone": "Mars/Olympus"}, form_page=url)
    assert bad_zone.status_code == 422 and "time zone" in bad_zone.text.lower()
    bought = await paid_browser.submit(url, form, form_page=url)
    assert bought.status_code == 303, bought.text
    token = bought.headers["location"].rsplit("/", 1)[1]
    assert (await paid_client.get(bought.headers["location"])).status_code == 303
    sent = stripe_stub.calls("/v1/checkout/sessions")[-1].form
    assert sent["success_url"].endswith(f"/p/{org.slug}/packages/bought/{token}") and sent["cancel_url"].endswith(f"{url}?cancelled=1")
    pending = await paid_browser.get(f"{url}/bought/{token}")
    assert pending.status_code == 200 and "we are confirming your package" in pending.text and "Ten sessions" in pending.text
    assert pending.headers["cache-control"] == "no-store"
    for wrong in ("x" * 65, "no-such-token"):
        assert (await paid_browser.get(f"{url}/bought/{wrong}")).status_code == 404
    other = (await paid_client.post(f"/api/v1/orgs/{org.slug}/payments", json={
        "patient_id": (await in_tenant(db, org.slug, "SELECT id FROM patients LIMIT 1"))[0][0].__str__(), "amount_minor": 100,
        "currency": "EUR"}, headers=org.headers)).json()
    assert (await paid_browser.get(f"{url}/bought/{other['pay_path'].rsplit('/', 1)[1]}")).status_code == 404  # not a package's
    back = await paid_browser.get(f"{url}?cancelled=1")
    assert "nothing was charged" in back.text
    # Pau and Ona are two patients; a third fills the plan, and a new buyer then writes nothing
    assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Cai"}, headers=org.headers)).status_code == 201
    counts = "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM leads), (SELECT count(*) FROM package_sales)"
    before = tuple((await in_tenant(db, org.slug, counts))[0])
    full = await paid_browser.submit(url, {**form, "email": "new@example.org"}, form_page=url)
    assert full.status_code == 403 and "Buying online is not available" in full.text
    assert tuple((await in_tenant(db, org.slug, counts))[0]) == before == (3, 1, 1)
    again = await paid_browser.submit(url, form, form_page=url)  # a known buyer still buys at the limit
    assert again.status_code == 303
