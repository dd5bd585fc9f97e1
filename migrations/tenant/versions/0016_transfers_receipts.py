"""transfers and receipts: the patient's receipts, therapists' payout settings and their shares per booking

* ``payment_receipts``: one receipt (``seq`` 0) or refund notice (``seq`` n) per payment, sent
  once, numbered in one series per practice.
* ``therapist_payouts``: how each therapist is paid their share (a Stripe connected account, or
  outside Anima) and the share in basis points; set by owners.
* ``booking_transfers``: the therapist's share of each completed booking (pending, transferred,
  returned or outside), with what was transferred and reversed.

Revision ID: d2e3f4a50016
Revises: c1d2e3f40015
Create Date: 2026-12-01 05:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'd2e3f4a50016'
down_revision: Union[str, Sequence[str], None] = 'c1d2e3f40015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.create_table('payment_receipts',
    sa.Column('id', guid, nullable=False),
    sa.Column('payment_id', guid, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('seq >= 0', name=op.f('ck_payment_receipts_seq_nonnegative')),
    sa.CheckConstraint('number > 0', name=op.f('ck_payment_receipts_number_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment_requests.id'], name=op.f('fk_payment_receipts_payment_id_payment_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_receipts'))
    )
    op.create_index('uq_payment_receipts_payment', 'payment_receipts', ['payment_id', 'seq'], unique=True)
    op.create_index('uq_payment_receipts_number', 'payment_receipts', ['number'], unique=True)
    op.create_table('therapist_payouts',
    sa.Column('staff_id', guid, nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
    sa.Column('share_bps', sa.Integer(), nullable=False),
    sa.Column('updated_by', guid, nullable=True),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("mode IN ('connect','outside')", name=op.f('ck_therapist_payouts_mode_valid')),
    sa.CheckConstraint('share_bps BETWEEN 0 AND 10000', name=op.f('ck_therapist_payouts_share_range')),
    sa.CheckConstraint("(mode = 'connect') = (stripe_account_id IS NOT NULL)", name=op.f('ck_therapist_payouts_account_when_connect')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_therapist_payouts_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_therapist_payouts'))
    )
    op.create_table('booking_transfers',
    sa.Column('booking_id', guid, nullable=False),
    sa.Column('therapist_id', guid, nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('share_bps', sa.Integer(), nullable=False),
    sa.Column('due_minor', sa.Integer(), server_default='0', nullable=False),
    sa.Column('amount_minor', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reversed_minor', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reversals', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('destination', sa.String(length=255), nullable=True),
    sa.Column('stripe_transfer_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending','transferred','returned','outside')", name=op.f('ck_booking_transfers_status_valid')),
    sa.CheckConstraint('amount_minor >= 0 AND reversed_minor >= 0 AND reversed_minor <= amount_minor', name=op.f('ck_booking_transfers_amounts_valid')),
    sa.CheckConstraint('due_minor >= 0', name=op.f('ck_booking_transfers_due_nonnegative')),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_booking_transfers'))
    )
    op.create_index('ix_booking_transfers_therapist', 'booking_transfers', ['therapist_id', 'status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_booking_transfers_therapist', table_name='booking_transfers')
    for table in ('booking_transfers', 'therapist_payouts', 'payment_receipts'):
        op.drop_table(table)
