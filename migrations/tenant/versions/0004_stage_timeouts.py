"""stage timeouts: journey_stages.timeout_days, patients.stage_entered_at/stage_timeout_emitted_at

Existing patients get ``stage_entered_at`` from ``updated_at`` (else ``created_at``): the last time
the record changed is the latest moment the stage can have been entered, so no patient is reported
overdue earlier than they really are.

Revision ID: dfe98c8094bb
Revises: 6ae0b50c97be
Create Date: 2026-11-22 03:11:39.493116

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'dfe98c8094bb'
down_revision: Union[str, Sequence[str], None] = '6ae0b50c97be'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('journey_stages', sa.Column('timeout_days', sa.Integer(), nullable=True))
    op.create_check_constraint(op.f('ck_journey_stages_timeout_days_range'), 'journey_stages', 'timeout_days BETWEEN 1 AND 3650')
    op.add_column('patients', sa.Column('stage_entered_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))
    op.add_column('patients', sa.Column('stage_timeout_emitted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))
    op.execute('UPDATE patients SET stage_entered_at = COALESCE(updated_at, created_at) WHERE stage_entered_at IS NULL')
    op.create_index('ix_patients_stage_clock', 'patients', ['journey_stage', 'stage_entered_at'], unique=False, postgresql_where=sa.text('stage_timeout_emitted_at IS NULL AND archived_at IS NULL'))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_patients_stage_clock', table_name='patients', postgresql_where=sa.text('stage_timeout_emitted_at IS NULL AND archived_at IS NULL'))
    op.drop_column('patients', 'stage_timeout_emitted_at')
    op.drop_column('patients', 'stage_entered_at')
    op.drop_constraint(op.f('ck_journey_stages_timeout_days_range'), 'journey_stages', type_='check')
    op.drop_column('journey_stages', 'timeout_days')
