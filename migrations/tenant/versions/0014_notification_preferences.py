"""notification preferences: which emails each staff member gets

* ``notification_preferences``: one row per member who changed their role's defaults (new
  booking, cancellation, risk alert, new lead).
* ``patients.time_zone``: the client's own IANA zone (null: the practice's); an older
  ``profile.time_zone`` is carried over when it is a zone name.

Revision ID: p7e8f9a00013
Revises: a1b2c3d40010
Create Date: 2026-12-01 04:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'p7e8f9a00013'
down_revision: Union[str, Sequence[str], None] = 'a1b2c3d40010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.create_table(
        'notification_preferences',
        sa.Column('staff_id', guid, nullable=False),
        sa.Column('new_booking', sa.Boolean(), nullable=False),
        sa.Column('cancellation', sa.Boolean(), nullable=False),
        sa.Column('risk_alert', sa.Boolean(), nullable=False),
        sa.Column('new_lead', sa.Boolean(), nullable=False),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('updated_at', utc, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_notification_preferences_staff_id_staff'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_notification_preferences')),
    )
    op.add_column('patients', sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE patients SET time_zone = profile->>'time_zone' "
        "WHERE profile->>'time_zone' IN (SELECT name FROM pg_timezone_names)"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('patients', 'time_zone')
    op.drop_table('notification_preferences')
