"""events outbox, automation playbooks, payments, bookings; patients.blocked_at/blocked_reason

Revision ID: 6ae0b50c97be
Revises: 56b965fccb4f
Create Date: 2026-11-22 02:40:42.227344

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '6ae0b50c97be'
down_revision: Union[str, Sequence[str], None] = '56b965fccb4f'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('automation_rules',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('template_key', sa.String(length=60), nullable=True),
    sa.Column('template_version', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('installed_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rules'))
    )
    op.create_index('ix_automation_rules_trigger', 'automation_rules', ['trigger', 'enabled'], unique=False)
    op.create_index('uq_automation_rules_template_key', 'automation_rules', ['template_key'], unique=True, postgresql_where=sa.text('template_key IS NOT NULL'))
    op.create_table('outbox_events',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actor_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('relayed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events'))
    )
    op.create_index('ix_outbox_events_type_time', 'outbox_events', ['type', 'occurred_at'], unique=False)
    op.create_index('ix_outbox_events_unrelayed', 'outbox_events', ['occurred_at'], unique=False, postgresql_where=sa.text('relayed_at IS NULL'))
    op.create_table('automation_runs',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('rule_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('event_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('next_action', sa.Integer(), nullable=False),
    sa.Column('started_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('finished_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rule_id'], ['automation_rules.id'], name=op.f('fk_automation_runs_rule_id_automation_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_runs')),
    sa.UniqueConstraint('rule_id', 'event_id', name='uq_automation_runs_rule_event')
    )
    op.create_index('ix_automation_runs_started', 'automation_runs', ['started_at'], unique=False)
    op.create_table('automation_delays',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('resume_index', sa.Integer(), nullable=False),
    sa.Column('due_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('fired_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['automation_runs.id'], name=op.f('fk_automation_delays_run_id_automation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_delays')),
    sa.UniqueConstraint('run_id', 'resume_index', name='uq_automation_delays_run_index')
    )
    op.create_index('ix_automation_delays_due', 'automation_delays', ['due_at'], unique=False, postgresql_where=sa.text('fired_at IS NULL'))
    op.create_table('automation_effects',
    sa.Column('run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('action_index', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['automation_runs.id'], name=op.f('fk_automation_effects_run_id_automation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'action_index', name='pk_automation_effects')
    )
    op.create_table('bookings',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('service_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('therapist_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('starts_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('completed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('cancelled_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('CONFIRMED','COMPLETED','CANCELLED')", name=op.f('ck_bookings_status_valid')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_bookings_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_bookings_service_id_services'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['therapist_id'], ['staff.id'], name=op.f('fk_bookings_therapist_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings'))
    )
    op.create_index('ix_bookings_patient', 'bookings', ['patient_id', 'starts_at'], unique=False)
    op.create_index('ix_bookings_starts', 'bookings', ['starts_at'], unique=False)
    op.create_index('ix_bookings_therapist', 'bookings', ['therapist_id', 'starts_at'], unique=False)
    op.create_table('outbound_emails',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('staff_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('recipient_enc', sa.LargeBinary(), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_outbound_emails_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_emails')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbound_emails_idempotency_key'))
    )
    op.create_table('payment_requests',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('settled_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('PENDING','SUCCEEDED','FAILED')", name=op.f('ck_payment_requests_status_valid')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payment_requests_amount_positive')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_payment_requests_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests'))
    )
    op.create_index('ix_payment_requests_patient', 'payment_requests', ['patient_id', 'created_at'], unique=False)
    op.create_index('ix_payment_requests_status', 'payment_requests', ['status', 'created_at'], unique=False)
    op.create_table('staff_alerts',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('staff_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('patient_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('read_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_staff_alerts_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['automation_runs.id'], name=op.f('fk_staff_alerts_run_id_automation_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_alerts'))
    )
    op.create_index('ix_staff_alerts_staff_time', 'staff_alerts', ['staff_id', 'created_at'], unique=False)
    op.add_column('patients', sa.Column('blocked_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))
    op.add_column('patients', sa.Column('blocked_reason', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('patients', 'blocked_reason')
    op.drop_column('patients', 'blocked_at')
    op.drop_index('ix_staff_alerts_staff_time', table_name='staff_alerts')
    op.drop_table('staff_alerts')
    op.drop_index('ix_payment_requests_status', table_name='payment_requests')
    op.drop_index('ix_payment_requests_patient', table_name='payment_requests')
    op.drop_table('payment_requests')
    op.drop_table('outbound_emails')
    op.drop_index('ix_bookings_therapist', table_name='bookings')
    op.drop_index('ix_bookings_starts', table_name='bookings')
    op.drop_index('ix_bookings_patient', table_name='bookings')
    op.drop_table('bookings')
    op.drop_table('automation_effects')
    op.drop_index('ix_automation_delays_due', table_name='automation_delays', postgresql_where=sa.text('fired_at IS NULL'))
    op.drop_table('automation_delays')
    op.drop_index('ix_automation_runs_started', table_name='automation_runs')
    op.drop_table('automation_runs')
    op.drop_index('ix_outbox_events_unrelayed', table_name='outbox_events', postgresql_where=sa.text('relayed_at IS NULL'))
    op.drop_index('ix_outbox_events_type_time', table_name='outbox_events')
    op.drop_table('outbox_events')
    op.drop_index('uq_automation_rules_template_key', table_name='automation_rules', postgresql_where=sa.text('template_key IS NOT NULL'))
    op.drop_index('ix_automation_rules_trigger', table_name='automation_rules')
    op.drop_table('automation_rules')
