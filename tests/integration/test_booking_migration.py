"""The booking engine's tenant migration on free-form data: existing bookings get their service's
duration as their range, overlapping CONFIRMED ones of a therapist keep only the earliest created
(the exclusion constraint can then be built) and staff get their profile zone."""

from __future__ import annotations

import datetime
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from anima.db.engine import Database, quote_ident
from anima.tenancy.migrations import head_revision, upgrade_tenant_sync

BEFORE = "5b1e7c2d9a40"


async def test_free_form_bookings_migrate_into_ranges_and_overlaps_are_resolved(db: Database) -> None:
    schema = f"tenant_booking_migration_{secrets.token_hex(4)}"
    therapist, service, patient = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, overlapping, later, other = (uuid.uuid4() for _ in range(4))

    def run(conn: Connection) -> tuple[list, list, str | None]:
        conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(schema)}"))
        assert upgrade_tenant_sync(conn, schema, BEFORE) == BEFORE
        conn.execute(sa.text("INSERT INTO staff (id, display_name, email, role, active, created_at, updated_at) "
                             "VALUES (:t, 'T', 't@example.org', 'THERAPIST', true, now(), now())"), {"t": therapist})
        conn.execute(sa.text("INSERT INTO journey_stages (key, label, position) VALUES ('new', 'New', 0) ON CONFLICT DO NOTHING"))
        conn.execute(sa.text("INSERT INTO patients (id, first_name, last_name, journey_stage, profile, created_at, updated_at) "
                             "VALUES (:p, 'A', 'B', 'new', '{}', now(), now())"), {"p": patient})
        conn.execute(sa.text("INSERT INTO services (id, name, description, kind, scheduling, duration_minutes, price_minor, currency, "
                             "location, location_detail, active, created_at, updated_at) VALUES (:s, 'S', '', 'ONE_ON_ONE', 'CALENDAR', "
                             "60, 100, 'EUR', 'ONLINE', '', true, now(), now())"), {"s": service})
        for booking, starts, created, therapist_id in (
            (first, "2030-01-07 10:00+00", "2029-01-01 00:00+00", therapist),
            (overlapping, "2030-01-07 10:30+00", "2029-01-02 00:00+00", therapist),
            # overlaps the cancelled one only, and touches the first: [10:00, 11:00) then [11:00, 12:00)
            (later, "2030-01-07 11:00+00", "2029-01-03 00:00+00", therapist),
            (other, "2030-01-07 10:15+00", "2029-01-04 00:00+00", None),
        ):
            conn.execute(sa.text("INSERT INTO bookings (id, patient_id, service_id, therapist_id, starts_at, status, created_at, updated_at) "
                                 "VALUES (:b, :p, :s, :t, :at, 'CONFIRMED', :c, now())"),
                         {"b": booking, "p": patient, "s": service, "t": therapist_id,
                          "at": datetime.datetime.fromisoformat(starts), "c": datetime.datetime.fromisoformat(created)})
        revision = upgrade_tenant_sync(conn, schema, "head")
        rows = conn.execute(sa.text("SELECT id, status, ends_at - starts_at, lower(during) = starts_at, cancelled_by_kind "
                                    "FROM bookings ORDER BY created_at")).all()
        staff = conn.execute(sa.text("SELECT time_zone FROM staff")).all()
        # the constraint stands: a new overlapping CONFIRMED booking is refused
        try:
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO bookings (id, patient_id, service_id, therapist_id, starts_at, ends_at, blocked_from, "
                                     "blocked_until, status, created_at, updated_at) VALUES (gen_random_uuid(), :p, :s, :t, "
                                     "'2030-01-07 10:10+00', '2030-01-07 10:20+00', '2030-01-07 10:10+00', '2030-01-07 10:20+00', "
                                     "'CONFIRMED', now(), now())"), {"p": patient, "s": service, "t": therapist})
            refused = False
        except sa.exc.IntegrityError as exc:
            refused = "ex_bookings_therapist_overlap" in str(exc)
        assert refused
        return rows, staff, revision

    async with db.admin.connect() as conn:
        transaction = await conn.begin()
        try:
            rows, staff, revision = await conn.run_sync(run)
        finally:
            await transaction.rollback()
    hour = datetime.timedelta(hours=1)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (first, "CONFIRMED", hour, True, None),
        (overlapping, "CANCELLED", hour, True, "practice"),
        (later, "CONFIRMED", hour, True, None),  # kept: what it overlapped was cancelled; touching is no overlap
        (other, "CONFIRMED", hour, True, None),  # no therapist: outside the constraint
    ]
    assert staff == [(None,)]
    assert revision == head_revision("tenant")
