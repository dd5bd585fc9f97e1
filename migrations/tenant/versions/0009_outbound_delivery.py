"""outbound email delivery: rendered HTML, language, category, recipient blind index, delivery state; opt-outs

* ``outbound_emails``: ``html_body``, ``language``, ``category`` (transactional or marketing),
  ``recipient_bidx``, and the delivery state ``status``, ``attempts``, ``next_attempt_at``,
  ``last_error`` with the senders' claim index. Rows queued before this revision were never sent:
  those of the last seven days become due now; older ones are ``failed`` (too old to send). Surveys
  and news (``retreat_survey``, ``generic``) are marketing; their blind index is computed when sent.
* ``email_opt_outs``: marketing opt-outs by recipient blind index.
* ``sms_consents`` (append-only: a trigger refuses UPDATE) and ``outbound_sms``.

Revision ID: c0aa7e1a0009
Revises: f0a3d1e50007
Create Date: 2026-12-01 03:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'c0aa7e1a0009'
down_revision: Union[str, Sequence[str], None] = 'f0a3d1e50007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION sms_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'sms_consents is append-only'; END $$",
    "CREATE TRIGGER sms_consents_no_update BEFORE UPDATE ON sms_consents "
    "FOR EACH ROW EXECUTE FUNCTION sms_consents_append_only()",
)


def upgrade() -> None:
    """Upgrade schema."""
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.add_column('outbound_emails', sa.Column('html_body', sa.Text(), nullable=True))
    op.add_column('outbound_emails', sa.Column('language', sa.String(length=8), server_default='en', nullable=False))
    op.add_column('outbound_emails', sa.Column('category', sa.String(length=16), server_default='transactional', nullable=False))
    op.add_column('outbound_emails', sa.Column('recipient_bidx', sa.LargeBinary(), nullable=True))
    op.add_column('outbound_emails', sa.Column('status', sa.String(length=16), server_default='queued', nullable=False))
    op.add_column('outbound_emails', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('outbound_emails', sa.Column('next_attempt_at', utc, server_default=sa.text('now()'), nullable=False))
    op.add_column('outbound_emails', sa.Column('last_error', sa.Text(), nullable=True))
    op.execute("UPDATE outbound_emails SET status = 'sent' WHERE sent_at IS NOT NULL")
    # the playbook emails that are marketing (anima.domains.automations.engine.EMAIL_CATEGORIES)
    op.execute("UPDATE outbound_emails SET category = 'marketing' WHERE template IN ('retreat_survey', 'generic')")
    op.execute(
        "UPDATE outbound_emails SET status = 'failed', last_error = 'queued before delivery existed; too old to send' "
        "WHERE sent_at IS NULL AND created_at < now() - interval '7 days'"
    )
    op.create_check_constraint(
        op.f('ck_outbound_emails_status_valid'), 'outbound_emails', "status IN ('queued','sending','sent','failed','skipped')"
    )
    op.create_check_constraint(op.f('ck_outbound_emails_category_valid'), 'outbound_emails', "category IN ('transactional','marketing')")
    op.create_index(
        'ix_outbound_emails_due', 'outbound_emails', ['next_attempt_at'], unique=False,
        postgresql_where=sa.text("status IN ('queued','sending')"),
    )
    op.create_table(
        'email_opt_outs',
        sa.Column('recipient_bidx', sa.LargeBinary(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("source IN ('page','one-click')", name=op.f('ck_email_opt_outs_source_valid')),
        sa.PrimaryKeyConstraint('recipient_bidx', name=op.f('pk_email_opt_outs')),
    )
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.create_table(
        'sms_consents',
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('recorded_by', guid, nullable=True),
        sa.Column('recorded_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('id', guid, nullable=False),
        sa.CheckConstraint("method IN ('verbal','written','form','portal','sms-stop')", name=op.f('ck_sms_consents_method_valid')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_sms_consents_patient_id_patients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_consents')),
    )
    op.create_index('ix_sms_consents_patient_time', 'sms_consents', ['patient_id', 'recorded_at'], unique=False)
    for statement in _APPEND_ONLY:
        op.execute(statement)
    op.create_table(
        'outbound_sms',
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('to_enc', sa.LargeBinary(), nullable=False),
        sa.Column('to_bidx', sa.LargeBinary(), nullable=False),
        sa.Column('template', sa.String(length=60), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), server_default='queued', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('provider_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('sent_at', utc, nullable=True),
        sa.Column('id', guid, nullable=False),
        sa.CheckConstraint("status IN ('queued','sending','sent','failed','skipped')", name=op.f('ck_outbound_sms_status_valid')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_outbound_sms_patient_id_patients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_sms')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbound_sms_idempotency_key')),
    )
    op.create_index('ix_outbound_sms_due', 'outbound_sms', ['next_attempt_at'], unique=False,
                    postgresql_where=sa.text("status IN ('queued','sending')"))
    op.create_index('ix_outbound_sms_to_bidx', 'outbound_sms', ['to_bidx'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('outbound_sms')
    op.drop_table('sms_consents')
    op.execute("DROP FUNCTION IF EXISTS sms_consents_append_only()")
    op.drop_table('email_opt_outs')
    op.drop_index('ix_outbound_emails_due', table_name='outbound_emails')
    op.drop_constraint(op.f('ck_outbound_emails_category_valid'), 'outbound_emails')
    op.drop_constraint(op.f('ck_outbound_emails_status_valid'), 'outbound_emails')
    for column in ('last_error', 'next_attempt_at', 'attempts', 'status', 'recipient_bidx', 'category', 'language', 'html_body'):
        op.drop_column('outbound_emails', column)
