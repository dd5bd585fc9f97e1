"""product rules: risk alert sources, patient blocks and their lift, AI consent, AI analysis usage

* ``staff_alerts.source_kind/source_id`` and a unique index per (member, source): a risk alert
  names its journal entry or form submission and is raised once per member and source.
* ``patients.blocked_source_*`` (what caused a block) and ``block_lifted_*`` (the last lift, its
  reason encrypted).
* ``patients.ai_consent_*`` (current consent to AI processing) and ``ai_consents`` (its history,
  append-only: a trigger refuses UPDATE).
* ``ai_analysis_usage``: one row per analysis, counted per calendar month (UTC) against the plan.

Revision ID: 5b1e7c2d9a40
Revises: dfe98c8094bb
Create Date: 2026-11-30 21:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = '5b1e7c2d9a40'
down_revision: Union[str, Sequence[str], None] = 'dfe98c8094bb'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION ai_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'ai_consents is append-only'; END $$",
    "CREATE TRIGGER ai_consents_no_update BEFORE UPDATE ON ai_consents "
    "FOR EACH ROW EXECUTE FUNCTION ai_consents_append_only()",
)


def upgrade() -> None:
    """Upgrade schema."""
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.add_column('staff_alerts', sa.Column('source_kind', sa.String(length=24), nullable=True))
    op.add_column('staff_alerts', sa.Column('source_id', guid, nullable=True))
    op.create_index('uq_staff_alerts_source', 'staff_alerts', ['staff_id', 'source_id'], unique=True, postgresql_where=sa.text('source_id IS NOT NULL'))

    op.add_column('patients', sa.Column('blocked_source_kind', sa.String(length=24), nullable=True))
    op.add_column('patients', sa.Column('blocked_source_id', guid, nullable=True))
    op.add_column('patients', sa.Column('block_lifted_at', utc, nullable=True))
    op.add_column('patients', sa.Column('block_lifted_by', guid, nullable=True))
    op.add_column('patients', sa.Column('block_lift_reason_enc', sa.LargeBinary(), nullable=True))
    op.add_column('patients', sa.Column('ai_consent_given', sa.Boolean(), nullable=True))
    op.add_column('patients', sa.Column('ai_consent_method', sa.String(length=16), nullable=True))
    op.add_column('patients', sa.Column('ai_consent_at', utc, nullable=True))
    op.add_column('patients', sa.Column('ai_consent_by', guid, nullable=True))

    op.create_table(
        'ai_consents',
        sa.Column('id', guid, nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('recorded_by', guid, nullable=True),
        sa.Column('recorded_at', utc, server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("method IN ('verbal','written','form','portal')", name=op.f('ck_ai_consents_method_valid')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ai_consents_patient_id_patients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_consents')),
    )
    op.create_index('ix_ai_consents_patient_time', 'ai_consents', ['patient_id', 'recorded_at'], unique=False)
    for statement in _APPEND_ONLY:
        op.execute(statement)

    op.create_table(
        'ai_analysis_usage',
        sa.Column('id', guid, nullable=False),
        sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('requested_by', guid, nullable=True),
        sa.Column('entry_id', guid, nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_analysis_usage')),
    )
    op.create_index('ix_ai_analysis_usage_created', 'ai_analysis_usage', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_ai_analysis_usage_created', table_name='ai_analysis_usage')
    op.drop_table('ai_analysis_usage')
    op.drop_index('ix_ai_consents_patient_time', table_name='ai_consents')
    op.drop_table('ai_consents')
    op.execute('DROP FUNCTION IF EXISTS ai_consents_append_only()')
    for column in ('ai_consent_by', 'ai_consent_at', 'ai_consent_method', 'ai_consent_given', 'block_lift_reason_enc',
                   'block_lifted_by', 'block_lifted_at', 'blocked_source_id', 'blocked_source_kind'):
        op.drop_column('patients', column)
    op.drop_index('uq_staff_alerts_source', table_name='staff_alerts', postgresql_where=sa.text('source_id IS NOT NULL'))
    op.drop_column('staff_alerts', 'source_id')
    op.drop_column('staff_alerts', 'source_kind')
