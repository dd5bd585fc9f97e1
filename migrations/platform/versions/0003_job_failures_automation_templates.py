"""job failures, automation templates (the three system playbooks seeded as data)

Revision ID: 78dee4122ccf
Revises: df11ba86b825
Create Date: 2026-11-22 02:41:03.935029

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types
from sqlalchemy.dialects import postgresql

#: a frozen copy of anima.domains.automations.templates.SYSTEM_TEMPLATES at this revision
TEMPLATES = [
    {
        "key": "escudo-de-seguridad",
        "required_feature": "risk_alerts",
        "name": "Escudo de Seguridad",
        "description": "When the risk detector finds HIGH risk in a journal note, the patient's therapists are alerted; on tiers with automatic risk blocking (CENTER) the patient is also blocked from new bookings.",
        "trigger": "RISK_DETECTED_IN_NOTE",
        "conditions": [
            {
                "fact": "event.level",
                "op": "eq",
                "value": "HIGH"
            }
        ],
        "actions": [
            {
                "type": "block_patient",
                "reason": "high risk detected in a journal note",
                "when": [
                    {
                        "fact": "plan.risk_auto_block",
                        "op": "eq",
                        "value": True
                    }
                ]
            },
            {
                "type": "alert_staff",
                "to": "care_team",
                "severity": "critical",
                "message": "High risk detected in a journal note of {patient.first_name} {patient.last_name}. Review the record today."
            }
        ],
        "version": 1
    },
    {
        "key": "cobrador-automatico",
        "required_feature": "playbooks",
        "name": "Cobrador Automático",
        "description": "A payment request still pending 48 hours after it was made sends the patient a reminder.",
        "trigger": "PAYMENT_REQUESTED",
        "conditions": [],
        "actions": [
            {
                "type": "delay",
                "hours": 48
            },
            {
                "type": "send_email",
                "to": "patient",
                "template": "payment_reminder",
                "when": [
                    {
                        "fact": "payment.status",
                        "op": "eq",
                        "value": "PENDING"
                    }
                ]
            }
        ],
        "version": 1
    },
    {
        "key": "fidelizacion-post-retiro",
        "required_feature": "retreats",
        "name": "Fidelización Post-Retiro",
        "description": "Seven days after a retreat booking (a FIXED_DATE service) is completed, the patient gets a satisfaction survey.",
        "trigger": "BOOKING_COMPLETED",
        "conditions": [
            {
                "fact": "service.scheduling",
                "op": "eq",
                "value": "FIXED_DATE"
            }
        ],
        "actions": [
            {
                "type": "delay",
                "days": 7
            },
            {
                "type": "send_email",
                "to": "patient",
                "template": "retreat_survey"
            }
        ],
        "version": 1
    }
]

# revision identifiers, used by Alembic.
revision: str = '78dee4122ccf'
down_revision: Union[str, Sequence[str], None] = 'df11ba86b825'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('automation_templates',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('required_feature', sa.String(length=40), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_automation_templates')),
    schema='platform'
    )
    op.create_table('job_failures',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('job_key', sa.String(length=200), nullable=False),
    sa.Column('function', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error_type', sa.String(length=200), nullable=False),
    sa.Column('failed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_failures')),
    schema='platform'
    )
    templates = sa.table(
        'automation_templates',
        sa.column('key', sa.String), sa.column('name', sa.String), sa.column('description', sa.Text),
        sa.column('trigger', sa.String), sa.column('conditions', postgresql.JSONB), sa.column('actions', postgresql.JSONB),
        sa.column('version', sa.Integer), sa.column('required_feature', sa.String),
        schema='platform',
    )
    op.bulk_insert(templates, TEMPLATES)
    op.create_index(op.f('ix_platform_job_failures_job_key'), 'job_failures', ['job_key'], unique=False, schema='platform')
    op.create_index(op.f('ix_platform_job_failures_tenant_id'), 'job_failures', ['tenant_id'], unique=False, schema='platform')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_platform_job_failures_tenant_id'), table_name='job_failures', schema='platform')
    op.drop_index(op.f('ix_platform_job_failures_job_key'), table_name='job_failures', schema='platform')
    op.drop_table('job_failures', schema='platform')
    op.drop_table('automation_templates', schema='platform')
