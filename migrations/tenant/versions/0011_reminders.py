"""reminders: ``booking_notices`` (change emails, reminders, "before the session" events due per
booking), ``reminder_settings`` (offsets per organization and service),
``bookings.client_confirmed_at`` and ``outbound_emails.calendar`` (the iCalendar invitation).

Revision ID: r3m1nd3r0012
Revises: b7c8d9e00011
Create Date: 2026-12-01 03:55:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import advanced_alchemy


# revision identifiers, used by Alembic.
revision: str = 'r3m1nd3r0012'
down_revision: Union[str, Sequence[str], None] = 'b7c8d9e00011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'booking_notices',
        sa.Column('booking_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('due_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column('done_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.CheckConstraint("kind IN ('change','reminder','upcoming')", name=op.f('ck_booking_notices_kind_valid')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_notices_booking_id_bookings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_notices')),
        sa.UniqueConstraint('booking_id', 'key', name='uq_booking_notices_booking_key'),
    )
    op.create_index('ix_booking_notices_due', 'booking_notices', ['due_at'], unique=False, postgresql_where=sa.text('done_at IS NULL'))
    op.create_table(
        'reminder_settings',
        sa.Column('service_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column('org_default', sa.Boolean(), nullable=False),
        sa.Column('offsets_minutes', postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint('org_default = (service_id IS NULL)', name=op.f('ck_reminder_settings_org_default_has_no_service')),
        sa.CheckConstraint('cardinality(offsets_minutes) <= 5', name=op.f('ck_reminder_settings_offsets_count')),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_reminder_settings_service_id_services'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_settings')),
    )
    op.create_index('uq_reminder_settings_org', 'reminder_settings', ['org_default'], unique=True, postgresql_where=sa.text('org_default'))
    op.create_index('uq_reminder_settings_service', 'reminder_settings', ['service_id'], unique=True, postgresql_where=sa.text('service_id IS NOT NULL'))
    op.add_column('bookings', sa.Column('client_confirmed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))
    op.add_column('outbound_emails', sa.Column('calendar', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('outbound_emails', 'calendar')
    op.drop_column('bookings', 'client_confirmed_at')
    op.drop_index('uq_reminder_settings_service', table_name='reminder_settings', postgresql_where=sa.text('service_id IS NOT NULL'))
    op.drop_index('uq_reminder_settings_org', table_name='reminder_settings', postgresql_where=sa.text('org_default'))
    op.drop_table('reminder_settings')
    op.drop_index('ix_booking_notices_due', table_name='booking_notices', postgresql_where=sa.text('done_at IS NULL'))
    op.drop_table('booking_notices')
