"""booking engine: availability, occurrences, bookings with a tstzrange and an exclusion constraint, waitlists, policies, charges

* ``services``: booking settings (buffers, minimum notice, horizon, slot step).
* ``staff.time_zone``: the person's profile zone mirrored (filled from ``platform.users``), the
  zone of a therapist's availability.
* ``availability_rules``, ``availability_overrides``, ``occurrences``,
  ``waitlist_entries``, ``cancellation_policies``, ``booking_charges``: new.
* ``bookings``: ``ends_at`` and ``blocked_from``/``blocked_until`` (existing rows: the service's
  duration, no buffers — the buffers are new and zero), ``during`` generated from them, the HELD,
  NO_SHOW and EXPIRED states, who cancelled and why, the occurrence, the payment reference, and
  the exclusion constraint ``ex_bookings_therapist_overlap`` (btree_gist, created by the platform
  migration that runs first). Existing CONFIRMED bookings of one therapist that overlap would stop
  the constraint from being created: in creation order, a booking overlapping one kept before it
  is cancelled by the practice (``cancelled_by`` null, the reason left empty), so the migration
  never fails on old free-form data and every row stays readable.

Revision ID: b0c4e1a90006
Revises: 5b1e7c2d9a40
Create Date: 2026-12-01 02:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types
from sqlalchemy.dialects import postgresql


revision: str = 'b0c4e1a90006'
down_revision: Union[str, Sequence[str], None] = '5b1e7c2d9a40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)

    def stamps() -> list[sa.Column]:
        return [sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
                sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False)]

    for name, default in (('buffer_before_minutes', '0'), ('buffer_after_minutes', '0'), ('min_notice_minutes', '120'),
                          ('horizon_days', '90'), ('slot_step_minutes', '15')):
        op.add_column('services', sa.Column(name, sa.Integer(), server_default=default, nullable=False))
    op.create_check_constraint(op.f('ck_services_buffers_range'), 'services',
                               'buffer_before_minutes BETWEEN 0 AND 1440 AND buffer_after_minutes BETWEEN 0 AND 1440')
    op.create_check_constraint(op.f('ck_services_notice_range'), 'services', 'min_notice_minutes BETWEEN 0 AND 525600')
    op.create_check_constraint(op.f('ck_services_horizon_range'), 'services', 'horizon_days BETWEEN 1 AND 730')
    op.create_check_constraint(op.f('ck_services_step_range'), 'services', 'slot_step_minutes BETWEEN 5 AND 1440')

    # a therapist's zone: the person's profile zone, mirrored into the organization like the name
    op.add_column('staff', sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.execute("UPDATE staff s SET time_zone = u.time_zone FROM platform.users u WHERE u.id = s.id")
    op.create_table(
        'availability_rules',
        sa.Column('id', guid, nullable=False),
        sa.Column('therapist_id', guid, nullable=False),
        sa.Column('service_id', guid, nullable=True),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('start_time', sa.Time(), nullable=False),
        sa.Column('end_time', sa.Time(), nullable=False),
        *stamps(),
        sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_availability_rules_weekday_range')),
        sa.CheckConstraint('end_time > start_time', name=op.f('ck_availability_rules_ends_after_start')),
        sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_availability_rules_therapist_id_staff'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_availability_rules_service_id_services'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_rules')),
    )
    op.create_index('ix_availability_rules_therapist', 'availability_rules', ['therapist_id', 'weekday'], unique=False)
    op.create_table(
        'availability_overrides',
        sa.Column('id', guid, nullable=False),
        sa.Column('therapist_id', guid, nullable=False),
        sa.Column('on_date', sa.Date(), nullable=False),
        sa.Column('available', sa.Boolean(), nullable=False),
        sa.Column('start_time', sa.Time(), nullable=True),
        sa.Column('end_time', sa.Time(), nullable=True),
        *stamps(),
        sa.CheckConstraint('(start_time IS NULL) = (end_time IS NULL)', name=op.f('ck_availability_overrides_times_together')),
        sa.CheckConstraint('end_time IS NULL OR end_time > start_time', name=op.f('ck_availability_overrides_ends_after_start')),
        sa.CheckConstraint('available = false OR start_time IS NOT NULL', name=op.f('ck_availability_overrides_extra_hours_have_times')),
        sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_availability_overrides_therapist_id_staff'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_overrides')),
    )
    op.create_index('ix_availability_overrides_therapist', 'availability_overrides', ['therapist_id', 'on_date'], unique=False)
    op.create_table(
        'occurrences',
        sa.Column('id', guid, nullable=False),
        sa.Column('service_id', guid, nullable=False),
        sa.Column('therapist_id', guid, nullable=True),
        sa.Column('starts_at', utc, nullable=False),
        sa.Column('ends_at', utc, nullable=False),
        sa.Column('location', sa.String(length=255), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('price_minor', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        *stamps(),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_occurrences_ends_after_start')),
        sa.CheckConstraint('capacity BETWEEN 1 AND 10000', name=op.f('ck_occurrences_capacity_range')),
        sa.CheckConstraint('price_minor IS NULL OR price_minor >= 0', name=op.f('ck_occurrences_price_nonnegative')),
        sa.CheckConstraint("status IN ('SCHEDULED','CANCELLED')", name=op.f('ck_occurrences_status_valid')),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_occurrences_service_id_services'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_occurrences_therapist_id_staff'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_occurrences')),
    )
    op.create_index('ix_occurrences_service', 'occurrences', ['service_id', 'starts_at'], unique=False)

    # bookings: the new columns, existing rows given their service's duration and no buffers
    op.add_column('bookings', sa.Column('occurrence_id', guid, nullable=True))
    for name in ('ends_at', 'blocked_from', 'blocked_until'):
        op.add_column('bookings', sa.Column(name, utc, nullable=True))
    op.execute(
        "UPDATE bookings b SET ends_at = b.starts_at + make_interval(mins => s.duration_minutes), "
        "blocked_from = b.starts_at, blocked_until = b.starts_at + make_interval(mins => s.duration_minutes) "
        "FROM services s WHERE s.id = b.service_id"
    )
    for name in ('ends_at', 'blocked_from', 'blocked_until'):
        op.alter_column('bookings', name, nullable=False)
    op.add_column('bookings', sa.Column(
        'during', postgresql.TSTZRANGE(), sa.Computed("tstzrange(blocked_from, blocked_until, '[)')", persisted=True), nullable=False))
    op.add_column('bookings', sa.Column('expires_at', utc, nullable=True))
    op.add_column('bookings', sa.Column('payment_id', guid, nullable=True))
    op.add_column('bookings', sa.Column('confirmed_at', utc, nullable=True))
    op.add_column('bookings', sa.Column('no_show_at', utc, nullable=True))
    op.add_column('bookings', sa.Column('cancelled_by_kind', sa.String(length=10), nullable=True))
    op.add_column('bookings', sa.Column('cancelled_by', guid, nullable=True))
    op.add_column('bookings', sa.Column('cancel_reason_enc', sa.LargeBinary(), nullable=True))
    op.add_column('bookings', sa.Column('rescheduled_count', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE bookings SET confirmed_at = created_at")
    op.drop_constraint(op.f('ck_bookings_status_valid'), 'bookings', type_='check')
    op.create_check_constraint(op.f('ck_bookings_status_valid'), 'bookings',
                               "status IN ('HELD','CONFIRMED','COMPLETED','NO_SHOW','CANCELLED','EXPIRED')")
    op.create_check_constraint(op.f('ck_bookings_ends_after_start'), 'bookings', 'ends_at > starts_at')
    op.create_check_constraint(op.f('ck_bookings_blocked_covers_session'), 'bookings',
                               'blocked_from <= starts_at AND blocked_until >= ends_at')
    op.create_check_constraint(op.f('ck_bookings_held_expires'), 'bookings', "status <> 'HELD' OR expires_at IS NOT NULL")
    op.create_check_constraint(op.f('ck_bookings_cancelled_by_valid'), 'bookings',
                               "cancelled_by_kind IS NULL OR cancelled_by_kind IN ('client','practice')")
    op.create_foreign_key(op.f('fk_bookings_occurrence_id_occurrences'), 'bookings', 'occurrences', ['occurrence_id'], ['id'], ondelete='RESTRICT')
    op.create_index('ix_bookings_occurrence', 'bookings', ['occurrence_id', 'status'], unique=False)
    op.create_index('ix_bookings_held', 'bookings', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'HELD'"))
    # old free-form bookings may overlap: in creation order, a booking overlapping one kept before
    # it is cancelled (greedy, so a booking is cancelled only for one that stays)
    op.execute(
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT id, therapist_id, during, created_at FROM bookings "
        "WHERE status = 'CONFIRMED' AND therapist_id IS NOT NULL ORDER BY created_at, id LOOP "
        "IF EXISTS (SELECT 1 FROM bookings o WHERE o.therapist_id = r.therapist_id AND o.status = 'CONFIRMED' "
        "AND o.id <> r.id AND o.during && r.during AND (o.created_at, o.id) < (r.created_at, r.id)) THEN "
        "UPDATE bookings SET status = 'CANCELLED', cancelled_at = now(), cancelled_by_kind = 'practice' WHERE id = r.id; "
        "END IF; END LOOP; END $$"
    )
    op.create_exclude_constraint(
        'ex_bookings_therapist_overlap', 'bookings', ('therapist_id', '='), ('during', '&&'), using='gist',
        where=sa.text("status IN ('HELD','CONFIRMED') AND therapist_id IS NOT NULL AND occurrence_id IS NULL"),
    )

    op.create_table(
        'waitlist_entries',
        sa.Column('id', guid, nullable=False),
        sa.Column('occurrence_id', guid, nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('offered_at', utc, nullable=True),
        sa.Column('offer_expires_at', utc, nullable=True),
        sa.Column('booking_id', guid, nullable=True),
        *stamps(),
        sa.CheckConstraint("status IN ('WAITING','OFFERED','CLAIMED','EXPIRED','LEFT')", name=op.f('ck_waitlist_entries_status_valid')),
        sa.CheckConstraint("status <> 'OFFERED' OR offer_expires_at IS NOT NULL", name=op.f('ck_waitlist_entries_offer_expires')),
        sa.ForeignKeyConstraint(['occurrence_id'], ['occurrences.id'], name=op.f('fk_waitlist_entries_occurrence_id_occurrences'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_waitlist_entries_patient_id_patients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_waitlist_entries_booking_id_bookings'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    )
    op.create_index('ix_waitlist_entries_occurrence', 'waitlist_entries', ['occurrence_id', 'status', 'created_at'], unique=False)
    op.create_index('uq_waitlist_entries_patient', 'waitlist_entries', ['occurrence_id', 'patient_id'], unique=True,
                    postgresql_where=sa.text("status IN ('WAITING','OFFERED')"))
    op.create_table(
        'cancellation_policies',
        sa.Column('id', guid, nullable=False),
        sa.Column('service_id', guid, nullable=True),
        sa.Column('org_default', sa.Boolean(), nullable=False),
        sa.Column('window_hours', sa.Integer(), nullable=False),
        sa.Column('late_cancel_kind', sa.String(length=8), nullable=False),
        sa.Column('late_cancel_value', sa.Integer(), nullable=False),
        sa.Column('no_show_kind', sa.String(length=8), nullable=False),
        sa.Column('no_show_value', sa.Integer(), nullable=False),
        *stamps(),
        sa.CheckConstraint('window_hours BETWEEN 0 AND 8760', name=op.f('ck_cancellation_policies_window_range')),
        sa.CheckConstraint("late_cancel_kind IN ('NONE','FIXED','SHARE','CREDIT')", name=op.f('ck_cancellation_policies_late_kind_valid')),
        sa.CheckConstraint("no_show_kind IN ('NONE','FIXED','SHARE','CREDIT')", name=op.f('ck_cancellation_policies_no_show_kind_valid')),
        sa.CheckConstraint('late_cancel_value >= 0 AND no_show_value >= 0', name=op.f('ck_cancellation_policies_values_nonnegative')),
        sa.CheckConstraint('org_default = (service_id IS NULL)', name=op.f('ck_cancellation_policies_org_default_has_no_service')),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_cancellation_policies_service_id_services'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cancellation_policies')),
    )
    op.create_index('uq_cancellation_policies_service', 'cancellation_policies', ['service_id'], unique=True,
                    postgresql_where=sa.text('service_id IS NOT NULL'))
    op.create_index('uq_cancellation_policies_org', 'cancellation_policies', ['org_default'], unique=True,
                    postgresql_where=sa.text('org_default'))
    op.create_table(
        'booking_charges',
        sa.Column('id', guid, nullable=False),
        sa.Column('booking_id', guid, nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('reason', sa.String(length=12), nullable=False),
        sa.Column('cost_kind', sa.String(length=8), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=True),
        sa.Column('credits', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        *stamps(),
        sa.CheckConstraint("reason IN ('LATE_CANCEL','NO_SHOW')", name=op.f('ck_booking_charges_reason_valid')),
        sa.CheckConstraint("cost_kind IN ('FIXED','SHARE','CREDIT')", name=op.f('ck_booking_charges_cost_kind_valid')),
        sa.CheckConstraint('amount_minor >= 0 AND credits >= 0', name=op.f('ck_booking_charges_nonnegative')),
        sa.CheckConstraint("status IN ('TO_COLLECT','COLLECTED','WAIVED')", name=op.f('ck_booking_charges_status_valid')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_charges_booking_id_bookings'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_booking_charges_patient_id_patients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_charges')),
        sa.UniqueConstraint('booking_id', name='uq_booking_charges_booking'),
    )


def downgrade() -> None:
    op.drop_table('booking_charges')
    op.drop_table('cancellation_policies')
    op.drop_table('waitlist_entries')
    op.drop_constraint('ex_bookings_therapist_overlap', 'bookings', type_='exclude')
    op.drop_index('ix_bookings_held', table_name='bookings')
    op.drop_index('ix_bookings_occurrence', table_name='bookings')
    op.drop_constraint(op.f('fk_bookings_occurrence_id_occurrences'), 'bookings', type_='foreignkey')
    for name in ('ck_bookings_cancelled_by_valid', 'ck_bookings_held_expires', 'ck_bookings_blocked_covers_session',
                 'ck_bookings_ends_after_start', 'ck_bookings_status_valid'):
        op.drop_constraint(op.f(name), 'bookings', type_='check')
    op.execute("UPDATE bookings SET status = 'CANCELLED' WHERE status NOT IN ('CONFIRMED','COMPLETED','CANCELLED')")
    op.create_check_constraint(op.f('ck_bookings_status_valid'), 'bookings', "status IN ('CONFIRMED','COMPLETED','CANCELLED')")
    for name in ('rescheduled_count', 'cancel_reason_enc', 'cancelled_by', 'cancelled_by_kind', 'no_show_at', 'confirmed_at',
                 'payment_id', 'expires_at', 'during', 'blocked_until', 'blocked_from', 'ends_at', 'occurrence_id'):
        op.drop_column('bookings', name)
    op.drop_table('occurrences')
    op.drop_table('availability_overrides')
    op.drop_table('availability_rules')
    op.drop_column('staff', 'time_zone')
    for name in ('ck_services_step_range', 'ck_services_horizon_range', 'ck_services_notice_range', 'ck_services_buffers_range'):
        op.drop_constraint(op.f(name), 'services', type_='check')
    for name in ('slot_step_minutes', 'horizon_days', 'min_notice_minutes', 'buffer_after_minutes', 'buffer_before_minutes'):
        op.drop_column('services', name)
