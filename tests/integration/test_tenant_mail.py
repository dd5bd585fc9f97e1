"""The organizations' outbound emails (playbook emails) really sent, and marketing opt-outs.

Emails are queued by the playbook engine's real action (:func:`anima.domains.automations.engine.do_action`)
inside a tenant transaction, sent by :mod:`anima.mail.tenant_sender` to an in-process SMTP server
(aiosmtpd), and unsubscribed from through the public one-click endpoint and page.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import email.message
import uuid

import httpx
import pytest
import sqlalchemy as sa
import structlog

from anima.domains.automations import engine
from anima.domains.automations import rules as lang
from anima.domains.automations.models import AutomationRun
from anima.events.models import OutboxEvent
from anima.jobs.runner import tenant_transaction
from anima.mail import unsubscribe
from anima.mail.sender import backoff
from anima.mail.tenant_sender import run_once, send_tenant_emails
from anima.runtime import build_runtime
from tests.conftest import signup, unique_email
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures
from tests.web.conftest import Browser


@pytest.fixture
def runtime(db, smtp_settings):  # noqa: F811
    return build_runtime(smtp_settings, db)


async def _patient(client, org, *, language: str | None = "es", address: str | None = None) -> tuple[str, str]:
    address = address or unique_email("paciente")
    body = {"first_name": "Sol", "email": address, **({"language": language} if language else {})}
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json=body, headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"], address


async def _queue(runtime, tid: int, org_name: str, patient_id: str, template: str) -> None:
    """What a playbook's ``send_email`` action does, through the engine itself."""
    async with tenant_transaction(runtime, tid) as job:
        facts = {"org.name": org_name, "patient.id": patient_id, "patient.first_name": "Sol", "service.name": "Retiro de otoño",
                 "payment.amount_minor": 4500, "payment.currency": "EUR"}
        rc = engine.RunContext(job, OutboxEvent(id=uuid.uuid4(), type="test", payload={}), facts)
        detail = await engine.do_action(rc, AutomationRun(id=uuid.uuid4()), None, 0, lang.SendEmail(to="patient", template=template))
    assert detail["emails"] == 1


async def _org(client, db):
    org = await signup(client)
    return org, await tenant_id_of(db, org.slug), f"Practice {org.slug}"


async def _rows(db, slug: str) -> list:
    return await in_tenant(db, slug, "SELECT template, status, attempts, last_error, category, language FROM outbound_emails ORDER BY created_at")


async def test_a_survey_arrives_once_in_the_patients_language_with_one_click_unsubscribe(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org, language="es")
    await _queue(runtime, tid, name, patient_id, "retreat_survey")

    first = await run_once(runtime)
    again = await run_once(runtime)
    assert first["sent"] >= 1 and again["sent"] == 0

    [message] = smtp.to(address)
    assert message["Subject"] == f"¿Qué tal tu retiro con {name}?"
    assert message["From"].addresses[0].display_name == name
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Gracias por participar en Retiro de otoño." in text and '<html lang="es">' in html
    # RFC 2369 + RFC 8058: the one-click URI, and the footer's link to the page, signed for this recipient
    one_click = message["List-Unsubscribe"].strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = one_click.rsplit("/", 1)[1]
    assert one_click == f"{runtime.settings.public_url}/api/v1/unsubscribe/{token}"
    page = unsubscribe.page_link(runtime.settings.public_url, token)
    assert page in text and f'href="{page}"' in html and "Darse de baja" in html
    assert [r[:3] for r in await _rows(db, org.slug)] == [("retreat_survey", "sent", 1)]
    assert address not in repr(await in_tenant(db, org.slug, "SELECT * FROM outbound_emails"))  # encrypted at rest


async def test_after_a_one_click_unsubscribe_surveys_are_skipped_and_payment_reminders_still_sent(
        client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org, language=None)
    await _queue(runtime, tid, name, patient_id, "generic")
    await run_once(runtime)
    [news] = smtp.to(address)
    path = news["List-Unsubscribe"].strip("<>").removeprefix(runtime.settings.public_url)

    # a mail client's one-click POST (RFC 8058: a form body, no cookies); repeating it changes nothing
    first = await client.post(path, content="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert first.status_code == 200, first.text
    assert first.json() == {"organization": name, "recorded": True}
    assert (await client.post(path)).json()["recorded"] is False
    # a GET never unsubscribes: it leads to the page that asks
    opened = await client.get(path, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/unsubscribe/")

    await _queue(runtime, tid, name, patient_id, "retreat_survey")
    await _queue(runtime, tid, name, patient_id, "payment_reminder")
    counts = await run_once(runtime)
    assert counts["skipped"] >= 1
    arrived = smtp.to(address)
    assert [m["X-Anima-Kind"] for m in arrived] == ["playbook:generic", "playbook:payment_reminder"]
    reminder = arrived[-1]
    assert reminder.get("List-Unsubscribe") is None and reminder.get("List-Unsubscribe-Post") is None  # transactional
    assert "€45.00" in reminder.get_body(("plain",)).get_content()
    rows = await _rows(db, org.slug)
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("generic", "sent", "marketing"), ("retreat_survey", "skipped", "marketing"), ("payment_reminder", "sent", "transactional")]
    assert rows[1][3] == "the recipient opted out of marketing emails"


async def test_the_unsubscribe_page_asks_then_records(app, client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org, language="it")
    await _queue(runtime, tid, name, patient_id, "retreat_survey")
    await run_once(runtime)
    text = smtp.to(address)[0].get_body(("plain",)).get_content()
    page = next(line for line in text.splitlines() if "/unsubscribe/" in line).strip().removeprefix(runtime.settings.public_url)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        browser = Browser(http)
        asked = await browser.get(page, headers={"Accept-Language": "it"})
        main = asked.text.split("<main", 1)[1]
        assert asked.status_code == 200 and name in main and "Annulla l" in main, main
        assert asked.headers["cache-control"] == "no-store"
        assert await in_tenant(db, org.slug, "SELECT count(*) FROM email_opt_outs") == [(0,)]  # a GET records nothing
        done = await browser.submit(page, {}, headers={"Accept-Language": "it"})
        assert done.status_code == 200 and "Iscrizione annullata" in done.text
        assert await in_tenant(db, org.slug, "SELECT source FROM email_opt_outs") == [("page",)]
        forged = page[:-3] + ("AAA" if not page.endswith("AAA") else "BBB")
        assert (await browser.get(forged)).status_code == 404
        assert (await http.post("/api/v1/unsubscribe/" + "A" * 54 + "." + "A" * 22)).status_code == 404


async def test_two_senders_never_send_a_tenants_email_twice(client, db, smtp, runtime):  # noqa: F811
    orgs = []
    for _ in range(2):
        org = await signup(client, tier="CENTER")
        orgs.append((org, await tenant_id_of(db, org.slug), f"Practice {org.slug}"))
    recipients = []
    for org, tid, name in orgs:
        for _ in range(6):
            patient_id, address = await _patient(client, org)
            await _queue(runtime, tid, name, patient_id, "generic")
            recipients.append(address)

    for _ in range(10):
        reports = await asyncio.gather(*(send_tenant_emails(runtime, limit=4) for _ in range(2)))
        if not any(r.sent for r in reports):
            break
    counts = collections.Counter(m["To"] for m in smtp.messages)
    assert all(counts[r] == 1 for r in recipients), {r: counts[r] for r in recipients}


async def test_a_451_retries_later_and_notes_the_tenant_due_then_a_550_fails_with_the_reason(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org)
    await _queue(runtime, tid, name, patient_id, "payment_reminder")
    smtp.refuse = "451 4.3.0 Try again later"
    before = datetime.datetime.now(datetime.UTC)
    await run_once(runtime)
    [row] = await _rows(db, org.slug)
    assert row[1:4] == ("queued", 1, "451 4.3.0 Try again later") and smtp.to(address) == []
    async with db.admin.connect() as conn:
        due = (await conn.execute(sa.text(
            "SELECT min(due_at) FROM platform.tenant_work WHERE tenant_id = :t AND kind = 'mail'"), {"t": tid})).scalar_one()
    assert due >= before + backoff(1) - datetime.timedelta(seconds=1)  # the tenant is visited again when the retry is due

    await in_tenant(db, org.slug, "UPDATE outbound_emails SET next_attempt_at = now()")
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.tenant_work SET due_at = now() WHERE tenant_id = :t AND kind = 'mail'"), {"t": tid})
    smtp.refuse = "550 5.1.1 No such user here"
    await run_once(runtime)
    [row] = await _rows(db, org.slug)
    assert row[1:4] == ("failed", 2, "550 5.1.1 No such user here")


async def _mail_index(db, tid: int) -> list[datetime.datetime]:
    async with db.admin.connect() as conn:
        return list((await conn.execute(sa.text(
            "SELECT due_at FROM platform.tenant_work WHERE tenant_id = :t AND kind = 'mail'"), {"t": tid})).scalars())


async def test_once_sent_the_tenant_leaves_the_due_index(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, _ = await _patient(client, org)
    await _queue(runtime, tid, name, patient_id, "generic")
    assert len(await _mail_index(db, tid)) == 1  # the engine noted it, due now
    before = datetime.datetime.now(datetime.UTC)
    await run_once(runtime)
    # what is left is the claim's lease end (had the sender died, the email would be taken again then)
    assert all(due >= before + datetime.timedelta(minutes=4) for due in await _mail_index(db, tid))
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.tenant_work SET due_at = now() WHERE tenant_id = :t AND kind = 'mail'"), {"t": tid})
    await run_once(runtime)
    assert await _mail_index(db, tid) == []  # nothing left: no later pass enters this tenant
    assert [r[1] for r in await _rows(db, org.slug)] == ["sent"]


async def test_logs_name_ids_never_addresses_or_content(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org)
    await _queue(runtime, tid, name, patient_id, "retreat_survey")
    with structlog.testing.capture_logs() as logs:
        await run_once(runtime)
    text = repr(logs)
    assert "email sent" in text and address not in text and "Retiro" not in text and "/unsubscribe/" not in text


async def test_an_email_left_sending_by_a_crashed_sender_is_sent_once_when_its_lease_ends(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org)
    await _queue(runtime, tid, name, patient_id, "payment_reminder")
    # as a sender that claimed it and died: the row is 'sending' and the index holds the lease end
    await in_tenant(db, org.slug, "UPDATE outbound_emails SET status = 'sending', attempts = 1, next_attempt_at = now() + interval '4 minutes'")
    assert (await send_tenant_emails(runtime)).sent == [] and smtp.to(address) == []  # the lease holds
    assert min(await _mail_index(db, tid)) > datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=3)  # noted for the lease end
    # the lease ends (time passes for the row and for the index alike)
    await in_tenant(db, org.slug, "UPDATE outbound_emails SET next_attempt_at = now() - interval '1 second'")
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.tenant_work SET due_at = now() WHERE tenant_id = :t AND kind = 'mail'"), {"t": tid})
    await run_once(runtime)
    assert len(smtp.to(address)) == 1
    assert [r[1:3] for r in await _rows(db, org.slug)] == [("sent", 2)]


async def test_an_opt_out_in_one_organization_does_not_silence_another(client, db, smtp, runtime):  # noqa: F811
    address = unique_email("shared")
    (a, tid_a, name_a), (b, tid_b, name_b) = await _org(client, db), await _org(client, db)
    patient_a, _ = await _patient(client, a, address=address)
    patient_b, _ = await _patient(client, b, address=address)
    await _queue(runtime, tid_a, name_a, patient_a, "generic")
    await run_once(runtime)
    path = smtp.to(address)[0]["List-Unsubscribe"].strip("<>").removeprefix(runtime.settings.public_url)
    assert (await client.post(path)).json() == {"organization": name_a, "recorded": True}

    await _queue(runtime, tid_a, name_a, patient_a, "retreat_survey")
    await _queue(runtime, tid_b, name_b, patient_b, "retreat_survey")
    await run_once(runtime)
    assert [m["From"].addresses[0].display_name for m in smtp.to(address)] == [name_a, name_b]
    assert [r[1] for r in await _rows(db, a.slug)] == ["sent", "skipped"]
    assert [r[1] for r in await _rows(db, b.slug)] == ["sent"]


async def test_hostile_unsubscribe_links_are_refused_and_never_echoed(client):
    for token in ("%00" * 10, "<script>alert(1)<", "A" * 5000, "%FF%FE", "A" * 54 + "." + "A" * 22):
        page = await client.get(f"/unsubscribe/{token}", headers={"Accept": "text/html"})
        assert page.status_code in (404, 422) and "alert(1)" not in page.text and "A" * 54 not in page.text  # 422: NUL refused at the edge
        one_click = await client.post(f"/api/v1/unsubscribe/{token}")
        assert one_click.status_code in (404, 422), one_click.text  # a JSON problem (its "instance" is the path, as everywhere)


async def test_a_marketing_email_queued_without_a_blind_index_still_respects_an_opt_out(client, db, smtp, runtime):  # noqa: F811
    org, tid, name = await _org(client, db)
    patient_id, address = await _patient(client, org)
    await _queue(runtime, tid, name, patient_id, "generic")
    await run_once(runtime)
    path = smtp.to(address)[0]["List-Unsubscribe"].strip("<>").removeprefix(runtime.settings.public_url)
    assert (await client.post(path)).status_code == 200
    await _queue(runtime, tid, name, patient_id, "retreat_survey")
    # as a row queued before blind indexes were kept (the tenant migration leaves them NULL)
    await in_tenant(db, org.slug, "UPDATE outbound_emails SET recipient_bidx = NULL WHERE status = 'queued'")
    await run_once(runtime)
    assert len(smtp.to(address)) == 1
    assert [r[1] for r in await _rows(db, org.slug)] == ["sent", "skipped"]


async def test_a_form_link_is_sent_in_the_forms_language_as_a_transactional_email_even_after_an_opt_out(
    client, db, smtp, runtime,  # noqa: F811
):
    org, tid, _ = await _org(client, db)
    patient_id, address = await _patient(client, org, language="es")
    form = (await client.post(f"/api/v1/orgs/{org.slug}/forms/system", json={"template": "phq9", "language": "es"}, headers=org.headers)).json()
    await _queue(runtime, tid, "Consulta Sol", patient_id, "retreat_survey")
    await run_once(runtime)
    [survey] = smtp.to(address)
    path = survey["List-Unsubscribe"].strip("<>").removeprefix(runtime.settings.public_url)
    assert (await client.post(path)).json()["recorded"] is True  # the patient opted out of marketing

    assigned = await client.post(f"/api/v1/orgs/{org.slug}/forms/{form['id']}/assignments",
                                 json={"patient_id": patient_id, "send_email": True}, headers=org.headers)
    assert assigned.status_code == 201 and assigned.json()["emailed"] is True, assigned.text
    assert (await run_once(runtime))["sent"] == 1  # noted due at once: no sweep needed
    message = smtp.to(address)[-1]
    assert message["List-Unsubscribe"] is None  # a link the patient needs is not marketing
    assert message["Subject"].startswith("Por favor, rellena:")
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    url = assigned.json()["url"]
    assert url in text and f'href="{url}"' in html and org.slug in url
    assert '<html lang="es">' in html and "El enlace funciona una vez" in text
    assert (await in_tenant(db, org.slug, "SELECT category, status FROM outbound_emails WHERE template = 'form_assignment'")) == [("transactional", "sent")]


async def test_after_a_crash_a_handed_email_is_in_doubt_and_listed_and_an_unhanded_one_is_sent(client, db, smtp, runtime):  # noqa: F811
    """The state a sender killed mid-batch leaves (its lease over): one email handed to the server
    before the crash (``handed_at`` set), one only claimed. The first is never sent again but
    listed to operators as in doubt; the second is sent once. (The real kill is in
    tests/e2e/test_mail_exactly_once.py, for the platform's outbox that shares this logic.)"""
    from anima.mail.sender import IN_DOUBT

    org, tid, name = await _org(client, db)
    doubtful_patient, doubtful_address = await _patient(client, org)
    claimed_patient, claimed_address = await _patient(client, org)
    await _queue(runtime, tid, name, doubtful_patient, "payment_reminder")
    await _queue(runtime, tid, name, claimed_patient, "payment_reminder")
    await in_tenant(db, org.slug, "UPDATE outbound_emails SET status = 'sending', attempts = 1, next_attempt_at = now() - interval '1 second', "
                                  "handed_at = CASE WHEN patient_id = :p THEN now() - interval '5 minutes' END",
                    {"p": uuid.UUID(doubtful_patient)})
    await run_once(runtime)
    await run_once(runtime)
    assert smtp.to(doubtful_address) == [] and len(smtp.to(claimed_address)) == 1
    rows = dict(await in_tenant(db, org.slug, "SELECT patient_id::text, status || ':' || coalesce(last_error, '') FROM outbound_emails"))
    assert rows == {doubtful_patient: f"failed:{IN_DOUBT}", claimed_patient: "sent:"}
    async with db.admin.connect() as conn:
        listed = (await conn.execute(sa.text("SELECT reason FROM platform.mail_failures WHERE tenant_id = :t"), {"t": tid})).scalars().all()
    assert listed == [IN_DOUBT]
