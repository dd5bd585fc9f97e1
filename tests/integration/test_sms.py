"""SMS through the real Twilio SDK against a local stub of Twilio's REST API (tests/twilio_stub.py):
consent first, withdrawal stops what is queued, STOP replies signed like Twilio's, SMS off says so."""

from __future__ import annotations

import re
import uuid

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from hypothesis import given, settings as hyp_settings, strategies as st

from anima.app import create_app
from anima.domains.automations import engine
from anima.domains.automations import rules as lang
from anima.domains.automations.models import AutomationRun
from anima.domains.reach.sms import to_e164
from anima.events.models import OutboxEvent
from anima.identity.rate_limit import RateLimits
from anima.jobs.runner import tenant_transaction
from anima.mail.tenant_sender import run_once
from anima.runtime import build_runtime
from tests import twilio_stub
from tests.conftest import signup
from tests.integration.events_support import in_tenant, tenant_id_of

NUMBER = "+34600112233"


@pytest.fixture
def stub():
    server = twilio_stub.TwilioStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sms_settings(settings, stub):
    return msgspec.structs.replace(
        settings, twilio_account_sid=twilio_stub.ACCOUNT_SID, twilio_auth_token=twilio_stub.AUTH_TOKEN,
        twilio_from=twilio_stub.FROM_NUMBER, twilio_api_base=stub.url,
    )


@pytest.fixture
def runtime(db, sms_settings):
    return build_runtime(sms_settings, db)


async def _patient(client, org, phone: str = "+34 600 11 22 33", language: str = "es") -> str:
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Sol", "phone": phone, "language": language},
                                headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _consent(client, org, patient_id: str, given_: bool) -> dict:
    response = await client.put(f"/api/v1/orgs/{org.slug}/patients/{patient_id}/sms-consent", json={"given": given_, "method": "written"},
                                headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _text(runtime, org, patient_id: str, template: str = "generic") -> dict:
    """What a playbook's ``send_sms`` action does, through the engine."""
    tid = await tenant_id_of(runtime.db, org.slug)
    async with tenant_transaction(runtime, tid) as job:
        rc = engine.RunContext(job, OutboxEvent(id=uuid.uuid4(), type="test", payload={}),
                               {"org.name": f"Practice {org.slug}", "patient.id": patient_id, "patient.first_name": "Sol"})
        return await engine.do_action(rc, AutomationRun(id=uuid.uuid4()), None, 0, lang.SendSms(to="patient", template=template))


async def _rows(db, slug):
    return await in_tenant(db, slug, "SELECT status, attempts, last_error, provider_id FROM outbound_sms ORDER BY created_at")


async def test_no_consent_no_sms_then_consent_and_it_arrives_once_in_the_patients_language(client, db, stub, runtime):
    org = await signup(client)
    patient_id = await _patient(client, org)
    assert (await _text(runtime, org, patient_id))["note"] == "the patient has no SMS consent"
    assert await _rows(db, org.slug) == []

    state = await _consent(client, org, patient_id, True)
    assert state["given"] is True and state["history"][0]["method"] == "written" and state["history"][0]["recorded_by"]
    assert (await _text(runtime, org, patient_id))["sms"] == 1
    await run_once(runtime)
    await run_once(runtime)

    [sent] = stub.to(NUMBER)  # stored and sent in E.164
    assert sent.sender == twilio_stub.FROM_NUMBER
    assert sent.body == f"Hola, Sol: Practice {org.slug} tiene novedades para ti. Responde STOP para no recibir más mensajes."
    [(status, attempts, error, provider_id)] = await _rows(db, org.slug)
    assert (status, attempts, error) == ("sent", 1, None) and re.fullmatch(r"SM[0-9a-f]{32}", provider_id)
    assert NUMBER not in repr(await in_tenant(db, org.slug, "SELECT * FROM outbound_sms"))  # encrypted at rest


async def test_withdrawing_consent_after_queueing_stops_the_sms(client, db, stub, runtime):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    assert (await _text(runtime, org, patient_id, "payment_reminder"))["sms"] == 1
    withdrawn = await _consent(client, org, patient_id, False)
    assert withdrawn["given"] is False and [h["given"] for h in withdrawn["history"]] == [True, False]
    await run_once(runtime)
    assert stub.messages == []
    assert await _rows(db, org.slug) == [("skipped", 1, "the patient has no SMS consent", None)]


async def test_without_twilio_settings_sms_is_off_and_says_so(client, db, settings):
    org = await signup(client)
    patient_id = await _patient(client, org)
    state = await _consent(client, org, patient_id, True)
    assert state["sms_enabled"] is False  # the app under test has no TWILIO_ settings
    off = build_runtime(settings, db)
    assert (await _text(off, org, patient_id))["sms"] == 1
    await run_once(off)
    assert await _rows(db, org.slug) == [("skipped", 1, "SMS is not configured on this deployment", None)]


async def test_a_refused_number_fails_with_twilios_code_and_a_503_is_retried(client, db, stub, runtime):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    await _text(runtime, org, patient_id)
    stub.fail_with = (503, 20500)
    await run_once(runtime)
    assert (await _rows(db, org.slug))[0][:3] == ("queued", 1, "503 twilio-error-20500")
    await in_tenant(db, org.slug, "UPDATE outbound_sms SET next_attempt_at = now()")
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.tenant_work SET due_at = now() WHERE kind = 'mail' AND tenant_id = "
                                   "(SELECT id FROM platform.tenants WHERE slug = :s)"), {"s": org.slug})
    stub.fail_with = (400, 21211)
    await run_once(runtime)
    assert (await _rows(db, org.slug))[0][:3] == ("failed", 2, "400 twilio-error-21211")


async def test_a_signed_stop_reply_withdraws_consent_and_an_unsigned_one_is_refused(client, db, stub, runtime, sms_settings):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    await _text(runtime, org, patient_id)
    await run_once(runtime)
    assert len(stub.to(NUMBER)) == 1

    app = create_app(sms_settings, database=db, rate_limits=RateLimits().scaled(1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as twilio:
        url = f"{sms_settings.public_url}/api/v1/sms/inbound"
        params = {"From": NUMBER, "To": twilio_stub.FROM_NUMBER, "Body": " stop ", "MessageSid": "SM" + "1" * 32,
                  "AccountSid": twilio_stub.ACCOUNT_SID}
        forged = await twilio.post("/api/v1/sms/inbound", data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
        assert forged.status_code == 400 and forged.json()["errors"][0]["field"] == "X-Twilio-Signature"
        assert (await _consent_state(client, org, patient_id))["given"] is True  # nothing changed
        signed = await twilio.post("/api/v1/sms/inbound", data=params,
                                   headers={"X-Twilio-Signature": twilio_stub.signature(twilio_stub.AUTH_TOKEN, url, params)})
        assert signed.status_code == 204, signed.text

    state = await _consent_state(client, org, patient_id)
    assert state["given"] is False
    assert state["history"][-1]["method"] == "sms-stop" and state["history"][-1]["recorded_by"] is None
    assert (await _text(runtime, org, patient_id))["note"] == "the patient has no SMS consent"
    # the app without Twilio settings has no inbound endpoint to speak of
    assert (await client.post("/api/v1/sms/inbound", data=params)).status_code == 404


async def _consent_state(client, org, patient_id):
    response = await client.get(f"/api/v1/orgs/{org.slug}/patients/{patient_id}/sms-consent", headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_consent_history_is_append_only(client, db):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        await in_tenant(db, org.slug, "UPDATE sms_consents SET given = false")


async def test_consent_input_is_checked(client, db):
    org = await signup(client)
    patient_id = await _patient(client, org)
    path = f"/api/v1/orgs/{org.slug}/patients/{patient_id}/sms-consent"
    for body in ({"given": "yes", "method": "written"}, {"given": True, "method": "sms-stop"}, {"given": True},
                 {"given": True, "method": "written", "extra": 1}, {"given": True, "method": "writ\x00ten"}):
        response = await client.put(path, json=body, headers=org.headers)
        assert response.status_code in (400, 422), (body, response.text)
    assert (await client.get(f"/api/v1/orgs/{org.slug}/patients/{uuid.uuid4()}/sms-consent", headers=org.headers)).status_code == 404


@hyp_settings(max_examples=200, deadline=None)
@given(st.text(max_size=30) | st.from_regex(r"\+?[0-9 ()\-]{5,20}", fullmatch=True))
def test_a_number_is_either_refused_or_e164(raw):
    try:
        number = to_e164(raw, "es")
    except ValueError:
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", number)
    assert to_e164(number) == number  # stable


async def test_the_inbound_webhook_refuses_hostile_bodies_before_reading_them(db, sms_settings):
    app = create_app(sms_settings, database=db, rate_limits=RateLimits().scaled(1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as twilio:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in (b"From=%2B34600112233&Body=\xff\xfeSTOP", b"From=%00&Body=STOP", b"Body=" + b"A" * 70_000, b""):
            response = await twilio.post("/api/v1/sms/inbound", content=body, headers={**form, "X-Twilio-Signature": "x"})
            assert response.status_code in (400, 413), (body[:30], response.status_code, response.text)
        # a signed message that is not STOP, or whose sender is no valid number, changes nothing and answers 204
        url = f"{sms_settings.public_url}/api/v1/sms/inbound"
        for params in ({"From": "+34600112233", "Body": "hello"}, {"From": "not a number\x00", "Body": "STOP"}):
            signed = await twilio.post("/api/v1/sms/inbound", data=params,
                                       headers={"X-Twilio-Signature": twilio_stub.signature(twilio_stub.AUTH_TOKEN, url, params)})
            assert signed.status_code == 204, signed.text


async def test_erasing_a_patient_erases_their_sms_consents_and_texts(client, db, stub, runtime):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    await _text(runtime, org, patient_id)
    erased = await client.delete(f"/api/v1/orgs/{org.slug}/patients/{patient_id}", headers=org.headers)
    assert erased.status_code == 204, erased.text
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM sms_consents") == [(0,)]
    assert await _rows(db, org.slug) == []


async def test_twilios_unsubscribed_recipient_refusal_withdraws_the_consent(client, db, stub, runtime):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    await _text(runtime, org, patient_id)
    stub.fail_with = (400, 21610)  # "Attempt to send to unsubscribed recipient"
    await run_once(runtime)
    assert (await _rows(db, org.slug))[0][:3] == ("failed", 1, "400 twilio-error-21610")
    state = await _consent_state(client, org, patient_id)
    assert state["given"] is False and state["history"][-1]["method"] == "sms-stop"


@pytest.mark.parametrize(("stop", "start"), [("BAJA", "alta"), ("  Prou! ", "Comença"), ("annulla", "INIZIA"),
                                             ("No más", "Unstop"), ("desconnecta.", "START")])
async def test_stop_and_start_keywords_in_four_languages_through_the_signed_webhook(client, db, stub, runtime, sms_settings,
                                                                                    stop, start):
    org = await signup(client)
    patient_id = await _patient(client, org)
    await _consent(client, org, patient_id, True)
    await _text(runtime, org, patient_id)
    await run_once(runtime)
    app = create_app(sms_settings, database=db, rate_limits=RateLimits().scaled(1000))
    url = f"{sms_settings.public_url}/api/v1/sms/inbound"

    async def reply(twilio, body: str) -> None:
        params = {"From": NUMBER, "To": twilio_stub.FROM_NUMBER, "Body": body, "MessageSid": "SM" + uuid.uuid4().hex,
                  "AccountSid": twilio_stub.ACCOUNT_SID}
        signed = await twilio.post("/api/v1/sms/inbound", data=params,
                                   headers={"X-Twilio-Signature": twilio_stub.signature(twilio_stub.AUTH_TOKEN, url, params)})
        assert signed.status_code == 204, signed.text

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as twilio:
        await reply(twilio, f"{stop} please")  # not the whole message: nothing changes
        assert (await _consent_state(client, org, patient_id))["given"] is True
        await reply(twilio, stop)
        assert (await _consent_state(client, org, patient_id))["given"] is False
        await reply(twilio, stop)  # a second STOP adds nothing
        await reply(twilio, start)
        state = await _consent_state(client, org, patient_id)
        await reply(twilio, start)  # nor a second START
    assert state["given"] is True
    assert [(h["given"], h["method"], h["recorded_by"]) for h in state["history"]][1:] == [
        (False, "sms-stop", None), (True, "sms-start", None)]
    assert len((await _consent_state(client, org, patient_id))["history"]) == 3
    assert (await _text(runtime, org, patient_id, "payment_reminder"))["sms"] == 1  # texts may go again
    await run_once(runtime)  # (sent now: nothing left queued for the tests that follow)


async def _lead(client, org, phone: str = "+34 600 11 22 33") -> str:
    created = await client.post(f"/api/v1/orgs/{org.slug}/leads", json={"first_name": "Nil", "phone": phone, "language": "ca"},
                                headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _text_lead(runtime, org, lead_id: str, run_id: uuid.UUID | None = None) -> dict:
    """A playbook's ``send_sms`` to the lead of the real LEAD_CREATED event, through the engine."""
    tid = await tenant_id_of(runtime.db, org.slug)
    async with tenant_transaction(runtime, tid) as job:
        events = (await job.session.execute(sa.select(OutboxEvent).where(OutboxEvent.type == "LEAD_CREATED"))).scalars()
        [event] = [e for e in events if e.payload.get("lead_id") == lead_id]
        rc = engine.RunContext(job, event, {"org.name": f"Practice {org.slug}"})
        action = msgspec.convert({"type": "send_sms", "to": "lead", "template": "speed_to_lead"}, lang.SendSms)
        return await engine.do_action(rc, AutomationRun(id=run_id or uuid.uuid4()), None, 0, action)


async def test_a_lead_is_texted_only_with_consent_and_stop_and_start_reach_leads(client, db, stub, runtime, sms_settings):
    org = await signup(client)
    lead_id = await _lead(client, org)
    path = f"/api/v1/orgs/{org.slug}/leads/{lead_id}/sms-consent"
    assert (await client.get(path, headers=org.headers)).json()["given"] is False
    assert (await _text_lead(runtime, org, lead_id))["note"] == "the lead has no SMS consent"
    assert await _rows(db, org.slug) == []

    given_ = await client.put(path, json={"given": True, "method": "verbal"}, headers=org.headers)
    assert given_.status_code == 200, given_.text
    assert given_.json()["given"] is True and given_.json()["history"][0]["recorded_by"]
    run_id = uuid.uuid4()
    assert (await _text_lead(runtime, org, lead_id, run_id))["sms"] == 1
    assert (await _text_lead(runtime, org, lead_id, run_id))["note"] == "already queued"  # a retried run texts once
    await run_once(runtime)
    [sent] = [m for m in stub.to(NUMBER) if org.slug in m.body]  # (other tests' organizations text this number too)
    assert sent.body == (f"Hola, Nil: gràcies per contactar amb Practice {org.slug}. Et trucarem molt aviat. "
                         "Respon STOP per no rebre més missatges.")
    assert [r[0] for r in await _rows(db, org.slug)] == ["sent"]
    audited = await in_tenant(db, org.slug, "SELECT count(*) FROM audit_events WHERE action = 'lead.sms_consent'")
    assert audited == [(1,)]

    app = create_app(sms_settings, database=db, rate_limits=RateLimits().scaled(1000))
    url = f"{sms_settings.public_url}/api/v1/sms/inbound"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as twilio:
        for body, expected in (("PROU", False), ("Alta", True)):
            params = {"From": NUMBER, "Body": body}
            signed = await twilio.post("/api/v1/sms/inbound", data=params,
                                       headers={"X-Twilio-Signature": twilio_stub.signature(twilio_stub.AUTH_TOKEN, url, params)})
            assert signed.status_code == 204
            assert (await client.get(path, headers=org.headers)).json()["given"] is expected
    history = (await client.get(path, headers=org.headers)).json()["history"]
    assert [(h["given"], h["method"]) for h in history] == [(True, "verbal"), (False, "sms-stop"), (True, "sms-start")]

    # a withdrawal after queueing stops the text when it is sent
    other = await _lead(client, org, phone="+34 600 99 88 77")
    await client.put(f"/api/v1/orgs/{org.slug}/leads/{other}/sms-consent", json={"given": True, "method": "form"}, headers=org.headers)
    assert (await _text_lead(runtime, org, other))["sms"] == 1
    await client.put(f"/api/v1/orgs/{org.slug}/leads/{other}/sms-consent", json={"given": False, "method": "form"}, headers=org.headers)
    await run_once(runtime)
    assert stub.to("+34600998877") == []
    assert ("skipped", 1, "the lead has no SMS consent", None) in await _rows(db, org.slug)


async def test_lead_consent_input_and_roles_are_checked(client, db):
    from tests.conftest import add_member, bearer

    org = await signup(client)
    lead_id = await _lead(client, org)
    path = f"/api/v1/orgs/{org.slug}/leads/{lead_id}/sms-consent"
    for body in ({"given": True, "method": "sms-start"}, {"given": "yes", "method": "written"}, {"given": True, "method": "x\x00"}):
        assert (await client.put(path, json=body, headers=org.headers)).status_code in (400, 422), body
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    refused = await client.put(path, json={"given": True, "method": "verbal"}, headers=bearer(therapist["access_token"]))
    assert refused.status_code == 403
    assert (await client.get(path, headers=bearer(therapist["access_token"]))).status_code == 200
    assert (await client.get(f"/api/v1/orgs/{org.slug}/leads/{uuid.uuid4()}/sms-consent", headers=org.headers)).status_code == 404
