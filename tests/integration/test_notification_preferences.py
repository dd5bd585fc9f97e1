"""Staff notification preferences: the member's own switches through the API, and the emails they
decide — queued by the follow-up job of the real events, sent through SMTP to an in-process
aiosmtpd server."""

from __future__ import annotations

import datetime
import uuid

import pytest
import sqlalchemy as sa

from anima.ai.jobs import analyze_journal_entry
from anima.domains.preferences.emails import notify_staff
from anima.jobs.handlers import FOLLOW_UPS
from anima.mail.tenant_sender import run_once
from anima.runtime import build_runtime
from tests.conftest import add_member, bearer, signup
from tests.integration.booking_support import day_ahead, practice
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.forms_support import submit_intake
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures

ALL_OFF = {"new_booking": False, "cancellation": False, "risk_alert": False, "new_lead": False}
RISK_TEXT = "Quiero suicidarme, tengo un plan para esta noche"


@pytest.fixture
def runtime(db, smtp_settings):  # noqa: F811
    return build_runtime(smtp_settings, db)


def _url(slug: str) -> str:
    return f"/api/v1/orgs/{slug}/notification-preferences/me"


async def _events(db, slug: str, kind: str) -> list[str]:
    return [str(r[0]) for r in await in_tenant(db, slug, "SELECT id FROM outbox_events WHERE type = :t ORDER BY occurred_at, id", {"t": kind})]


async def _notify(runtime, tid: int, db, slug: str, kind: str) -> list[dict]:
    ctx = {"anima": runtime}
    return [await notify_staff(ctx, tenant_id=tid, event_id=e) for e in await _events(db, slug, kind)]


def _start(days: int = 3) -> str:
    return datetime.datetime.combine(day_ahead(days), datetime.time(9, 0), datetime.UTC).isoformat()  # 10:00 Madrid


async def _book(client, p, days: int = 3) -> str:
    made = await client.post(f"{p.base}/bookings", json={"patient_id": p.patients[0], "service_id": p.service["id"],
                                                         "starts_at": _start(days), "therapist_id": p.therapist_id}, headers=p.org.headers)
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_booking_cancellation_risk_and_lead_events_hand_on_the_staff_emails():
    for event in ("BOOKING_CONFIRMED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "RISK_DETECTED_IN_NOTE", "LEAD_CREATED"):
        assert [f.event_arg for f in FOLLOW_UPS[event] if f.function == "notify_staff"] == ["event_id"]


async def test_defaults_follow_the_role_and_a_member_sets_only_their_own(client, db):
    org = await signup(client)
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    owner = (await client.get(_url(org.slug), headers=org.headers)).json()
    assert owner == {"new_booking": False, "cancellation": False, "risk_alert": True, "new_lead": True, "is_default": True}
    t = (await client.get(_url(org.slug), headers=bearer(therapist["access_token"]))).json()
    assert t == {"new_booking": True, "cancellation": True, "risk_alert": True, "new_lead": False, "is_default": True}
    a = (await client.get(_url(org.slug), headers=bearer(assistant["access_token"]))).json()
    assert a == {"new_booking": True, "cancellation": True, "risk_alert": False, "new_lead": True, "is_default": True}

    changed = await client.put(_url(org.slug), json={**ALL_OFF, "risk_alert": True}, headers=bearer(therapist["access_token"]))
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**ALL_OFF, "risk_alert": True, "is_default": False}
    assert (await client.get(_url(org.slug), headers=bearer(therapist["access_token"]))).json()["new_booking"] is False
    assert (await client.get(_url(org.slug), headers=org.headers)).json() == owner  # nobody else's changed
    audited = await in_tenant(db, org.slug, "SELECT count(*) FROM audit_events WHERE action = 'notifications.preferences_changed'")
    assert audited == [(1,)]
    assert (await client.get(_url(org.slug))).status_code == 401
    other = await signup(client)
    assert (await client.get(_url(other.slug), headers=org.headers)).status_code in (403, 404)


@pytest.mark.parametrize("body", [
    {**ALL_OFF, "new_booking": "true"},
    {**ALL_OFF, "new_lead": 1},
    {**ALL_OFF, "risk_alert": None},
    {k: v for k, v in ALL_OFF.items() if k != "cancellation"},
    {**ALL_OFF, "staff_id": str(uuid.uuid4())},
    {**ALL_OFF, "new_booking": "\u0000"},
    [],
])
async def test_hostile_bodies_are_refused_and_nothing_is_written(client, db, body):
    org = await signup(client)
    refused = await client.put(_url(org.slug), json=body, headers=org.headers)
    assert 400 <= refused.status_code < 500 and refused.status_code != 404, refused.text
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM notification_preferences") == [(0,)]
    nul = await client.put(_url(org.slug), content=b'{"new_booking": true, "cancellation": true, "risk_alert": true, "new_lead": "\\u0000"}',
                           headers={**org.headers, "content-type": "application/json"})
    assert nul.status_code in (400, 422)


async def test_booking_emails_go_to_who_wants_them_and_therapists_only_for_their_own(client, db, smtp, runtime):  # noqa: F811
    p = await practice(client, db, patients=1)
    tid = await tenant_id_of(db, p.org.slug)
    other_email, other_tokens, other_id = await add_member(client, db, p.org, "THERAPIST")  # not this booking's therapist
    therapist_email = (await in_tenant(db, p.org.slug, "SELECT email FROM staff WHERE id = :i", {"i": p.therapist_id}))[0][0]
    assistant_email = (await in_tenant(db, p.org.slug, "SELECT email FROM staff WHERE role = 'ASSISTANT'"))[0][0]
    # the owner wants bookings too; the assistant turns new bookings off but keeps cancellations
    assert (await client.put(_url(p.org.slug), json={**ALL_OFF, "new_booking": True}, headers=p.org.headers)).status_code == 200
    assert (await client.put(_url(p.org.slug), json={**ALL_OFF, "cancellation": True}, headers=p.assistant)).status_code == 200
    async with db.admin.begin() as conn:  # the therapist reads Spanish (their profile's language)
        await conn.execute(sa.text("UPDATE platform.users SET language = 'es' WHERE id = :i"), {"i": p.therapist_id})

    booking_id = await _book(client, p)
    [first] = await _notify(runtime, tid, db, p.org.slug, "BOOKING_CONFIRMED")
    assert first == {"queued": 2}
    again = await _notify(runtime, tid, db, p.org.slug, "BOOKING_CONFIRMED")  # a retried job queues nothing twice
    assert again == [{"queued": 0}]
    await run_once(runtime)
    assert len(smtp.to(p.org.owner_email)) == 1 and len(smtp.to(therapist_email)) == 1
    assert smtp.to(assistant_email) == [] and smtp.to(other_email) == []  # off; not their booking
    [mail] = smtp.to(therapist_email)
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == "Nueva reserva: Session"
    assert "Session" in text and "10:00" in text and "Europe/Madrid" in text and f"/o/{p.org.slug}" in text
    assert "P0" not in text  # the client is not named

    # moved one hour later: who wants bookings (owner, therapist) hears of it, with both times
    later = (datetime.datetime.fromisoformat(_start()) + datetime.timedelta(hours=1)).isoformat()
    moved = await client.post(f"{p.base}/bookings/{booking_id}/reschedule", json={"starts_at": later}, headers=p.org.headers)
    assert moved.status_code == 200, moved.text
    assert await _notify(runtime, tid, db, p.org.slug, "BOOKING_RESCHEDULED") == [{"queued": 2}]
    assert await _notify(runtime, tid, db, p.org.slug, "BOOKING_RESCHEDULED") == [{"queued": 0}]
    await run_once(runtime)
    assert len(smtp.to(p.org.owner_email)) == 2 and len(smtp.to(therapist_email)) == 2
    assert smtp.to(assistant_email) == [] and smtp.to(other_email) == []  # new-booking switch off; not their booking
    moved_mail = smtp.to(therapist_email)[1]
    assert moved_mail["Subject"] == "Reserva movida: Session"
    moved_text = moved_mail.get_body(("plain",)).get_content()
    assert "11:00" in moved_text and "10:00" in moved_text and "P0" not in moved_text
    owner_text = smtp.to(p.org.owner_email)[1].get_body(("plain",)).get_content()
    assert "now" in owner_text and "11:00" in owner_text and "(was" in owner_text and "10:00" in owner_text

    cancelled = await client.post(f"{p.base}/bookings/{booking_id}/cancel", json={"by": "practice"}, headers=p.org.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await _notify(runtime, tid, db, p.org.slug, "BOOKING_CANCELLED") == [{"queued": 2}]  # assistant + therapist
    await run_once(runtime)
    assert len(smtp.to(assistant_email)) == 1 and len(smtp.to(therapist_email)) == 3 and len(smtp.to(p.org.owner_email)) == 2
    assert smtp.to(other_email) == []
    rows = await in_tenant(db, p.org.slug, "SELECT template, category FROM outbound_emails ORDER BY created_at")
    assert sorted(rows) == sorted([("staff_new_booking", "transactional")] * 2 + [("staff_rescheduled", "transactional")] * 2
                                  + [("staff_cancellation", "transactional")] * 2)


async def test_a_risk_alert_email_carries_no_clinical_text(client, db, smtp, runtime):  # noqa: F811
    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assistant_email = (await in_tenant(db, org.slug, "SELECT email FROM staff WHERE role = 'ASSISTANT'"))[0][0]
    # an assistant who switches risk alerts on still is not told: they may not see clinical records
    assert (await client.put(_url(org.slug), json={**ALL_OFF, "risk_alert": True}, headers=bearer(assistant["access_token"]))).status_code == 200
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Zoraida", "last_name": "Quintana"},
                                headers=org.headers)
    pid = created.json()["id"]
    await submit_intake(client, org, pid, RISK_TEXT)
    entry_id = (await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission'"))[0][0]
    screened = await analyze_journal_entry({"anima": runtime}, tenant_id=tid, entry_id=str(entry_id))
    assert screened["level"] == "HIGH"
    assert await _notify(runtime, tid, db, org.slug, "RISK_DETECTED_IN_NOTE") == [{"queued": 1}]
    assert await _notify(runtime, tid, db, org.slug, "RISK_DETECTED_IN_NOTE") == [{"queued": 0}]
    await run_once(runtime)
    [mail] = smtp.to(org.owner_email)
    whole = mail.as_string()
    for clinical in ("suicid", "plan", "Zoraida", "Quintana", "HIGH", "noche"):
        assert clinical not in whole
    assert "risk alert" in mail["Subject"] and f"/o/{org.slug}" in mail.get_body(("plain",)).get_content()
    assert smtp.to(assistant_email) == []

    # switched off, the owner gets nothing for the next alert
    assert (await client.put(_url(org.slug), json=ALL_OFF, headers=org.headers)).status_code == 200
    await submit_intake(client, org, pid, RISK_TEXT)
    second = await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission' AND id <> :e", {"e": entry_id})
    await analyze_journal_entry({"anima": runtime}, tenant_id=tid, entry_id=str(second[0][0]))
    assert (await _notify(runtime, tid, db, org.slug, "RISK_DETECTED_IN_NOTE"))[-1] == {"queued": 0}


async def test_a_new_lead_is_named_only_to_owners_and_assistants(client, db, smtp, runtime):  # noqa: F811
    org = await signup(client)
    tid = await tenant_id_of(db, org.slug)
    therapist_email, therapist, _ = await add_member(client, db, org, "THERAPIST")
    assistant_email, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assert (await client.put(_url(org.slug), json={**ALL_OFF, "new_lead": True}, headers=bearer(therapist["access_token"]))).status_code == 200
    assert (await client.put(_url(org.slug), json=ALL_OFF, headers=bearer(assistant["access_token"]))).status_code == 200
    made = await client.post(f"/api/v1/orgs/{org.slug}/leads", json={"first_name": "Bartolomea"}, headers=org.headers)
    assert made.status_code == 201, made.text
    assert await _notify(runtime, tid, db, org.slug, "LEAD_CREATED") == [{"queued": 2}]  # owner (default) + therapist
    await run_once(runtime)
    [owner_mail] = smtp.to(org.owner_email)
    assert "Bartolomea" in owner_mail["Subject"] and "Bartolomea" in owner_mail.get_body(("plain",)).get_content()
    [therapist_mail] = smtp.to(therapist_email)
    assert "Bartolomea" not in therapist_mail.as_string()
    assert smtp.to(assistant_email) == []


# -- the patient's own time zone -------------------------------------------------------------------


@pytest.mark.parametrize("zone, rule", [("Mars/Olympus", "iana-zone"), ("Europe/Madrid\u0000", None), (42, None), ("x" * 65, None)])
async def test_a_patients_zone_must_be_an_iana_name(client, db, zone, rule):
    org = await signup(client)
    refused = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ana", "time_zone": zone}, headers=org.headers)
    assert refused.status_code in (400, 422), refused.text
    if rule:
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("time_zone", rule)]
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM patients") == [(0,)]


async def test_a_patients_zone_is_kept_changed_and_cleared(client, db):
    org = await signup(client)
    base = f"/api/v1/orgs/{org.slug}/patients"
    made = await client.post(base, json={"first_name": "Ana", "time_zone": "America/New_York"}, headers=org.headers)
    assert made.status_code == 201 and made.json()["time_zone"] == "America/New_York"
    pid = made.json()["id"]
    assert (await client.put(f"{base}/{pid}", json={"time_zone": "Mars/Olympus"}, headers=org.headers)).status_code == 422
    assert (await client.get(f"{base}/{pid}", headers=org.headers)).json()["time_zone"] == "America/New_York"
    cleared = await client.put(f"{base}/{pid}", json={"time_zone": None}, headers=org.headers)
    assert cleared.status_code == 200 and cleared.json()["time_zone"] is None


async def test_a_booking_email_shows_the_patients_own_zone(client, db, smtp, runtime):  # noqa: F811
    from anima.jobs.handlers import booking_notices
    from tests.conftest import unique_email

    p = await practice(client, db, patients=0)
    tid = await tenant_id_of(db, p.org.slug)
    address = unique_email("client")
    made = await client.post(f"{p.base}/patients", json={"first_name": "Ana", "email": address, "language": "en",
                                                          "time_zone": "America/New_York"}, headers=p.org.headers)
    assert made.status_code == 201, made.text
    p.patients = [made.json()["id"]]
    starts = datetime.datetime.fromisoformat(_start(5))
    await _book(client, p, 5)
    await booking_notices(runtime, tid)
    await run_once(runtime)
    [mail] = smtp.to(address)
    text = mail.get_body(("plain",)).get_content()
    from zoneinfo import ZoneInfo
    local = starts.astimezone(ZoneInfo("America/New_York"))
    assert "America/New York" in text and local.strftime("%-I:%M") in text, text
