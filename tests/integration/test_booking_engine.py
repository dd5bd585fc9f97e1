"""The booking engine through HTTP: slots, hold -> confirm -> reschedule -> cancel, refusals naming
the field, roles, overrides, lapsed holds, occurrences with waitlists and cancellation policies."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.booking_support import UTC, day_ahead, hold, patient, practice, slots
from tests.integration.events_support import in_tenant


async def _events(client, p) -> list[str]:
    return [e["type"] for e in (await client.get(f"{p.base}/events", headers=p.org.headers)).json()["items"]]


async def test_slots_hold_confirm_reschedule_and_cancel(client, db):
    p = await practice(client, db)
    day = day_ahead(10)
    free = await slots(client, p, day)
    # 09:00-17:00 Madrid, 50-minute sessions every 30 minutes: 09:00 ... 16:00 (15 starts)
    assert len(free) == 15 and free[0]["local_starts_at"].startswith(f"{day.isoformat()}T09:00:00")
    assert all(s["therapist_ids"] == [p.therapist_id] for s in free)
    held = await hold(client, p, free[2]["starts_at"], p.patients[0], headers=p.assistant, payment_id="5f0c4c36-1b1b-4f57-9a51-2f43b7c1a0aa")
    assert held.status_code == 201, held.text
    booking = held.json()
    assert booking["status"] == "HELD" and booking["expires_at"] is not None
    # the slot and every start whose blocked range (10 + 50 + 10 minutes) meets its own are gone:
    # sessions with buffers need 70 minutes between starts, so ±30 and ±60 minutes go, ±90 stay
    left = {s["starts_at"] for s in await slots(client, p, day)}
    assert not {free[i]["starts_at"] for i in range(5)} & left
    assert free[5]["starts_at"] in left and len(left) == len(free) - 5
    confirmed = await client.post(f"{p.base}/bookings/{booking['id']}/confirm", headers=p.assistant)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "CONFIRMED"
    assert (await client.post(f"{p.base}/bookings/{booking['id']}/confirm", headers=p.assistant)).status_code == 409
    # reschedule: same booking and payment, the old time free again
    moved = await client.post(f"{p.base}/bookings/{booking['id']}/reschedule", json={"starts_at": free[10]["starts_at"]}, headers=p.assistant)
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == booking["id"] and moved.json()["payment_id"] == booking["payment_id"]
    assert moved.json()["rescheduled_count"] == 1 and moved.json()["status"] == "CONFIRMED"
    assert free[2]["starts_at"] in {s["starts_at"] for s in await slots(client, p, day)}
    # completing a session that has not started is refused
    early = await client.post(f"{p.base}/bookings/{booking['id']}/complete", headers=p.assistant)
    assert early.status_code == 409 and early.json()["reason"] == "not-started"
    cancelled = await client.post(f"{p.base}/bookings/{booking['id']}/cancellation", json={"by": "client", "reason": "moving away"},
                                  headers=p.assistant)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["cancelled_by_kind"] == "client" and cancelled.json()["cancel_reason"] is None  # assistants: not shown
    seen = (await client.get(f"{p.base}/bookings/{booking['id']}", headers=p.org.headers)).json()
    assert seen["cancel_reason"] == "moving away" and seen["cancelled_by"] is not None
    stored = await in_tenant(db, p.org.slug, "SELECT cancel_reason_enc FROM bookings WHERE id = :i", {"i": booking["id"]})
    assert b"moving away" not in bytes(stored[0][0])  # encrypted at rest
    assert (await _events(client, p))[:4] == ["BOOKING_CANCELLED", "BOOKING_RESCHEDULED", "BOOKING_CONFIRMED", "BOOKING_HELD"]
    # a client cancellation far outside any window with no policy records no charge
    assert (await client.get(f"{p.base}/booking-charges", headers=p.org.headers)).json()["total"] == 0


async def test_refusals_name_the_field_and_the_rule(client, db):
    p = await practice(client, db)
    day = day_ahead(10)
    first = (await slots(client, p, day))[0]["starts_at"]
    now = datetime.datetime.now(UTC)
    cases = [
        ((now - datetime.timedelta(hours=1)).isoformat(), "future"),
        ((now + datetime.timedelta(minutes=20)).isoformat(), "notice"),
        ((now + datetime.timedelta(days=240)).isoformat(), "horizon"),
        (datetime.datetime.combine(day, datetime.time(2, 0), tzinfo=UTC).isoformat(), "availability"),  # 03:00 Madrid
        ((datetime.datetime.fromisoformat(first) + datetime.timedelta(minutes=7)).isoformat(), "availability"),  # off the step
        ((datetime.datetime.fromisoformat(first)).replace(tzinfo=None).isoformat(), "timezone"),
    ]
    for starts_at, rule in cases:
        refused = await hold(client, p, starts_at, p.patients[0])
        assert refused.status_code == 422, (starts_at, refused.text)
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("starts_at", rule)]
    assert (await hold(client, p, first, p.patients[0])).status_code == 201
    taken = await hold(client, p, first, p.patients[1])
    assert taken.status_code == 409 and taken.json()["reason"] == "slot-taken"
    # the free-form entry overlapping it hits the exclusion constraint: 409, never 500
    overlap = await client.post(f"{p.base}/bookings", json={"patient_id": p.patients[1], "service_id": p.service["id"],
                                                             "starts_at": first, "therapist_id": p.therapist_id}, headers=p.org.headers)
    assert overlap.status_code == 409 and overlap.json()["reason"] == "slot-taken"
    bad_zone = await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "from": day.isoformat(), "to": day.isoformat(),
                                                           "zone": "Mars/Olympus"}, headers=p.org.headers)
    assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["field"] == "zone"
    too_wide = await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "from": day.isoformat(),
                                                           "to": (day + datetime.timedelta(days=90)).isoformat()}, headers=p.org.headers)
    assert too_wide.status_code == 422 and too_wide.json()["errors"][0]["field"] == "to"
    for first, last in (("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")):
        edge = await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "from": first, "to": last,
                                                           "zone": "Pacific/Kiritimati"}, headers=p.org.headers)
        assert edge.status_code == 422 and edge.json()["errors"][0]["field"] == "from", edge.text
    bad_rule = await client.post(f"{p.base}/availability/rules", json={"therapist_id": p.therapist_id, "weekday": 1,
                                                                        "start_time": "12:00", "end_time": "09:00"}, headers=p.org.headers)
    assert bad_rule.status_code == 422 and bad_rule.json()["errors"][0]["field"] == "end_time"


async def test_roles_therapists_manage_their_own_calendar(client, db):
    p = await practice(client, db)
    day = day_ahead(12)
    free = await slots(client, p, day, headers=p.therapist)
    mine = await hold(client, p, free[0]["starts_at"], p.patients[0], headers=p.therapist)
    assert mine.status_code == 201 and mine.json()["therapist_id"] == p.therapist_id
    listed = (await client.get(f"{p.base}/bookings", headers=p.therapist)).json()
    assert [b["id"] for b in listed["items"]] == [mine.json()["id"]]
    # a therapist never books in or edits another's calendar; assistants do not edit availability
    owner_slot = await hold(client, p, free[3]["starts_at"], p.patients[0], headers=p.therapist, therapist_id=p.org.owner_id)
    assert owner_slot.status_code == 403
    foreign = await client.post(f"{p.base}/availability/rules", json={"therapist_id": p.org.owner_id, "weekday": 1,
                                                                       "start_time": "09:00", "end_time": "10:00"}, headers=p.therapist)
    assert foreign.status_code == 403
    assistant = await client.post(f"{p.base}/availability/rules", json={"therapist_id": p.therapist_id, "weekday": 1,
                                                                         "start_time": "09:00", "end_time": "10:00"}, headers=p.assistant)
    assert assistant.status_code == 403
    own_rules = await client.get(f"{p.base}/availability/rules", headers=p.therapist)  # no therapist_id: the caller's own
    assert own_rules.status_code == 200 and len(own_rules.json()) == 7
    no_service = await client.get(f"{p.base}/slots", headers=p.therapist)
    assert no_service.status_code == 422 and no_service.json()["errors"][0]["field"] == "service_id"
    week = await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "zone": "Europe/Madrid"}, headers=p.therapist)
    assert week.status_code == 200 and len({s["local_starts_at"][:10] for s in week.json()}) in (6, 7)  # today may have passed
    # the owner's booking of the therapist is seen by the therapist too; another therapist's is not
    assert (await client.post(f"{p.base}/bookings/{mine.json()['id']}/confirm", headers=p.therapist)).status_code == 200


async def test_overrides_take_a_day_off_and_add_hours(client, db):
    p = await practice(client, db)
    off_day, extra_day = day_ahead(14), day_ahead(15)
    off = await client.post(f"{p.base}/availability/overrides", json={"therapist_id": p.therapist_id, "on_date": off_day.isoformat(),
                                                                       "available": False}, headers=p.therapist)
    assert off.status_code == 201, off.text
    assert await slots(client, p, off_day) == []
    extra = await client.post(f"{p.base}/availability/overrides", json={"therapist_id": p.therapist_id, "on_date": extra_day.isoformat(),
                                                                         "available": True, "start_time": "18:00", "end_time": "20:00"},
                              headers=p.org.headers)
    assert extra.status_code == 201, extra.text
    locals_ = [s["local_starts_at"][11:16] for s in await slots(client, p, extra_day)]
    assert locals_[-3:] == ["18:00", "18:30", "19:00"]
    assert (await client.delete(f"{p.base}/availability/overrides/{off.json()['id']}", headers=p.therapist)).status_code == 204
    assert len(await slots(client, p, off_day)) == 15


def _next_saturday_between_the_us_and_eu_changes() -> datetime.date:
    """The Saturday after the next US spring change (second Sunday of March): New York is on EDT,
    Madrid still on CET (the EU changes on the last Sunday of March)."""
    today = datetime.date.today()
    for year in (today.year, today.year + 1):
        second_sunday = datetime.date(year, 3, 8) + datetime.timedelta(days=(6 - datetime.date(year, 3, 8).weekday()) % 7)
        if second_sunday + datetime.timedelta(days=6) > today + datetime.timedelta(days=2):
            return second_sunday + datetime.timedelta(days=6)
    raise AssertionError("unreachable")


async def test_madrid_therapist_and_new_york_client_between_the_dst_changes(client, db):
    p = await practice(client, db, horizon_days=400)
    day = _next_saturday_between_the_us_and_eu_changes()
    seen = await slots(client, p, day, zone="America/New_York")
    three_pm = [s for s in seen if s["local_starts_at"].startswith(f"{day.isoformat()}T10:00:00-04:00")]
    assert len(three_pm) == 1 and three_pm[0]["zone"] == "America/New_York"
    instant = datetime.datetime.fromisoformat(three_pm[0]["starts_at"])
    assert instant.hour == 14 and instant.astimezone(ZoneInfo("Europe/Madrid")).hour == 15  # 15:00 Madrid = 10:00 New York
    booked = await hold(client, p, three_pm[0]["starts_at"], p.patients[0])
    assert booked.status_code == 201, booked.text


async def test_a_lapsed_hold_frees_its_slot_and_cannot_be_confirmed(client, db):
    p = await practice(client, db)
    start = (await slots(client, p, day_ahead(9)))[0]["starts_at"]
    first = await hold(client, p, start, p.patients[0], hold_minutes=5)
    assert first.status_code == 201
    assert (await hold(client, p, start, p.patients[1])).status_code == 409
    await in_tenant(db, p.org.slug, "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = :i", {"i": first.json()["id"]})
    assert start in {s["starts_at"] for s in await slots(client, p, day_ahead(9))}
    second = await hold(client, p, start, p.patients[1])
    assert second.status_code == 201, second.text
    late = await client.post(f"{p.base}/bookings/{first.json()['id']}/confirm", headers=p.org.headers)
    assert late.status_code == 409 and late.json()["state"] == "EXPIRED"


async def test_occurrence_seats_waitlist_offers_and_claims(client, db):
    p = await practice(client, db, patients=4)
    retreat = await client.post(f"{p.base}/services", json={"name": "Retreat", "kind": "GROUP", "scheduling": "FIXED_DATE", "capacity": 10,
                                                            "duration_minutes": 600, "price_minor": 30000, "currency": "EUR",
                                                            "location": "IN_PERSON"}, headers=p.org.headers)
    starts = datetime.datetime.now(UTC) + datetime.timedelta(days=20)
    occ = await client.post(f"{p.base}/occurrences", json={"service_id": retreat.json()["id"], "starts_at": starts.isoformat(),
                                                           "ends_at": (starts + datetime.timedelta(days=2)).isoformat(), "capacity": 1,
                                                           "location": "Montseny", "price_minor": 25000}, headers=p.org.headers)
    assert occ.status_code == 201, occ.text
    oid = occ.json()["id"]
    a, b, c, d = p.patients
    seat = await client.post(f"{p.base}/occurrences/{oid}/seats", json={"patient_id": a}, headers=p.assistant)
    assert seat.status_code == 201 and seat.json()["occurrence_id"] == oid and seat.json()["retreat"] is True
    full = await client.post(f"{p.base}/occurrences/{oid}/seats", json={"patient_id": b}, headers=p.assistant)
    assert full.status_code == 409 and full.json()["reason"] == "full"
    wb = await client.post(f"{p.base}/occurrences/{oid}/waitlist", json={"patient_id": b}, headers=p.assistant)
    wc = await client.post(f"{p.base}/occurrences/{oid}/waitlist", json={"patient_id": c}, headers=p.assistant)
    assert (wb.json()["status"], wb.json()["position"], wc.json()["position"]) == ("WAITING", 1, 2)
    assert (await client.post(f"{p.base}/occurrences/{oid}/waitlist", json={"patient_id": b}, headers=p.assistant)).status_code == 409
    # a seat frees: the first in line gets an expiring offer, which holds the seat
    assert (await client.post(f"{p.base}/bookings/{seat.json()['id']}/cancellation", json={"by": "client"}, headers=p.assistant)).status_code == 200
    line = (await client.get(f"{p.base}/occurrences/{oid}/waitlist", headers=p.org.headers)).json()
    assert [(e["patient_id"], e["status"]) for e in line] == [(b, "OFFERED"), (c, "WAITING")]
    assert "WAITLIST_OFFERED" in await _events(client, p)
    assert (await client.post(f"{p.base}/occurrences/{oid}/seats", json={"patient_id": d}, headers=p.assistant)).status_code == 409
    claimed = await client.post(f"{p.base}/waitlist/{wb.json()['id']}/claim", headers=p.assistant)
    assert claimed.status_code == 201 and claimed.json()["patient_id"] == b
    again = await client.post(f"{p.base}/waitlist/{wb.json()['id']}/claim", headers=p.assistant)
    assert again.status_code == 409 and again.json()["reason"] == "offer-not-live"
    # b gives the seat up; c's offer lapses and passes to d, who joined after
    await client.post(f"{p.base}/bookings/{claimed.json()['id']}/cancellation", json={"by": "practice"}, headers=p.assistant)
    await in_tenant(db, p.org.slug, "UPDATE waitlist_entries SET offer_expires_at = now() - interval '1 second' WHERE status = 'OFFERED'")
    wd = await client.post(f"{p.base}/occurrences/{oid}/waitlist", json={"patient_id": d}, headers=p.assistant)
    assert wd.status_code == 201 and wd.json()["status"] == "OFFERED"
    assert (await client.post(f"{p.base}/waitlist/{wc.json()['id']}/claim", headers=p.assistant)).json()["reason"] == "offer-not-live"
    listed = (await client.get(f"{p.base}/occurrences", params={"service_id": retreat.json()["id"]}, headers=p.org.headers)).json()
    assert listed["items"][0]["seats_taken"] == 0 and listed["items"][0]["seats_offered"] == 1 and listed["items"][0]["price_minor"] == 25000


async def test_policies_charge_a_late_cancellation_and_a_no_show_once(client, db):
    p = await practice(client, db)
    set_org = await client.put(f"{p.base}/cancellation-policies/organization", json={
        "window_hours": 24, "late_cancel_kind": "SHARE", "late_cancel_value": 5000, "no_show_kind": "SHARE", "no_show_value": 10000,
    }, headers=p.org.headers)
    assert set_org.status_code == 200, set_org.text
    override = await client.put(f"{p.base}/cancellation-policies/services/{p.service['id']}", json={
        "window_hours": 24, "late_cancel_kind": "SHARE", "late_cancel_value": 5000, "no_show_kind": "FIXED", "no_show_value": 2000,
    }, headers=p.org.headers)
    assert override.status_code == 200 and override.json()["no_show_kind"] == "FIXED"
    bad = await client.put(f"{p.base}/cancellation-policies/organization", json={"late_cancel_kind": "SHARE", "late_cancel_value": 20000},
                           headers=p.org.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "late_cancel_value"
    assert (await client.put(f"{p.base}/cancellation-policies/organization", json={}, headers=p.assistant)).status_code == 403
    now = datetime.datetime.now(UTC)

    async def record(at: datetime.datetime) -> str:
        made = await client.post(f"{p.base}/bookings", json={"patient_id": p.patients[0], "service_id": p.service["id"],
                                                              "starts_at": at.isoformat(), "therapist_id": p.therapist_id}, headers=p.org.headers)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    late = await record(now + datetime.timedelta(hours=3))
    assert (await client.post(f"{p.base}/bookings/{late}/cancellation", json={"by": "client", "reason": "ill"}, headers=p.org.headers)).status_code == 200
    assert (await client.post(f"{p.base}/bookings/{late}/cancellation", json={"by": "client"}, headers=p.org.headers)).status_code == 409
    early = await record(now + datetime.timedelta(days=3))
    await client.post(f"{p.base}/bookings/{early}/cancellation", json={"by": "client"}, headers=p.org.headers)
    by_practice = await record(now + datetime.timedelta(hours=5))
    await client.post(f"{p.base}/bookings/{by_practice}/cancellation", json={"by": "practice"}, headers=p.org.headers)
    missed = await record(now - datetime.timedelta(hours=2))
    assert (await client.post(f"{p.base}/bookings/{missed}/no-show", headers=p.assistant)).status_code == 200
    assert (await client.post(f"{p.base}/bookings/{missed}/no-show", headers=p.assistant)).status_code == 409
    charges = (await client.get(f"{p.base}/booking-charges", headers=p.assistant)).json()
    got = sorted((c["booking_id"], c["reason"], c["cost_kind"], c["amount_minor"], c["currency"]) for c in charges["items"])
    assert got == sorted([(late, "LATE_CANCEL", "SHARE", 3000, "EUR"), (missed, "NO_SHOW", "FIXED", 2000, "EUR")])
    assert "BOOKING_NO_SHOW" in await _events(client, p)


async def test_hostile_inputs_are_refused_cleanly(client, db):
    p = await practice(client, db, patients=1)
    for body in ({"by": "client", "reason": "a\u0000b"}, {"by": "someone"}, {"by": "client", "reason": "x" * 501}):
        missing = await client.post(f"{p.base}/bookings/00000000-0000-0000-0000-000000000000/cancellation", json=body, headers=p.org.headers)
        assert missing.status_code in (400, 422), missing.text
    for starts_at in ("9999-12-31T23:59:59+00:00", "not a date", 12):
        refused = await hold(client, p, starts_at, p.patients[0])
        assert refused.status_code in (400, 422), refused.text
    huge = await client.post(f"{p.base}/availability/rules", json={"therapist_id": p.therapist_id, "weekday": 99,
                                                                    "start_time": "09:00", "end_time": "10:00"}, headers=p.org.headers)
    assert huge.status_code == 422 and "weekday" in huge.text
    unknown_patient = await hold(client, p, (await slots(client, p, day_ahead(9)))[0]["starts_at"], "00000000-0000-0000-0000-000000000000")
    assert unknown_patient.status_code == 422 and unknown_patient.json()["errors"][0]["field"] == "patient_id"
    other = await patient(client, p.org, "Zed")
    assert other


async def test_the_tenant_tick_passes_a_lapsed_offer_to_the_next_in_line(client, db):
    from anima.jobs.handlers import tenant_tick
    from tests.integration.events_support import queue_settings, services_for, tenant_id_of

    p = await practice(client, db, patients=3)
    workshop = await client.post(f"{p.base}/services", json={"name": "Workshop", "kind": "GROUP", "scheduling": "FIXED_DATE", "capacity": 2,
                                                             "duration_minutes": 120, "price_minor": 1000, "currency": "EUR",
                                                             "location": "IN_PERSON"}, headers=p.org.headers)
    starts = datetime.datetime.now(UTC) + datetime.timedelta(days=3)
    occ = (await client.post(f"{p.base}/occurrences", json={"service_id": workshop.json()["id"], "starts_at": starts.isoformat(),
                                                            "ends_at": (starts + datetime.timedelta(hours=2)).isoformat(), "capacity": 1},
                             headers=p.org.headers)).json()
    a, b, c = p.patients
    seat = (await client.post(f"{p.base}/occurrences/{occ['id']}/seats", json={"patient_id": a}, headers=p.assistant)).json()
    for pid in (b, c):
        await client.post(f"{p.base}/occurrences/{occ['id']}/waitlist", json={"patient_id": pid}, headers=p.assistant)
    await client.post(f"{p.base}/bookings/{seat['id']}/cancel", headers=p.assistant)
    offered = await in_tenant(db, p.org.slug, "SELECT patient_id::text, offer_expires_at FROM waitlist_entries WHERE status = 'OFFERED'")
    assert [r[0] for r in offered] == [b]
    assert datetime.timedelta(hours=11, minutes=59) < offered[0][1] - datetime.datetime.now(UTC) <= datetime.timedelta(hours=12)
    tid = await tenant_id_of(db, p.org.slug)
    async with db.admin.connect() as conn:  # the offer's expiry was noted as the tenant's tick work
        import sqlalchemy as sa

        noted = (await conn.execute(sa.text("SELECT due_at FROM platform.tenant_work WHERE tenant_id = :t AND kind = 'tick'"),
                                    {"t": tid})).scalars().all()
    # the tick is due by the offer's expiry at the latest (the cancelled seat's email is due at once,
    # and a tick notes the next moment again before it commits)
    assert noted and min(noted) <= offered[0][1] + datetime.timedelta(seconds=1)
    await in_tenant(db, p.org.slug, "UPDATE waitlist_entries SET offer_expires_at = now() - interval '1 second' WHERE status = 'OFFERED'")
    async with services_for(queue_settings("postgres"), db) as svc:
        result = await tenant_tick({"anima": svc}, tenant_id=tid)
    assert result["booking_offers"] == 1
    states = dict(await in_tenant(db, p.org.slug, "SELECT patient_id::text, status FROM waitlist_entries"))
    assert states == {b: "EXPIRED", c: "OFFERED"}


async def test_a_therapist_with_a_zone_of_their_own_works_in_it(client, db):
    p = await practice(client, db, patients=1)
    # the profile page mirrors the person's zone into the organization (tests/web: the profile page)
    await in_tenant(db, p.org.slug, "UPDATE staff SET time_zone = 'Asia/Kathmandu' WHERE id = :i", {"i": p.therapist_id})
    zone = (await client.get(f"{p.base}/availability/therapists/{p.therapist_id}", headers=p.assistant)).json()
    assert (zone["time_zone"], zone["own_zone"]) == ("Asia/Kathmandu", True)
    day = day_ahead(10)
    first = (await slots(client, p, day, zone="Asia/Kathmandu"))[0]
    assert first["local_starts_at"].startswith(f"{day.isoformat()}T09:00:00+05:45")
    assert first["starts_at"].startswith(f"{day.isoformat()}T03:15:00")


async def test_a_booking_downloads_as_an_ics_file(client, db):
    p = await practice(client, db, patients=1)
    start = (await slots(client, p, day_ahead(9)))[0]["starts_at"]
    held = (await hold(client, p, start, p.patients[0])).json()
    first = await client.get(f"{p.base}/bookings/{held['id']}/ics", headers=p.therapist)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/calendar")
    assert f"UID:{held['id']}@anima" in first.text and "SEQUENCE:0" in first.text and "P0" not in first.text
    assert "DTSTART:" + datetime.datetime.fromisoformat(start).strftime("%Y%m%dT%H%M%SZ") in first.text
    await client.post(f"{p.base}/bookings/{held['id']}/confirm", headers=p.org.headers)
    assert "SEQUENCE:1" in (await client.get(f"{p.base}/bookings/{held['id']}/ics", headers=p.org.headers)).text


SEAT_STEPS = st.lists(st.tuples(st.sampled_from(["seat", "join", "cancel", "claim", "lapse"]), st.integers(0, 4)), min_size=1, max_size=14)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(capacity=st.integers(1, 3), steps=SEAT_STEPS)
async def test_seats_never_exceed_capacity_and_a_free_seat_never_waits(client, db, seat_practice, capacity, steps):
    """Random sequences of seat bookings, waitlist joins, cancellations, claims and lapsing offers:
    after every step, seats taken + live offers <= capacity, nobody waits while a seat is free, and
    offers go in the order people joined."""
    p, service_id, tick = seat_practice
    starts = datetime.datetime.now(UTC) + datetime.timedelta(days=30)
    occ = (await client.post(f"{p.base}/occurrences", json={"service_id": service_id, "starts_at": starts.isoformat(),
                                                            "ends_at": (starts + datetime.timedelta(hours=3)).isoformat(), "capacity": capacity},
                             headers=p.org.headers)).json()
    seats_of: dict[int, str] = {}
    for action, who in steps:
        pid = p.patients[who]
        if action == "seat":
            r = await client.post(f"{p.base}/occurrences/{occ['id']}/seats", json={"patient_id": pid}, headers=p.assistant)
            assert r.status_code in (201, 409), r.text
            if r.status_code == 201:
                seats_of[who] = r.json()["id"]
        elif action == "join":
            r = await client.post(f"{p.base}/occurrences/{occ['id']}/waitlist", json={"patient_id": pid}, headers=p.assistant)
            assert r.status_code in (201, 409), r.text
        elif action == "cancel" and who in seats_of:
            r = await client.post(f"{p.base}/bookings/{seats_of.pop(who)}/cancel", headers=p.assistant)
            assert r.status_code in (200, 409), r.text
        elif action == "claim":
            entries = [e for e in (await client.get(f"{p.base}/occurrences/{occ['id']}/waitlist", headers=p.org.headers)).json()
                       if e["patient_id"] == pid and e["status"] in ("OFFERED", "WAITING")]
            if entries:
                r = await client.post(f"{p.base}/waitlist/{entries[0]['id']}/claim", headers=p.assistant)
                assert r.status_code in (201, 409), r.text
                if r.status_code == 201:
                    seats_of[who] = r.json()["id"]
        elif action == "lapse":
            await in_tenant(db, p.org.slug, "UPDATE waitlist_entries SET offer_expires_at = now() - interval '1 second' "
                                            "WHERE occurrence_id = :o AND status = 'OFFERED'", {"o": occ["id"]})
            await tick()  # the tenant tick passes lapsed offers on
        taken, offered, waiting = (await in_tenant(db, p.org.slug, """
            SELECT (SELECT count(*) FROM bookings WHERE occurrence_id = :o AND status IN ('HELD','CONFIRMED')),
                   (SELECT count(*) FROM waitlist_entries WHERE occurrence_id = :o AND status = 'OFFERED' AND offer_expires_at > now()),
                   (SELECT count(*) FROM waitlist_entries WHERE occurrence_id = :o AND status = 'WAITING')""", {"o": occ["id"]}))[0]
        assert taken + offered <= capacity, (action, taken, offered)
        assert waiting == 0 or taken + offered == capacity, (action, taken, offered, waiting)
        order = await in_tenant(db, p.org.slug, "SELECT status FROM waitlist_entries WHERE occurrence_id = :o AND status IN "
                                                "('WAITING','OFFERED','CLAIMED') ORDER BY created_at, id", {"o": occ["id"]})
        statuses = [s for (s,) in order]
        assert statuses == sorted(statuses, key=lambda s: s == "WAITING"), statuses  # nobody offered before an earlier waiter


@pytest.fixture
async def seat_practice(client, db):
    from anima.jobs.handlers import tenant_tick
    from tests.integration.events_support import queue_settings, services_for, tenant_id_of

    p = await practice(client, db, patients=5)
    group = await client.post(f"{p.base}/services", json={"name": "Group", "kind": "GROUP", "scheduling": "FIXED_DATE", "capacity": 3,
                                                          "duration_minutes": 180, "price_minor": 1000, "currency": "EUR",
                                                          "location": "IN_PERSON"}, headers=p.org.headers)
    tid = await tenant_id_of(db, p.org.slug)
    async with services_for(queue_settings("postgres"), db) as svc:
        yield p, group.json()["id"], lambda: tenant_tick({"anima": svc}, tenant_id=tid)


async def test_bookings_list_by_time_range_soonest_first(client, db):
    p = await practice(client, db, patients=1)
    free = await slots(client, p, day_ahead(9))
    ids = [(await hold(client, p, free[i]["starts_at"], p.patients[0])).json()["id"] for i in (6, 0, 3)]
    listed = await client.get(f"{p.base}/bookings", params={"starts_from": free[0]["starts_at"], "starts_before": free[6]["starts_at"]},
                              headers=p.therapist)
    assert listed.status_code == 200 and [b["id"] for b in listed.json()["items"]] == [ids[1], ids[2]]
    naive = await client.get(f"{p.base}/bookings", params={"starts_from": "2030-01-01T00:00:00"}, headers=p.org.headers)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "starts_from"
