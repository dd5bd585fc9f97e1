"""Undelivered messages on the operator console and the operator API: counts, reasons, a retry —
never a recipient or a word of content; operators only."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from anima.identity.operators import ensure_operator
from anima.mail.messages import queue_email
from anima.mail.sender import send_due_emails
from anima.mail.tenant_sender import run_once
from anima.runtime import build_runtime
from tests.conftest import PASSWORD, bearer, signup, unique_email
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures
from tests.integration.test_tenant_mail import _patient, _queue
from tests.web.conftest import Browser


async def _failed_platform_email(db, smtp, settings) -> tuple[uuid.UUID, str]:  # noqa: F811
    recipient = unique_email("bounced")
    async with db.sessionmaker()() as session:
        async with session.begin():
            email = await queue_email(session, recipient=recipient, subject="Secret subject", body="Secret body", kind="invitation")
    smtp.refuse = "550 5.1.1 No such user here"
    await send_due_emails(db, settings=settings, limit=500)
    smtp.refuse = None
    return email.id, recipient


async def test_the_console_lists_failures_without_content_and_retries_one(client, db, browser: Browser, smtp, smtp_settings):  # noqa: F811
    platform_id, recipient = await _failed_platform_email(db, smtp, smtp_settings)
    org = await signup(client)
    runtime = build_runtime(smtp_settings, db)
    patient_id, address = await _patient(client, org)
    await _queue(runtime, await tenant_id_of(db, org.slug), f"Practice {org.slug}", patient_id, "payment_reminder")
    smtp.refuse = "550 5.7.1 Rejected by policy"
    await run_once(runtime)
    smtp.refuse = None
    [(tenant_email_id,)] = await in_tenant(db, org.slug, "SELECT id FROM outbound_emails")

    operator = unique_email("op")
    await ensure_operator(db, email=operator, password=PASSWORD, display_name="Mail Operator")
    await browser.login(operator)
    page = await browser.get("/operator/mail")
    assert page.status_code == 200
    main = page.text.split("<main", 1)[1]
    assert "550 5.1.1 No such user here" in main and "550 5.7.1 Rejected by policy" in main
    assert f'href="/operator/tenants/{org.slug}"' in main and "payment_reminder" in main
    for secret in (recipient, address, "Secret subject", "Secret body", "€45.00"):
        assert secret not in page.text

    retried = await browser.submit(f"/operator/mail/{tenant_email_id}/retry", {}, form_page="/operator/mail")
    assert retried.status_code == 303 and retried.headers["location"].endswith("done=retried")
    assert await in_tenant(db, org.slug, "SELECT status, attempts FROM outbound_emails") == [("queued", 0)]
    await run_once(runtime)
    assert len(smtp.to(address)) == 1  # delivered this time
    again = await browser.submit(f"/operator/mail/{tenant_email_id}/retry", {}, form_page="/operator/mail")
    assert again.headers["location"].endswith("done=gone")  # nothing open under that id any more

    # the API: operators list and retry; the platform email goes back to its queue
    tokens = (await client.post("/api/v1/auth/login", json={"email": operator, "password": PASSWORD})).json()
    listed = await client.get("/api/v1/operator/mail-failures", params={"limit": 200}, headers=bearer(tokens["access_token"]))
    assert listed.status_code == 200
    item = next(i for i in listed.json()["items"] if i["id"] == str(platform_id))
    assert item["tenant_id"] is None and item["channel"] == "email" and item["reason"] == "550 5.1.1 No such user here"
    assert recipient not in listed.text
    done = await client.post(f"/api/v1/operator/mail-failures/{platform_id}/retry", headers=bearer(tokens["access_token"]))
    assert done.status_code == 200 and done.json()["retried_at"]
    async with db.admin.connect() as conn:
        status = (await conn.execute(sa.text("SELECT status FROM platform.email_outbox WHERE id = :i"), {"i": platform_id})).scalar_one()
    assert status == "queued"
    missing = await client.post(f"/api/v1/operator/mail-failures/{uuid.uuid4()}/retry", headers=bearer(tokens["access_token"]))
    assert missing.status_code == 404

    # members are refused
    member = await client.get("/api/v1/operator/mail-failures", headers=org.headers)
    assert member.status_code == 403
