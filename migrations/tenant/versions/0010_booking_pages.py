"""booking pages: ``services.public_booking`` (offered on the public booking page) and
``calendar_feeds`` (a therapist's private calendar feed: the SHA-256 of its secret token)

Revision ID: b7c8d9e00011
Revises: c0aa7e1a0009
Create Date: 2026-12-01 03:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'b7c8d9e00011'
down_revision: Union[str, Sequence[str], None] = 'c0aa7e1a0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('services', sa.Column('public_booking', sa.Boolean(), server_default='true', nullable=False))
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.create_table(
        'calendar_feeds',
        sa.Column('id', guid, nullable=False),
        sa.Column('therapist_id', guid, nullable=False),
        sa.Column('token_hash', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_calendar_feeds_therapist_id_staff'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('therapist_id', name='uq_calendar_feeds_therapist'),
        sa.UniqueConstraint('token_hash', name='uq_calendar_feeds_token_hash'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('calendar_feeds')
    op.drop_column('services', 'public_booking')
