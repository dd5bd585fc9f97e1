"""soul record: patients, journey stages, clinical journal, audit trail, data keys

Also closes the append-only and read-only tables of existing tenants: the tenant role (any role
holding grants on them other than the owner) loses UPDATE and DELETE on ``audit_events`` and
INSERT, UPDATE and DELETE on ``data_keys``. New tenants get the same REVOKEs from provisioning.

Revision ID: 56b965fccb4f
Revises: c80956455684
Create Date: 2026-11-22 02:21:11.250009

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types
from sqlalchemy.dialects import postgresql

CLOSE_TABLES = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
           WHERE table_schema = current_schema() AND table_name IN ('audit_events', 'data_keys')
             AND grantee <> current_user LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM %I', r.grantee);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON data_keys FROM %I', r.grantee);
  END LOOP;
END $$;
"""

# revision identifiers, used by Alembic.
revision: str = '56b965fccb4f'
down_revision: Union[str, Sequence[str], None] = 'c80956455684'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_events',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_patient_time', 'audit_events', ['patient_id', 'occurred_at'], unique=False)
    op.create_table('clinical_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('restrict_therapists_to_assigned', sa.Boolean(), server_default='false', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_policy'))
    )
    op.create_table('data_keys',
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('master_fingerprint', sa.String(length=16), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('retired_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('data','index')", name=op.f('ck_data_keys_purpose_valid')),
    sa.PrimaryKeyConstraint('purpose', 'version', name=op.f('pk_data_keys'))
    )
    op.create_table('journey_stages',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_journey_stages'))
    )
    op.create_table('patients',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('journey_stage', sa.String(length=32), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('profile', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('email_enc', sa.LargeBinary(), nullable=True),
    sa.Column('email_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('clinical_enc', sa.LargeBinary(), nullable=True),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('archived_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['journey_stage'], ['journey_stages.key'], name=op.f('fk_patients_journey_stage_journey_stages'), onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients'))
    )
    op.create_index('ix_patients_active_name', 'patients', ['archived_at', 'last_name', 'first_name'], unique=False)
    op.create_index('ix_patients_email_bidx', 'patients', ['email_bidx'], unique=False)
    op.create_index('ix_patients_phone_bidx', 'patients', ['phone_bidx'], unique=False)
    op.create_table('journal_entries',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('author_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('visibility', sa.String(length=8), nullable=False),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('content_enc', sa.LargeBinary(), nullable=False),
    sa.Column('signed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('note','form_submission','audio_reference','ai_analysis')", name=op.f('ck_journal_entries_kind_valid')),
    sa.CheckConstraint("visibility IN ('private','shared')", name=op.f('ck_journal_entries_visibility_valid')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_journal_entries_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries'))
    )
    op.create_index('ix_journal_entries_patient_time', 'journal_entries', ['patient_id', 'occurred_at'], unique=False)
    op.create_table('patient_therapists',
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('staff_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_therapists_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_patient_therapists_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'staff_id', name=op.f('pk_patient_therapists'))
    )
    op.create_index(op.f('ix_patient_therapists_staff_id'), 'patient_therapists', ['staff_id'], unique=False)
    op.create_table('journal_amendments',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('author_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('content_enc', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_amendments_entry_id_journal_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_amendments'))
    )
    op.create_index(op.f('ix_journal_amendments_entry_id'), 'journal_amendments', ['entry_id'], unique=False)
    op.execute(CLOSE_TABLES)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_journal_amendments_entry_id'), table_name='journal_amendments')
    op.drop_table('journal_amendments')
    op.drop_index(op.f('ix_patient_therapists_staff_id'), table_name='patient_therapists')
    op.drop_table('patient_therapists')
    op.drop_index('ix_journal_entries_patient_time', table_name='journal_entries')
    op.drop_table('journal_entries')
    op.drop_index('ix_patients_phone_bidx', table_name='patients')
    op.drop_index('ix_patients_email_bidx', table_name='patients')
    op.drop_index('ix_patients_active_name', table_name='patients')
    op.drop_table('patients')
    op.drop_table('journey_stages')
    op.drop_table('data_keys')
    op.drop_table('clinical_policy')
    op.drop_index('ix_audit_events_patient_time', table_name='audit_events')
    op.drop_table('audit_events')
