"""email_outbox delivery state: status, attempts, next_attempt_at, last_error and the senders' claim index

Revision ID: 7c4a9e1f2b58
Revises: 6b3f8d2e1a47
Create Date: 2026-12-03 00:10:00.000000

Rows queued before this revision were never sent: they become ``queued`` and due now, except those
with ``sent_at`` set, which become ``sent``. ``last_error`` holds a server's reason, never content.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


revision: str = '7c4a9e1f2b58'
down_revision: Union[str, Sequence[str], None] = '6b3f8d2e1a47'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('email_outbox', sa.Column('status', sa.String(length=16), server_default='queued', nullable=False), schema='platform')
    op.add_column('email_outbox', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False), schema='platform')
    op.add_column(
        'email_outbox',
        sa.Column('next_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema='platform',
    )
    op.add_column('email_outbox', sa.Column('last_error', sa.Text(), nullable=True), schema='platform')
    op.execute("UPDATE platform.email_outbox SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.create_check_constraint(
        op.f('ck_email_outbox_status_valid'), 'email_outbox', "status IN ('queued','sending','sent','failed')", schema='platform'
    )
    op.create_index(
        'ix_email_outbox_due', 'email_outbox', ['status', 'next_attempt_at'], unique=False, schema='platform',
        postgresql_where=sa.text("status IN ('queued','sending')"),
    )


def downgrade() -> None:
    op.drop_index('ix_email_outbox_due', table_name='email_outbox', schema='platform')
    op.drop_constraint(op.f('ck_email_outbox_status_valid'), 'email_outbox', schema='platform')
    op.drop_column('email_outbox', 'last_error', schema='platform')
    op.drop_column('email_outbox', 'next_attempt_at', schema='platform')
    op.drop_column('email_outbox', 'attempts', schema='platform')
    op.drop_column('email_outbox', 'status', schema='platform')
