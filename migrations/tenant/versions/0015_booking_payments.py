"""booking payments: online payment per service, saved cards with consent, fees collected once

* ``services.pay_online`` (NONE, FULL, DEPOSIT) with ``deposit_minor`` or ``deposit_share_bp``
  (exactly one for a deposit; a fixed deposit at most the price, a share 1..10000 basis points).
* ``saved_cards``: a client's consent to keep a booking's card for late-cancellation and no-show
  fees (when, the wording's version, the booking and payment) and the Stripe customer and
  payment method the webhooks reported.
* ``booking_charges.payment_id``: the payment that collects a fee (set once).

Revision ID: c1d2e3f40015
Revises: p7e8f9a00013
Create Date: 2026-12-01 05:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'c1d2e3f40015'
down_revision: Union[str, Sequence[str], None] = 'p7e8f9a00013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.add_column('services', sa.Column('pay_online', sa.String(length=8), server_default='NONE', nullable=False))
    op.add_column('services', sa.Column('deposit_minor', sa.Integer(), nullable=True))
    op.add_column('services', sa.Column('deposit_share_bp', sa.Integer(), nullable=True))
    op.create_check_constraint(op.f('ck_services_pay_online_valid'), 'services', "pay_online IN ('NONE','FULL','DEPOSIT')")
    op.create_check_constraint(
        op.f('ck_services_deposit_valid'), 'services',
        "(pay_online = 'DEPOSIT') = ((deposit_minor IS NULL) <> (deposit_share_bp IS NULL))"
        " AND (deposit_minor IS NULL OR deposit_minor BETWEEN 1 AND price_minor)"
        " AND (deposit_share_bp IS NULL OR deposit_share_bp BETWEEN 1 AND 10000)",
    )
    op.add_column('booking_charges', sa.Column('payment_id', guid, nullable=True))
    op.create_table(
        'saved_cards',
        sa.Column('id', guid, nullable=False),
        sa.Column('patient_id', guid, nullable=False),
        sa.Column('booking_id', guid, nullable=False),
        sa.Column('payment_id', guid, nullable=False),
        sa.Column('consented_at', utc, nullable=False),
        sa.Column('consent_version', sa.String(length=20), nullable=False),
        sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
        sa.Column('customer_id', sa.String(length=255), nullable=True),
        sa.Column('payment_method_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('updated_at', utc, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_saved_cards_patient_id_patients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['payment_id'], ['payment_requests.id'], name=op.f('fk_saved_cards_payment_id_payment_requests'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_cards')),
    )
    op.create_index('uq_saved_cards_payment', 'saved_cards', ['payment_id'], unique=True)
    op.create_index('ix_saved_cards_patient', 'saved_cards', ['patient_id', 'created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_saved_cards_patient', table_name='saved_cards')
    op.drop_index('uq_saved_cards_payment', table_name='saved_cards')
    op.drop_table('saved_cards')
    op.drop_column('booking_charges', 'payment_id')
    op.drop_constraint(op.f('ck_services_deposit_valid'), 'services', type_='check')
    op.drop_constraint(op.f('ck_services_pay_online_valid'), 'services', type_='check')
    op.drop_column('services', 'deposit_share_bp')
    op.drop_column('services', 'deposit_minor')
    op.drop_column('services', 'pay_online')
