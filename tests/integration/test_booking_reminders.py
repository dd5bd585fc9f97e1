"""Client emails with calendar invitations, reminders and the "before the session" trigger,
through the real path: the booking API writes the due rows, the tenant tick's booking pass
(:func:`anima.jobs.handlers.booking_notices`) queues the emails, the tenant sender delivers them to
an in-process SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import datetime
import email.message
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from anima.domains.bookings import reminders
from anima.domains.bookings.models import Booking
from anima.jobs.handlers import booking_notices
from anima.jobs.runner import tenant_transaction
from anima.mail.tenant_sender import run_once
from anima.runtime import build_runtime
from tests.conftest import unique_email
from tests.integration.booking_support import UTC, day_ahead, hold, practice, slots
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures

#: 20 March 2027: New York already on EDT (UTC-4), Madrid still on CET (UTC+1)
DST_START = datetime.datetime(2027, 3, 20, 14, 0, tzinfo=UTC)  # 15:00 Madrid, 10:00 New York


@pytest.fixture
def runtime(db, smtp_settings):  # noqa: F811
    return build_runtime(smtp_settings, db)


async def _client_patient(client, p, *, zone: str = "America/New_York", language: str = "en") -> tuple[str, str]:
    address = unique_email("client")
    created = await client.post(f"/api/v1/orgs/{p.org.slug}/patients", json={
        "first_name": "Ana", "email": address, "language": language, "profile": {"time_zone": zone}}, headers=p.org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"], address


def _invite(message: email.message.EmailMessage) -> tuple[str, Calendar]:
    [part] = [m for m in message.walk() if m.get_content_type() == "text/calendar"]
    return part.get_param("method"), Calendar.from_ical(part.get_content())


def _text(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def _deliver(runtime, tid: int) -> None:
    await booking_notices(runtime, tid)
    await run_once(runtime)


async def _pending(db, slug: str, booking_id: str) -> list:
    return await in_tenant(db, slug, "SELECT kind, key, due_at FROM booking_notices WHERE booking_id = :b AND done_at IS NULL "
                                     "AND kind <> 'change' ORDER BY key", {"b": booking_id})


async def test_confirm_reschedule_cancel_send_invitations_that_follow_the_booking_madrid_new_york(client, db, smtp, runtime):  # noqa: F811
    if datetime.datetime.now(UTC) > DST_START - datetime.timedelta(days=3):
        pytest.skip("the DST scenario's date has passed")
    p = await practice(client, db)
    tid = await tenant_id_of(db, p.org.slug)
    patient_id, address = await _client_patient(client, p)
    held = await hold(client, p, DST_START.isoformat(), patient_id)
    assert held.status_code == 201, held.text
    booking_id = held.json()["id"]
    assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200

    # the 24-hour reminder is due at 14:00 UTC the day before, written with the confirmation
    [(kind, key, due)] = await _pending(db, p.org.slug, booking_id)
    assert (kind, key, due) == ("reminder", "reminder:1440", DST_START - datetime.timedelta(hours=24))

    await _deliver(runtime, tid)
    [confirmed] = smtp.to(address)
    assert confirmed["Subject"] == f"Confirmed: Session with Practice {p.org.slug}" or "Confirmed: Session" in confirmed["Subject"]
    assert "List-Unsubscribe" not in confirmed
    text = _text(confirmed)
    assert "10:00\u202fAM EDT (America/New York)" in text  # the client's time, zone named
    assert "3:00\u202fPM CET (Europe/Madrid)" in text  # the therapist's
    assert f"/p/{p.org.slug}/b/" in text
    method, calendar = _invite(confirmed)
    [event] = calendar.walk("VEVENT")
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("dtstart") == DST_START and str(event["uid"]) == f"{booking_id}@anima"
    first_sequence = int(event["sequence"])
    assert str(event["attendee"]) == f"mailto:{address}"

    # the same change handled again sends nothing more
    await _deliver(runtime, tid)
    assert len(smtp.to(address)) == 1

    later = DST_START + datetime.timedelta(hours=1)  # 16:00 Madrid, 11:00 New York
    moved = await client.post(f"{p.base}/bookings/{booking_id}/reschedule", json={"starts_at": later.isoformat()},
                              headers=p.org.headers)
    assert moved.status_code == 200, moved.text
    [(_, _, due)] = await _pending(db, p.org.slug, booking_id)
    assert due == later - datetime.timedelta(hours=24)  # the reminder moved
    await _deliver(runtime, tid)
    _, rescheduled = smtp.to(address)
    assert "New time" in rescheduled["Subject"] and "11:00\u202fAM EDT" in _text(rescheduled)
    method, calendar = _invite(rescheduled)
    [event] = calendar.walk("VEVENT")
    assert method == "REQUEST" and str(event["uid"]) == f"{booking_id}@anima" and int(event["sequence"]) > first_sequence
    assert event.decoded("dtstart") == later
    second_sequence = int(event["sequence"])

    gone = await client.post(f"{p.base}/bookings/{booking_id}/cancellation", json={"by": "practice"}, headers=p.org.headers)
    assert gone.status_code == 200, gone.text
    assert await _pending(db, p.org.slug, booking_id) == []  # no reminder left
    await _deliver(runtime, tid)
    _, _, cancelled = smtp.to(address)
    method, calendar = _invite(cancelled)
    [event] = calendar.walk("VEVENT")
    assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == f"{booking_id}@anima" and int(event["sequence"]) > second_sequence
    rows = await in_tenant(db, p.org.slug, "SELECT idempotency_key, status, category FROM outbound_emails ORDER BY created_at")
    assert [r.status for r in rows] == ["sent"] * 3 and {r.category for r in rows} == {"transactional"}
    assert len({r.idempotency_key for r in rows}) == 3


async def test_a_due_reminder_is_sent_once_even_with_two_ticks_and_carries_the_links(client, db, smtp, runtime):  # noqa: F811
    p = await practice(client, db)
    tid = await tenant_id_of(db, p.org.slug)
    patient_id, address = await _client_patient(client, p, zone="Europe/Madrid", language="es")
    start = (await slots(client, p, day_ahead(5)))[0]["starts_at"]
    held = await hold(client, p, start, patient_id)
    booking_id = held.json()["id"]
    assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200
    await _deliver(runtime, tid)
    assert len(smtp.to(address)) == 1  # the confirmation
    await in_tenant(db, p.org.slug, "UPDATE booking_notices SET due_at = now() - interval '1 second' WHERE booking_id = :b "
                                    "AND kind = 'reminder'", {"b": booking_id})
    await asyncio.gather(booking_notices(runtime, tid), booking_notices(runtime, tid))
    await booking_notices(runtime, tid)
    await run_once(runtime)
    messages = smtp.to(address)
    assert len(messages) == 2
    reminder = messages[1]
    assert reminder["Subject"].startswith("Recordatorio: Session")
    text = _text(reminder)
    assert f"/p/{p.org.slug}/b/" in text and "/confirm" in text and "#move" in text
    assert not [m for m in reminder.walk() if m.get_content_type() == "text/calendar"]
    assert "Europe/Madrid" in text


async def test_before_the_session_rules_fire_at_their_time_not_at_booking(client, db, runtime):
    from anima.domains.automations.rules import validate_rule
    from anima.problems import InvalidInput

    with pytest.raises(InvalidInput):
        validate_rule("BOOKING_UPCOMING", [{"fact": "event.hours_before", "op": "gte", "value": 2}],
                      [{"kind": "alert_staff", "to": "owners", "message": "soon"}])
    with pytest.raises(InvalidInput):
        validate_rule("BOOKING_UPCOMING", [{"fact": "event.hours_before", "op": "eq", "value": 9999}],
                      [{"kind": "alert_staff", "to": "owners", "message": "soon"}])
    p = await practice(client, db)
    tid = await tenant_id_of(db, p.org.slug)
    await in_tenant(db, p.org.slug, "INSERT INTO automation_rules (id, name, trigger, conditions, actions, enabled, created_at, updated_at) "
                                    "VALUES (gen_random_uuid(), 'two hours before', 'BOOKING_UPCOMING', "
                                    "'[{\"fact\": \"event.hours_before\", \"op\": \"eq\", \"value\": 2}]', "
                                    "'[{\"kind\": \"alert_staff\", \"to\": \"owners\", \"message\": \"soon\"}]', true, now(), now())")
    start = (await slots(client, p, day_ahead(3)))[0]["starts_at"]
    booking_id = (await hold(client, p, start, p.patients[0])).json()["id"]
    assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200
    await booking_notices(runtime, tid)
    upcoming = "SELECT count(*) FROM outbox_events WHERE type = 'BOOKING_UPCOMING'"
    assert (await in_tenant(db, p.org.slug, upcoming))[0][0] == 0  # not at booking time
    [(kind, key, due)] = [r for r in await _pending(db, p.org.slug, booking_id) if r.kind == "upcoming"]
    assert key == "upcoming:120" and due == datetime.datetime.fromisoformat(start) - datetime.timedelta(hours=2)
    await in_tenant(db, p.org.slug, "UPDATE booking_notices SET due_at = now() - interval '1 second' WHERE kind = 'upcoming'")
    await booking_notices(runtime, tid)
    [(payload,)] = await in_tenant(db, p.org.slug, "SELECT payload FROM outbox_events WHERE type = 'BOOKING_UPCOMING'")
    assert payload["booking_id"] == booking_id and payload["hours_before"] == 2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(min_value=5, max_value=30 * 24 * 60), max_size=5, unique=True),
       moves=st.lists(st.integers(min_value=-3 * 24 * 60, max_value=40 * 24 * 60), min_size=1, max_size=4))
async def test_reminders_follow_offsets_and_reschedules_and_none_survive_a_cancellation(prepared, offsets, moves):
    runtime, tid, booking_id = prepared
    async with tenant_transaction(runtime, tid) as tj:
        await reminders.set_offsets(tj.session, None, offsets)
    for minutes in moves:
        now = datetime.datetime.now(UTC)
        async with tenant_transaction(runtime, tid) as tj:
            stored = await tj.session.get(Booking, booking_id)
            # the booking as a reschedule leaves it (a transient copy: the stored row keeps its time)
            booking = Booking(id=stored.id, service_id=stored.service_id, starts_at=now + datetime.timedelta(minutes=minutes))
            due = await reminders.schedule(tj.session, booking, now=now, moved=True)
            expected = sorted(booking.starts_at - datetime.timedelta(minutes=o) for o in offsets
                              if booking.starts_at - datetime.timedelta(minutes=o) > now)
            assert due == expected and all(d > now for d in due)
            rows = (await tj.session.execute(reminders.sa.text(
                "SELECT due_at FROM booking_notices WHERE booking_id = :b AND kind = 'reminder' AND done_at IS NULL ORDER BY due_at"),
                {"b": booking_id})).scalars().all()
            assert list(rows) == expected
            await tj.session.rollback()
    async with tenant_transaction(runtime, tid) as tj:
        booking = await tj.session.get(Booking, booking_id)
        await reminders.schedule(tj.session, booking)
        await reminders.drop(tj.session, booking_id)
        left = (await tj.session.execute(reminders.sa.text(
            "SELECT count(*) FROM booking_notices WHERE booking_id = :b AND kind <> 'change' AND done_at IS NULL"),
            {"b": booking_id})).scalar()
        assert left == 0


@pytest.fixture
async def prepared(client, db, settings):
    p = await practice(client, db)
    tid = await tenant_id_of(db, p.org.slug)
    start = (await slots(client, p, day_ahead(4)))[0]["starts_at"]
    booking_id = (await hold(client, p, start, p.patients[0])).json()["id"]
    return build_runtime(settings, db), tid, uuid.UUID(booking_id)


async def test_offsets_are_checked():
    from anima.problems import InvalidInput

    for bad in ([1], [5, 5], [True], [1, 2, 3, 4, 5, 6], ["60"], [99999999]):
        with pytest.raises(InvalidInput):
            reminders.check_offsets(bad)
    assert reminders.check_offsets([1440, 60]) == [60, 1440]


async def test_reminder_offsets_per_organization_and_service_with_hostile_input_refused(client, db):
    p = await practice(client, db)
    org_url = f"{p.base}/reminder-settings/organization"
    service_url = f"{p.base}/reminder-settings/services/{p.service['id']}"
    assert (await client.get(org_url, headers=p.org.headers)).json() == {"service_id": None, "offsets_minutes": [1440], "source": "default"}
    for bad in ([1], [5, 5], ["60"], [True], [10**12], [60] * 6, "60", None, [60.5], ["\u0000"]):
        refused = await client.put(org_url, json={"offsets_minutes": bad}, headers=p.org.headers)
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert "offsets_minutes" in refused.text
    assert (await client.put(org_url, json={"offsets_minutes": [60]}, headers=p.therapist)).status_code == 403
    assert (await client.put(org_url, json={"offsets_minutes": [2880, 120]}, headers=p.org.headers)).json()["offsets_minutes"] == [120, 2880]
    assert (await client.get(service_url, headers=p.org.headers)).json()["source"] == "organization"
    assert (await client.put(service_url, json={"offsets_minutes": [30]}, headers=p.org.headers)).status_code == 200
    assert (await client.get(service_url, headers=p.org.headers)).json() == {
        "service_id": p.service["id"], "offsets_minutes": [30], "source": "service"}
    missing = f"{p.base}/reminder-settings/services/{uuid.uuid4()}"
    assert (await client.put(missing, json={"offsets_minutes": [30]}, headers=p.org.headers)).status_code == 404
    # a booking of that service gets the service's reminder only
    start = (await slots(client, p, day_ahead(6)))[0]["starts_at"]
    booking_id = (await hold(client, p, start, p.patients[0])).json()["id"]
    assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200
    assert [r.key for r in await _pending(db, p.org.slug, booking_id)] == ["reminder:30"]


async def test_a_reminder_texts_only_a_patient_with_sms_consent(client, db, runtime):
    p = await practice(client, db)
    tid = await tenant_id_of(db, p.org.slug)
    queued = {}
    for name, consent in (("with", True), ("without", False)):
        created = await client.post(f"/api/v1/orgs/{p.org.slug}/patients", json={
            "first_name": name, "email": unique_email(name), "phone": "+34 600 000 00" + ("1" if consent else "2"), "language": "es"},
            headers=p.org.headers)
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]
        if consent:
            given = await client.put(f"{p.base}/patients/{patient_id}/sms-consent", json={"given": True, "method": "written"},
                                     headers=p.org.headers)
            assert given.status_code == 200, given.text
        start = (await slots(client, p, day_ahead(5 if consent else 6)))[0]["starts_at"]
        booking_id = (await hold(client, p, start, patient_id)).json()["id"]
        assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200
        queued[name] = patient_id
    await in_tenant(db, p.org.slug, "UPDATE booking_notices SET due_at = now() - interval '1 second' WHERE kind = 'reminder'")
    await booking_notices(runtime, tid)
    texts = await in_tenant(db, p.org.slug, "SELECT patient_id::text, template, body FROM outbound_sms")
    assert [(t.patient_id, t.template) for t in texts] == [(queued["with"], "booking_reminder")]
    assert f"/p/{p.org.slug}/b/" in texts[0].body and "STOP" in texts[0].body
