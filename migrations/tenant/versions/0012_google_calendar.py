"""google calendar: therapists' connections (tokens encrypted), pending authorizations, event syncs

* ``google_calendar_connections``: one per therapist, access and refresh tokens sealed like
  clinical fields, the chosen calendar, the last sync and the last error.
* ``google_oauth_states``: an authorization in progress (the state's SHA-256, its member, the
  PKCE verifier sealed); used once.
* ``google_event_syncs``: a booking's event in Google (deterministic id) and its sync state.

Revision ID: 9a8b7c6d0011
Revises: r3m1nd3r0012
Create Date: 2026-12-01 04:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = '9a8b7c6d0011'
down_revision: Union[str, Sequence[str], None] = 'r3m1nd3r0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.create_table(
        'google_calendar_connections',
        sa.Column('therapist_id', guid, nullable=False),
        sa.Column('access_token_enc', sa.LargeBinary(), nullable=False),
        sa.Column('refresh_token_enc', sa.LargeBinary(), nullable=True),
        sa.Column('expires_at', utc, nullable=False),
        sa.Column('scope', sa.String(length=500), nullable=False),
        sa.Column('calendar_id', sa.String(length=255), server_default='primary', nullable=False),
        sa.Column('connected_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('last_synced_at', utc, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', utc, nullable=True),
        sa.Column('needs_reconnect', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('id', guid, nullable=False),
        sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_google_calendar_connections_therapist_id_staff'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_google_calendar_connections')),
        sa.UniqueConstraint('therapist_id', name=op.f('uq_google_calendar_connections_therapist_id')),
    )
    op.create_table(
        'google_oauth_states',
        sa.Column('state_hash', sa.LargeBinary(), nullable=False),
        sa.Column('member_id', guid, nullable=False),
        sa.Column('verifier_enc', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('id', guid, nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['staff.id'], name=op.f('fk_google_oauth_states_member_id_staff'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_google_oauth_states')),
        sa.UniqueConstraint('state_hash', name=op.f('uq_google_oauth_states_state_hash')),
    )
    op.create_table(
        'google_event_syncs',
        sa.Column('booking_id', guid, nullable=False),
        sa.Column('therapist_id', guid, nullable=False),
        sa.Column('calendar_id', sa.String(length=255), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('present', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('synced_at', utc, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_google_event_syncs_booking_id_bookings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_google_event_syncs')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('google_event_syncs')
    op.drop_table('google_oauth_states')
    op.drop_table('google_calendar_connections')
