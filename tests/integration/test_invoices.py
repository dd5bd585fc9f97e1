"""Invoices through HTTP: drafts, gap-free numbers under concurrency, frozen issued invoices,
credit notes, PDFs in the organization's language."""

from __future__ import annotations

import asyncio
import datetime

from tests.conftest import add_member, bearer, signup


async def _practice(client, db):
    org = await signup(client, tier="PRO")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Núria", "last_name": "Puig"}, headers=org.headers)).json()
    return org, patient


def _draft(patient, **extra):
    return {"patient_id": patient["id"], "currency": "EUR", "lines": [
        {"description": "Session 50 min", "unit_minor": 6000, "quantity": 2, "discount_bps": 1000},
        {"description": "Report", "unit_minor": 3333}], **extra}


async def test_drafts_issue_with_frozen_totals_and_bad_input_is_refused(client, db):
    org, patient = await _practice(client, db)
    base = f"/api/v1/orgs/{org.slug}/invoices"
    assert (await client.put(f"{base}/settings", json={"prefix": "AC", "tax_rate_bps": 2100, "tax_label": "IVA"}, headers=org.headers)).status_code == 200
    for change, field in (({"currency": "XYZ"}, "currency"), ({"lines": []}, "lines"),
                          ({"lines": [{"description": "x\x00", "unit_minor": 1}]}, "description"),
                          ({"lines": [{"description": "x", "unit_minor": -1}]}, "unit_minor"),
                          ({"lines": [{"description": "x", "unit_minor": 1, "discount_bps": 10001}]}, "discount_bps"),
                          ({"lines": [{"description": "x", "unit_minor": "1"}]}, "unit_minor"),
                          ({"lines": [{"description": "x", "unit_minor": 100_000_000, "quantity": 10_000}]}, "lines"),
                          ({"payment_id": "00000000-0000-4000-8000-000000000000"}, "payment_id")):
        bad = await client.post(base, json=_draft(patient, **change), headers=org.headers)
        assert bad.status_code in (400, 422) and field in bad.text, (change, bad.text)
    bad_rate = await client.put(f"{base}/settings", json={"prefix": "AC", "tax_rate_bps": 10001}, headers=org.headers)
    assert bad_rate.status_code in (400, 422) and "tax_rate_bps" in bad_rate.text
    draft = (await client.post(base, json=_draft(patient), headers=org.headers)).json()
    # 2 × 60.00 − 10 % = 108.00; + 33.33 = 141.33; IVA 21 % = 29.6793 → 29.68; total 171.01
    assert (draft["status"], draft["number"], draft["subtotal_minor"], draft["tax_minor"], draft["total_minor"]) == ("DRAFT", None, 14133, 2968, 17101)
    issued = (await client.post(f"{base}/{draft['id']}/issue", headers=org.headers)).json()
    year = datetime.datetime.now(datetime.UTC).year
    assert issued["status"] == "ISSUED" and issued["number"] == f"AC-{year}-00001" and issued["total_minor"] == 17101
    assert (await client.post(f"{base}/{draft['id']}/issue", headers=org.headers)).status_code == 409
    # a later tax change does not touch what was issued
    await client.put(f"{base}/settings", json={"prefix": "AC", "tax_rate_bps": 1000, "tax_label": "IVA"}, headers=org.headers)
    assert (await client.get(f"{base}/{draft['id']}", headers=org.headers)).json()["tax_minor"] == 2968
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    assert (await client.get(base, headers=bearer(therapist["access_token"]))).status_code == 403
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assert (await client.post(f"{base}/{draft['id']}/credit-note", json={"reason": "wrong"}, headers=bearer(assistant["access_token"]))).status_code == 403
    note = await client.post(f"{base}/{draft['id']}/credit-note", json={"reason": "Wrong patient"}, headers=org.headers)
    assert note.status_code == 201
    body = note.json()
    assert (body["kind"], body["status"], body["number"], body["corrects_id"], body["total_minor"]) == (
        "CREDIT_NOTE", "ISSUED", f"AC-{year}-00002", draft["id"], 17101)
    assert (await client.post(f"{base}/{draft['id']}/credit-note", json={"reason": "again"}, headers=org.headers)).status_code == 409
    paid = await client.post(f"{base}/{draft['id']}/pay", headers=org.headers)
    assert paid.status_code == 200 and paid.json()["status"] == "PAID"
    assert (await client.post(f"{base}/{draft['id']}/void", headers=org.headers)).status_code == 409


async def test_twenty_concurrent_issues_get_twenty_consecutive_numbers(client, db):
    org, patient = await _practice(client, db)
    base = f"/api/v1/orgs/{org.slug}/invoices"
    drafts = [(await client.post(base, json=_draft(patient), headers=org.headers)).json()["id"] for _ in range(20)]
    answers = await asyncio.gather(*(client.post(f"{base}/{d}/issue", headers=org.headers) for d in drafts))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    numbers = sorted(int(a.json()["number"].rsplit("-", 1)[1]) for a in answers)
    assert numbers == list(range(1, 21))


async def test_pdf_in_the_organization_language(client, db):
    org, patient = await _practice(client, db)
    assert (await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "es", "timezone": "Europe/Madrid"},
                               headers=org.headers)).status_code == 200
    base = f"/api/v1/orgs/{org.slug}/invoices"
    draft = (await client.post(base, json=_draft(patient), headers=org.headers)).json()
    await client.post(f"{base}/{draft['id']}/issue", headers=org.headers)
    response = await client.get(f"{base}/{draft['id']}/pdf", headers=org.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/pdf")
    assert response.content.startswith(b"%PDF-") and len(response.content) > 1000


def test_invoice_html_uses_babel_formats_and_escapes():
    from anima.domains.invoices.models import Invoice, InvoiceLine
    from anima.domains.invoices.pdf import render_html

    inv = Invoice(kind="INVOICE", status="ISSUED", number="AC-2026-00007", currency="EUR", tax_rate_bps=2100, tax_label="IVA",
                  subtotal_minor=123456, discount_minor=0, tax_minor=25926, total_minor=149382, language="es",
                  issued_at=datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC))
    lines = [InvoiceLine(position=1, description="<script>x</script>", quantity=1, unit_minor=123456, discount_bps=0)]
    page = render_html(inv, lines, organization="Centre <b>", patient_name="Núria Puig", time_zone="Europe/Madrid")
    assert "1.234,56\xa0€" in page and "1.493,82\xa0€" in page and "Factura AC-2026-00007" in page
    assert "2 de marzo de 2026 (Europe/Madrid)" in page  # 23:30 UTC is already the 2nd in Madrid
    assert "<script>" not in page and "Centre &lt;b&gt;" in page


async def test_an_issued_invoice_is_emailed_through_the_outbox_in_the_organization_language(client, db):
    import sqlalchemy as sa

    org = await signup(client, tier="PRO")
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "ca"}, headers=org.headers)
    email = f"pacient-{org.slug}@example.org"
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Pere", "email": email}, headers=org.headers)).json()
    silent = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Nobody"}, headers=org.headers)).json()
    base = f"/api/v1/orgs/{org.slug}/invoices"
    draft = (await client.post(base, json=_draft(patient), headers=org.headers)).json()
    send = f"/api/v1/orgs/{org.slug}/invoice-emails"
    assert (await client.post(send, json={"invoice_id": draft["id"]}, headers=org.headers)).status_code == 409  # a draft
    issued = (await client.post(f"{base}/{draft['id']}/issue", headers=org.headers)).json()
    sent = await client.post(send, json={"invoice_id": draft["id"]}, headers=org.headers)
    assert sent.status_code == 201, sent.text
    other = (await client.post(base, json=_draft(silent), headers=org.headers)).json()
    await client.post(f"{base}/{other['id']}/issue", headers=org.headers)
    assert (await client.post(send, json={"invoice_id": other["id"]}, headers=org.headers)).status_code == 409  # no address
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    assert (await client.post(send, json={"invoice_id": draft["id"]}, headers=bearer(therapist["access_token"]))).status_code == 403
    async with db.admin.connect() as conn:
        row = (await conn.execute(sa.text("SELECT subject, body FROM platform.email_outbox WHERE recipient = :r AND kind = 'invoice'"),
                                  {"r": email})).one()
    assert row.subject == f"Factura {issued['number']} de Practice {org.slug}"
    assert "141,33\xa0€" in row.body and "emesa el" in row.body  # no tax rate set: 141.33


async def test_an_invoice_tied_to_a_payment_is_paid_when_the_payment_is(client, db):
    org, patient = await _practice(client, db)
    payment = (await client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 14133, "currency": "EUR"},
                                 headers=org.headers)).json()
    base = f"/api/v1/orgs/{org.slug}/invoices"
    draft = (await client.post(base, json=_draft(patient, payment_id=payment["id"]), headers=org.headers)).json()
    await client.post(f"{base}/{draft['id']}/issue", headers=org.headers)
    assert (await client.post(f"/api/v1/orgs/{org.slug}/payments/{payment['id']}/succeed", headers=org.headers)).status_code == 200
    assert (await client.get(f"{base}/{draft['id']}", headers=org.headers)).json()["status"] == "PAID"
