"""templated emails: the outbox's HTML part; an organization's sending address; mail due work

* ``email_outbox.html_body``: the HTML part (``body`` stays the plain-text part).
* ``tenants.mail_from_address``: the address an organization's emails are sent from (NULL: the
  address of ``ANIMA_MAIL_FROM``).
* ``tenant_work.kind`` may be ``mail``: a tenant's outbound email is due. Every tenant gets one
  due row now, so emails its playbooks queued before this revision are found by the first pass.
* ``sms_recipients``: which organizations texted a number (an HMAC of it), for STOP replies.
* ``mail_failures``: messages that failed for good (id, organization, channel, kind, reason), for operators.

Revision ID: e5d2c8b10009
Revises: a7e2b91c0008
Create Date: 2026-12-01 03:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


revision: str = 'e5d2c8b10009'
down_revision: Union[str, Sequence[str], None] = 'a7e2b91c0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('email_outbox', sa.Column('html_body', sa.Text(), nullable=True), schema='platform')
    op.add_column('tenants', sa.Column('mail_from_address', sa.String(length=254), nullable=True), schema='platform')
    op.drop_constraint(op.f('ck_tenant_work_kind_valid'), 'tenant_work', schema='platform')
    op.create_check_constraint(op.f('ck_tenant_work_kind_valid'), 'tenant_work', "kind IN ('relay','tick','mail')", schema='platform')
    op.execute(
        "INSERT INTO platform.tenant_work (tenant_id, kind, due_at, xact) "
        "SELECT t.id, 'mail', now(), 0 FROM platform.tenants t "
        "ON CONFLICT (tenant_id, kind, xact) DO NOTHING"
    )
    op.create_table(
        'sms_recipients',
        sa.Column('number_hmac', sa.LargeBinary(), nullable=False),
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('last_sent_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['platform.tenants.id'], name=op.f('fk_sms_recipients_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('number_hmac', 'tenant_id', name='pk_sms_recipients'),
        schema='platform',
    )
    op.create_table(
        'mail_failures',
        sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('tenant_id', sa.BigInteger(), nullable=True),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('kind', sa.String(length=60), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('failed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('retried_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email','sms')", name=op.f('ck_mail_failures_channel_valid')),
        sa.ForeignKeyConstraint(['tenant_id'], ['platform.tenants.id'], name=op.f('fk_mail_failures_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_failures')),
        schema='platform',
    )
    op.create_index('ix_mail_failures_open', 'mail_failures', ['failed_at'], unique=False, schema='platform',
                    postgresql_where=sa.text('retried_at IS NULL'))
    # platform emails that failed before this revision are listed too
    op.execute(
        "INSERT INTO platform.mail_failures (id, tenant_id, channel, kind, reason, attempts, failed_at) "
        "SELECT id, NULL, 'email', left(kind, 60), coalesce(last_error, 'failed'), attempts, next_attempt_at "
        "FROM platform.email_outbox WHERE status = 'failed'"
    )


def downgrade() -> None:
    op.drop_index('ix_mail_failures_open', table_name='mail_failures', schema='platform')
    op.drop_table('mail_failures', schema='platform')
    op.drop_table('sms_recipients', schema='platform')
    op.execute("DELETE FROM platform.tenant_work WHERE kind = 'mail'")
    op.drop_constraint(op.f('ck_tenant_work_kind_valid'), 'tenant_work', schema='platform')
    op.create_check_constraint(op.f('ck_tenant_work_kind_valid'), 'tenant_work', "kind IN ('relay','tick')", schema='platform')
    op.drop_column('tenants', 'mail_from_address', schema='platform')
    op.drop_column('email_outbox', 'html_body', schema='platform')
