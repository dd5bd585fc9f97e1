"""Tables of the booking engine: availability, occurrences, bookings, waitlists, policies, charges.

**Time.** Every instant is ``timestamptz`` in UTC. Availability rules and overrides are *local*
wall times in the therapist's zone (``staff.time_zone``, the person's profile zone mirrored into the
organization, else the practice's zone), turned
into instants by :mod:`anima.domains.bookings.slots`.

**Exactly one.** A booking's ``during`` is the ``tstzrange`` ``[starts_at - buffer before,
ends_at + buffer after)`` (start inclusive, end exclusive): the therapist's time the session
blocks, buffers included. The exclusion constraint ``ex_bookings_therapist_overlap`` (GiST,
needing the ``btree_gist`` extension for the ``uuid =`` part, created once per database by a
platform migration) forbids two HELD or CONFIRMED bookings of one therapist whose blocked ranges
overlap — so two sessions' buffers never overlap either. Seats of an occurrence (``occurrence_id``
set) are counted under a row lock of the occurrence instead and are outside that constraint.

**States.** HELD (``expires_at``) -> CONFIRMED -> COMPLETED | NO_SHOW, or CANCELLED (by the client
or the practice, who and why). A HELD booking whose ``expires_at`` passed becomes EXPIRED; it keeps
blocking nothing from that moment (the engine expires lapsed holds before it books).
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    Boolean, CheckConstraint, Computed, Date, ForeignKey, Index, Integer, LargeBinary, String, Time, UniqueConstraint, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSTZRANGE, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedText
from anima.db.base import TenantBase, Timestamps, UUIDKey

STATUSES = ("HELD", "CONFIRMED", "COMPLETED", "NO_SHOW", "CANCELLED", "EXPIRED")
#: the statuses that occupy a therapist's time or a seat
ACTIVE = ("HELD", "CONFIRMED")
CANCELLED_BY = ("client", "practice")
COST_KINDS = ("NONE", "FIXED", "SHARE", "CREDIT")


class AvailabilityRule(UUIDKey, Timestamps, TenantBase):
    """Weekly hours: on ``weekday`` (0 = Monday) from ``start_time`` to ``end_time`` local time;
    ``service_id`` null: for every service the therapist offers, else for that service only."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        Index("ix_availability_rules_therapist", "therapist_id", "weekday"),
    )

    therapist_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"))
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("services.id", ondelete="CASCADE"), nullable=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[datetime.time] = mapped_column(Time)
    end_time: Mapped[datetime.time] = mapped_column(Time)


class AvailabilityOverride(UUIDKey, Timestamps, TenantBase):
    """One local date: ``available`` true adds hours (``start_time``..``end_time``); false takes
    them off (times null: the whole day, a holiday)."""

    __tablename__ = "availability_overrides"
    __table_args__ = (
        CheckConstraint("(start_time IS NULL) = (end_time IS NULL)", name="times_together"),
        CheckConstraint("end_time IS NULL OR end_time > start_time", name="ends_after_start"),
        CheckConstraint("available = false OR start_time IS NOT NULL", name="extra_hours_have_times"),
        Index("ix_availability_overrides_therapist", "therapist_id", "on_date"),
    )

    therapist_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"))
    on_date: Mapped[datetime.date] = mapped_column(Date)
    available: Mapped[bool] = mapped_column(Boolean)
    start_time: Mapped[datetime.time | None] = mapped_column(Time, nullable=True)
    end_time: Mapped[datetime.time | None] = mapped_column(Time, nullable=True)


class Occurrence(UUIDKey, Timestamps, TenantBase):
    """A dated session of a FIXED_DATE or GROUP service with its own seats (``capacity``) and an
    optional ``price_minor`` overriding the service's (same currency)."""

    __tablename__ = "occurrences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity BETWEEN 1 AND 10000", name="capacity_range"),
        CheckConstraint("price_minor IS NULL OR price_minor >= 0", name="price_nonnegative"),
        CheckConstraint("status IN ('SCHEDULED','CANCELLED')", name="status_valid"),
        Index("ix_occurrences_service", "service_id", "starts_at"),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("services.id", ondelete="RESTRICT"))
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    starts_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    ends_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    location: Mapped[str] = mapped_column(String(255), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="SCHEDULED")


class Booking(UUIDKey, Timestamps, TenantBase):
    """A patient on a service from ``starts_at`` to ``ends_at`` with a therapist (or none) or on
    an occurrence's seat; ``blocked_from``/``blocked_until`` add the service's buffers and
    ``during`` is their ``tstzrange`` (see the module's docstring for the rule)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("status IN ('HELD','CONFIRMED','COMPLETED','NO_SHOW','CANCELLED','EXPIRED')", name="status_valid"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("blocked_from <= starts_at AND blocked_until >= ends_at", name="blocked_covers_session"),
        CheckConstraint("status <> 'HELD' OR expires_at IS NOT NULL", name="held_expires"),
        CheckConstraint("cancelled_by_kind IS NULL OR cancelled_by_kind IN ('client','practice')", name="cancelled_by_valid"),
        Index("ix_bookings_starts", "starts_at"),
        Index("ix_bookings_patient", "patient_id", "starts_at"),
        Index("ix_bookings_therapist", "therapist_id", "starts_at"),
        Index("ix_bookings_occurrence", "occurrence_id", "status"),
        Index("ix_bookings_held", "expires_at", postgresql_where=text("status = 'HELD'")),
        ExcludeConstraint(
            ("therapist_id", "="), ("during", "&&"), name="ex_bookings_therapist_overlap", using="gist",
            where=text("status IN ('HELD','CONFIRMED') AND therapist_id IS NOT NULL AND occurrence_id IS NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("services.id", ondelete="RESTRICT"))
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    occurrence_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("occurrences.id", ondelete="RESTRICT"), nullable=True)
    starts_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    ends_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    blocked_from: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    blocked_until: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    during: Mapped[object] = mapped_column(
        TSTZRANGE, Computed("tstzrange(blocked_from, blocked_until, '[)')", persisted=True)
    )
    status: Mapped[str] = mapped_column(String(10), default="CONFIRMED")
    expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    confirmed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    completed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    no_show_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    cancelled_by_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    cancel_reason_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    rescheduled_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: when the client confirmed through the link of a reminder (first time only)
    client_confirmed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class WaitlistEntry(UUIDKey, Timestamps, TenantBase):
    """A patient waiting for a seat of an occurrence, served in ``created_at`` order.

    WAITING -> OFFERED (``offer_expires_at``) -> CLAIMED (``booking_id``) | EXPIRED (the offer
    passes on); WAITING or OFFERED -> LEFT. An OFFERED entry holds its seat until it expires."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("status IN ('WAITING','OFFERED','CLAIMED','EXPIRED','LEFT')", name="status_valid"),
        CheckConstraint("status <> 'OFFERED' OR offer_expires_at IS NOT NULL", name="offer_expires"),
        Index("ix_waitlist_entries_occurrence", "occurrence_id", "status", "created_at"),
        Index("uq_waitlist_entries_patient", "occurrence_id", "patient_id", unique=True,
              postgresql_where=text("status IN ('WAITING','OFFERED')")),
    )

    occurrence_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("occurrences.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="WAITING")
    offered_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    offer_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("bookings.id", ondelete="SET NULL"), nullable=True)


class CancellationPolicy(UUIDKey, Timestamps, TenantBase):
    """What a late cancellation (by the client, less than ``window_hours`` before the start) or a
    no-show costs. ``service_id`` null: the organization's policy; else that service's override.

    Each cost is a kind — NONE, FIXED (``*_amount_minor`` in the service's currency), SHARE
    (``*_share_bp`` basis points of the price) or CREDIT (``*_credits`` package credits) — with
    its value."""

    __tablename__ = "cancellation_policies"
    __table_args__ = (
        CheckConstraint("window_hours BETWEEN 0 AND 8760", name="window_range"),
        CheckConstraint("late_cancel_kind IN ('NONE','FIXED','SHARE','CREDIT')", name="late_kind_valid"),
        CheckConstraint("no_show_kind IN ('NONE','FIXED','SHARE','CREDIT')", name="no_show_kind_valid"),
        CheckConstraint("late_cancel_value >= 0 AND no_show_value >= 0", name="values_nonnegative"),
        Index("uq_cancellation_policies_service", "service_id", unique=True, postgresql_where=text("service_id IS NOT NULL")),
        Index("uq_cancellation_policies_org", "org_default", unique=True, postgresql_where=text("org_default")),
        CheckConstraint("org_default = (service_id IS NULL)", name="org_default_has_no_service"),
    )

    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("services.id", ondelete="CASCADE"), nullable=True)
    org_default: Mapped[bool] = mapped_column(Boolean, default=False)
    window_hours: Mapped[int] = mapped_column(Integer, default=24)
    late_cancel_kind: Mapped[str] = mapped_column(String(8), default="NONE")
    late_cancel_value: Mapped[int] = mapped_column(Integer, default=0)
    no_show_kind: Mapped[str] = mapped_column(String(8), default="NONE")
    no_show_value: Mapped[int] = mapped_column(Integer, default=0)


class BookingCharge(UUIDKey, Timestamps, TenantBase):
    """A cost to collect for a booking (late cancellation or no-show), recorded once per booking.

    ``amount_minor`` + ``currency`` for FIXED and SHARE, ``credits`` for CREDIT; ``status``
    TO_COLLECT until payments collect it."""

    __tablename__ = "booking_charges"
    __table_args__ = (
        UniqueConstraint("booking_id", name="uq_booking_charges_booking"),
        CheckConstraint("reason IN ('LATE_CANCEL','NO_SHOW')", name="reason_valid"),
        CheckConstraint("cost_kind IN ('FIXED','SHARE','CREDIT')", name="cost_kind_valid"),
        CheckConstraint("amount_minor >= 0 AND credits >= 0", name="nonnegative"),
        CheckConstraint("status IN ('TO_COLLECT','COLLECTED','WAIVED')", name="status_valid"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("bookings.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(12))
    cost_kind: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    credits: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="TO_COLLECT")
    #: the payment that collects it (an off-session charge, or a request sent with a pay link);
    #: set once, by payments (:mod:`anima.domains.payments.fees`)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


class ReminderSetting(UUIDKey, Timestamps, TenantBase):
    """When reminders go before a booking: ``offsets_minutes`` (1 to 5 distinct offsets, each from
    5 minutes to 30 days). ``service_id`` null: the organization's setting; else that service's
    override. Without any row the default is one reminder 24 hours before."""

    __tablename__ = "reminder_settings"
    __table_args__ = (
        Index("uq_reminder_settings_service", "service_id", unique=True, postgresql_where=text("service_id IS NOT NULL")),
        Index("uq_reminder_settings_org", "org_default", unique=True, postgresql_where=text("org_default")),
        CheckConstraint("org_default = (service_id IS NULL)", name="org_default_has_no_service"),
        CheckConstraint("cardinality(offsets_minutes) <= 5", name="offsets_count"),
    )

    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("services.id", ondelete="CASCADE"), nullable=True)
    org_default: Mapped[bool] = mapped_column(Boolean, default=False)
    offsets_minutes: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)


NOTICE_KINDS = ("change", "reminder", "upcoming")


class BookingNotice(UUIDKey, TenantBase):
    """Something due about one booking at ``due_at``: ``change`` (the email with the calendar
    invitation of a confirmation, reschedule or cancellation; ``key`` ``change:<SEQUENCE>``),
    ``reminder`` (``reminder:<minutes before>``) or ``upcoming`` (the "before the session"
    playbook event, ``upcoming:<minutes before>``). ``done_at`` is set when the tick handled it
    (once: claimed ``FOR UPDATE SKIP LOCKED``). One row per (booking, key): a reschedule moves it."""

    __tablename__ = "booking_notices"
    __table_args__ = (
        UniqueConstraint("booking_id", "key", name="uq_booking_notices_booking_key"),
        CheckConstraint("kind IN ('change','reminder','upcoming')", name="kind_valid"),
        Index("ix_booking_notices_due", "due_at", postgresql_where=text("done_at IS NULL")),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("bookings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    done_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class CalendarFeed(UUIDKey, Timestamps, TenantBase):
    """A therapist's private calendar feed: the SHA-256 (``token_hash``) of the secret token its
    URL carries — never the token itself. One per therapist; regenerating replaces the hash (the
    old URL stops at once), revoking deletes the row."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        UniqueConstraint("therapist_id", name="uq_calendar_feeds_therapist"),
        UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
    )

    therapist_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
