"""forms: organization forms and their versions, one-time assignments, submissions (answers encrypted)

Revision ID: f0a3d1e50007
Revises: d1e4a7b20008
Create Date: 2026-12-01 02:27:52.857241

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'f0a3d1e50007'
down_revision: Union[str, Sequence[str], None] = 'd1e4a7b20008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('forms',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('system_key', sa.String(length=20), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('public_token', sa.String(length=64), nullable=True),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('archived_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
    sa.UniqueConstraint('key', name='uq_forms_key'),
    sa.UniqueConstraint('public_token', name='uq_forms_public_token')
    )
    op.create_table('form_versions',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('form_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_versions_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_versions')),
    sa.UniqueConstraint('form_id', 'version', name='uq_form_versions_form_version')
    )
    op.create_table('form_assignments',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('form_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('version_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('used_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('revoked_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('emailed', sa.Boolean(), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_assignments_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_form_assignments_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['form_versions.id'], name=op.f('fk_form_assignments_version_id_form_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_assignments')),
    sa.UniqueConstraint('token_hash', name='uq_form_assignments_token_hash')
    )
    op.create_index('ix_form_assignments_patient', 'form_assignments', ['patient_id', 'created_at'], unique=False)
    op.create_table('form_submissions',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('form_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('version_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('assignment_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('journal_entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('measure', sa.String(length=8), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('answers_enc', sa.LargeBinary(), nullable=False),
    sa.Column('person_enc', sa.LargeBinary(), nullable=True),
    sa.Column('scores_enc', sa.LargeBinary(), nullable=True),
    sa.Column('submitted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['form_assignments.id'], name=op.f('fk_form_submissions_assignment_id_form_assignments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_submissions_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_form_submissions_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['form_versions.id'], name=op.f('fk_form_submissions_version_id_form_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_submissions')),
    sa.UniqueConstraint('assignment_id', name='uq_form_submissions_assignment')
    )
    op.create_index('ix_form_submissions_form', 'form_submissions', ['form_id', 'submitted_at'], unique=False)
    op.create_index('ix_form_submissions_patient_measure', 'form_submissions', ['patient_id', 'measure', 'submitted_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_form_submissions_patient_measure', table_name='form_submissions')
    op.drop_index('ix_form_submissions_form', table_name='form_submissions')
    op.drop_table('form_submissions')
    op.drop_index('ix_form_assignments_patient', table_name='form_assignments')
    op.drop_table('form_assignments')
    op.drop_table('form_versions')
    op.drop_table('forms')
