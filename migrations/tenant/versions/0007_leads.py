"""leads: the pipeline before a patient (``leads``) and possible duplicates (``lead_duplicates``)

Names, contact details, notes and the lost reason are encrypted (bytea); email and phone carry
blind indexes. ``ix_leads_ghost_clock`` serves the ghost detector.

Revision ID: d1e4a7b20008
Revises: b0c4e1a90006
Create Date: 2026-12-01 02:27:51.063368

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'd1e4a7b20008'
down_revision: Union[str, Sequence[str], None] = 'b0c4e1a90006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('leads',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('first_name_enc', sa.LargeBinary(), nullable=False),
    sa.Column('last_name_enc', sa.LargeBinary(), nullable=True),
    sa.Column('email_enc', sa.LargeBinary(), nullable=True),
    sa.Column('email_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('notes_enc', sa.LargeBinary(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('form_template_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('submission_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('interested_service_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('assigned_to', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('stage_changed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lost_reason_enc', sa.LargeBinary(), nullable=True),
    sa.Column('last_contacted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('ghosted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('converted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('merged_into_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(stage = 'CONVERTED') = (patient_id IS NOT NULL)", name=op.f('ck_leads_converted_has_patient')),
    sa.CheckConstraint("source IN ('PUBLIC_FORM','BOOKING','MANUAL','REFERRAL','AD','SOCIAL','OTHER')", name=op.f('ck_leads_source_valid')),
    sa.CheckConstraint("stage IN ('NEW','CONTACTED','QUALIFIED','CONVERTED','LOST')", name=op.f('ck_leads_stage_valid')),
    sa.ForeignKeyConstraint(['assigned_to'], ['staff.id'], name=op.f('fk_leads_assigned_to_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['interested_service_id'], ['services.id'], name=op.f('fk_leads_interested_service_id_services'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['leads.id'], name=op.f('fk_leads_merged_into_id_leads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_leads_patient_id_patients'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    op.create_index(op.f('ix_leads_assigned_to'), 'leads', ['assigned_to'], unique=False)
    op.create_index('ix_leads_email_bidx', 'leads', ['email_bidx'], unique=False)
    op.create_index('ix_leads_ghost_clock', 'leads', ['last_contacted_at', 'created_at'], unique=False, postgresql_where=sa.text("ghosted_at IS NULL AND merged_into_id IS NULL AND stage IN ('NEW','CONTACTED','QUALIFIED')"))
    op.create_index('ix_leads_phone_bidx', 'leads', ['phone_bidx'], unique=False)
    op.create_index('ix_leads_stage_created', 'leads', ['stage', 'created_at'], unique=False)
    op.create_table('lead_duplicates',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('lead_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('match_lead_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('match_patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('matched_on', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('resolved_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open','merged','dismissed')", name=op.f('ck_lead_duplicates_status_valid')),
    sa.CheckConstraint('(match_lead_id IS NULL) <> (match_patient_id IS NULL)', name=op.f('ck_lead_duplicates_one_match')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_duplicates_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['match_lead_id'], ['leads.id'], name=op.f('fk_lead_duplicates_match_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['match_patient_id'], ['patients.id'], name=op.f('fk_lead_duplicates_match_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_duplicates')),
    sa.UniqueConstraint('lead_id', 'match_lead_id', name='uq_lead_duplicates_lead'),
    sa.UniqueConstraint('lead_id', 'match_patient_id', name='uq_lead_duplicates_patient')
    )
    op.create_index(op.f('ix_lead_duplicates_lead_id'), 'lead_duplicates', ['lead_id'], unique=False)
    op.create_index(op.f('ix_lead_duplicates_match_lead_id'), 'lead_duplicates', ['match_lead_id'], unique=False)
    op.create_index(op.f('ix_lead_duplicates_match_patient_id'), 'lead_duplicates', ['match_patient_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_lead_duplicates_match_patient_id'), table_name='lead_duplicates')
    op.drop_index(op.f('ix_lead_duplicates_match_lead_id'), table_name='lead_duplicates')
    op.drop_index(op.f('ix_lead_duplicates_lead_id'), table_name='lead_duplicates')
    op.drop_table('lead_duplicates')
    op.drop_index('ix_leads_stage_created', table_name='leads')
    op.drop_index('ix_leads_phone_bidx', table_name='leads')
    op.drop_index('ix_leads_ghost_clock', table_name='leads', postgresql_where=sa.text("ghosted_at IS NULL AND merged_into_id IS NULL AND stage IN ('NEW','CONTACTED','QUALIFIED')"))
    op.drop_index('ix_leads_email_bidx', table_name='leads')
    op.drop_index(op.f('ix_leads_assigned_to'), table_name='leads')
    op.drop_table('leads')
