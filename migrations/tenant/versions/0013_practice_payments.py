"""practice payments: Connect pay links and refunds on payment requests, packages and the credit ledger

* ``payment_requests``: how it was paid (``method``), the public pay link's token, the booking it
  is for, the Stripe account / Checkout Session / PaymentIntent it went through, the platform's
  application fee and the total refunded (never more than the amount).
* ``payment_refunds``: each refund, numbered per payment (the number is in its idempotency key).
* ``packages``, ``package_services``, ``package_prices`` (one per currency), ``package_sales`` and
  ``credit_entries`` (the credit ledger, append-only: a trigger refuses UPDATE, and DELETE while
  the sale exists).
* ``invoice_settings`` (prefix, tax rate), ``invoice_sequences`` (the last number per year, taken
  under the row lock at issue: gap-free), ``invoices`` (DRAFT → ISSUED → PAID | VOID, credit notes)
  and ``invoice_lines``.

Revision ID: a1b2c3d40010
Revises: 9a8b7c6d0011
Create Date: 2026-12-01 03:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'a1b2c3d40010'
down_revision: Union[str, Sequence[str], None] = '9a8b7c6d0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION credit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM package_sales WHERE id = OLD.sale_id) THEN "
    "RAISE EXCEPTION 'credit_entries is append-only'; END IF; RETURN OLD; END $$",
    "CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries "
    "FOR EACH ROW EXECUTE FUNCTION credit_entries_append_only()",
)


def upgrade() -> None:
    """Upgrade schema."""
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.create_table('packages',
    sa.Column('id', guid, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('sessions BETWEEN 1 AND 1000', name=op.f('ck_packages_sessions_range')),
    sa.CheckConstraint('validity_days BETWEEN 1 AND 3660', name=op.f('ck_packages_validity_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_packages'))
    )
    op.create_table('package_prices',
    sa.Column('id', guid, nullable=False),
    sa.Column('package_id', guid, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_package_prices_amount_positive')),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_package_prices_package_id_packages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_prices'))
    )
    op.create_index('uq_package_prices_currency', 'package_prices', ['package_id', 'currency'], unique=True)
    op.create_table('package_services',
    sa.Column('package_id', guid, nullable=False),
    sa.Column('service_id', guid, nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_package_services_package_id_packages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_package_services_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_id', 'service_id', name=op.f('pk_package_services'))
    )
    op.create_index(op.f('ix_package_services_service_id'), 'package_services', ['service_id'], unique=False)
    op.create_table('package_sales',
    sa.Column('id', guid, nullable=False),
    sa.Column('package_id', guid, nullable=False),
    sa.Column('patient_id', guid, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('expires_at', utc, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_id', guid, nullable=True),
    sa.Column('sold_by', guid, nullable=True),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('PENDING_PAYMENT','ACTIVE')", name=op.f('ck_package_sales_status_valid')),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_package_sales_amount_nonnegative')),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_package_sales_package_id_packages'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_package_sales_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment_requests.id'], name=op.f('fk_package_sales_payment_id_payment_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_sales'))
    )
    op.create_index('ix_package_sales_patient', 'package_sales', ['patient_id', 'expires_at'], unique=False)
    op.create_index('uq_package_sales_payment', 'package_sales', ['payment_id'], unique=True)
    op.create_table('payment_refunds',
    sa.Column('id', guid, nullable=False),
    sa.Column('payment_id', guid, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('created_by', guid, nullable=True),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payment_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment_requests.id'], name=op.f('fk_payment_refunds_payment_id_payment_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refunds'))
    )
    op.create_index('uq_payment_refunds_seq', 'payment_refunds', ['payment_id', 'seq'], unique=True)
    op.create_table('credit_entries',
    sa.Column('id', guid, nullable=False),
    sa.Column('sale_id', guid, nullable=False),
    sa.Column('patient_id', guid, nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('booking_id', guid, nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('actor_id', guid, nullable=True),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind IN ('purchase','return') AND delta > 0) OR (kind IN ('use','no_show','expiry','refund') AND delta < 0) OR kind = 'adjustment'", name=op.f('ck_credit_entries_delta_sign')),
    sa.CheckConstraint("kind IN ('purchase', 'use', 'return', 'no_show', 'expiry', 'refund', 'adjustment')", name=op.f('ck_credit_entries_kind_valid')),
    sa.CheckConstraint('delta <> 0', name=op.f('ck_credit_entries_delta_nonzero')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_entries_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sale_id'], ['package_sales.id'], name=op.f('fk_credit_entries_sale_id_package_sales'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_entries'))
    )
    op.create_index('ix_credit_entries_patient', 'credit_entries', ['patient_id', 'created_at'], unique=False)
    op.create_index('ix_credit_entries_sale', 'credit_entries', ['sale_id', 'created_at'], unique=False)
    op.create_index('uq_credit_entries_key', 'credit_entries', ['idempotency_key'], unique=True)
    op.add_column('payment_requests', sa.Column('method', sa.String(length=10), nullable=True))
    op.add_column('payment_requests', sa.Column('pay_token', sa.String(length=64), nullable=True))
    op.add_column('payment_requests', sa.Column('booking_id', guid, nullable=True))
    op.add_column('payment_requests', sa.Column('stripe_account_id', sa.String(length=255), nullable=True))
    op.add_column('payment_requests', sa.Column('checkout_session_id', sa.String(length=255), nullable=True))
    op.add_column('payment_requests', sa.Column('checkout_url', sa.Text(), nullable=True))
    op.add_column('payment_requests', sa.Column('checkout_expires_at', utc, nullable=True))
    op.add_column('payment_requests', sa.Column('checkout_attempt', sa.Integer(), server_default='0', nullable=False))
    op.add_column('payment_requests', sa.Column('payment_intent_id', sa.String(length=255), nullable=True))
    op.add_column('payment_requests', sa.Column('application_fee_minor', sa.Integer(), nullable=True))
    op.add_column('payment_requests', sa.Column('refunded_minor', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_payment_requests_intent', 'payment_requests', ['payment_intent_id'], unique=False)
    op.create_index('uq_payment_requests_checkout', 'payment_requests', ['checkout_session_id'], unique=True)
    op.create_index('uq_payment_requests_pay_token', 'payment_requests', ['pay_token'], unique=True)
    op.create_table('invoice_sequences',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_sequences'))
    )
    op.create_table('invoice_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('tax_rate_bps', sa.Integer(), nullable=False),
    sa.Column('tax_label', sa.String(length=20), nullable=False),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_invoice_settings_singleton')),
    sa.CheckConstraint('tax_rate_bps BETWEEN 0 AND 10000', name=op.f('ck_invoice_settings_tax_rate_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_settings'))
    )
    op.create_table('invoices',
    sa.Column('id', guid, nullable=False),
    sa.Column('patient_id', guid, nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('corrects_id', guid, nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('tax_rate_bps', sa.Integer(), nullable=False),
    sa.Column('tax_label', sa.String(length=20), nullable=False),
    sa.Column('subtotal_minor', sa.Integer(), nullable=False),
    sa.Column('discount_minor', sa.Integer(), nullable=False),
    sa.Column('tax_minor', sa.Integer(), nullable=False),
    sa.Column('total_minor', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('payment_id', guid, nullable=True),
    sa.Column('issued_at', utc, nullable=True),
    sa.Column('paid_at', utc, nullable=True),
    sa.Column('voided_at', utc, nullable=True),
    sa.Column('created_by', guid, nullable=True),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'CREDIT_NOTE') = (corrects_id IS NOT NULL)", name=op.f('ck_invoices_credit_note_corrects')),
    sa.CheckConstraint("(status = 'DRAFT') = (number IS NULL)", name=op.f('ck_invoices_number_when_issued')),
    sa.CheckConstraint("kind IN ('INVOICE','CREDIT_NOTE')", name=op.f('ck_invoices_kind_valid')),
    sa.CheckConstraint("status IN ('DRAFT','ISSUED','PAID','VOID')", name=op.f('ck_invoices_status_valid')),
    sa.CheckConstraint('tax_rate_bps BETWEEN 0 AND 10000', name=op.f('ck_invoices_tax_rate_range')),
    sa.ForeignKeyConstraint(['corrects_id'], ['invoices.id'], name=op.f('fk_invoices_corrects_id_invoices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_invoices_patient_id_patients'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment_requests.id'], name=op.f('fk_invoices_payment_id_payment_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices'))
    )
    op.create_index('ix_invoices_patient', 'invoices', ['patient_id', 'created_at'], unique=False)
    op.create_index('uq_invoices_number', 'invoices', ['number'], unique=True)
    op.create_table('invoice_lines',
    sa.Column('id', guid, nullable=False),
    sa.Column('invoice_id', guid, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_minor', sa.Integer(), nullable=False),
    sa.Column('discount_bps', sa.Integer(), nullable=False),
    sa.CheckConstraint('discount_bps BETWEEN 0 AND 10000', name=op.f('ck_invoice_lines_discount_range')),
    sa.CheckConstraint('quantity BETWEEN 1 AND 10000', name=op.f('ck_invoice_lines_quantity_range')),
    sa.CheckConstraint('unit_minor BETWEEN 0 AND 100000000', name=op.f('ck_invoice_lines_unit_range')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    op.create_index('uq_invoice_lines_position', 'invoice_lines', ['invoice_id', 'position'], unique=True)
    op.create_check_constraint(op.f('ck_payment_requests_refund_within_amount'), 'payment_requests', 'refunded_minor >= 0 AND refunded_minor <= amount_minor')
    op.create_check_constraint(op.f('ck_payment_requests_method_valid'), 'payment_requests', "method IN ('manual','stripe')")
    for statement in _APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_constraint(op.f('ck_payment_requests_method_valid'), 'payment_requests', type_='check')
    op.drop_constraint(op.f('ck_payment_requests_refund_within_amount'), 'payment_requests', type_='check')
    op.drop_index('uq_payment_requests_pay_token', table_name='payment_requests')
    op.drop_index('uq_payment_requests_checkout', table_name='payment_requests')
    op.drop_index('ix_payment_requests_intent', table_name='payment_requests')
    for column in ('refunded_minor', 'application_fee_minor', 'payment_intent_id', 'checkout_attempt', 'checkout_expires_at',
                   'checkout_url', 'checkout_session_id', 'stripe_account_id', 'booking_id', 'pay_token', 'method'):
        op.drop_column('payment_requests', column)
    for table in ('invoice_lines', 'invoices', 'invoice_sequences', 'invoice_settings', 'credit_entries', 'payment_refunds', 'package_sales', 'package_services', 'package_prices', 'packages'):
        op.drop_table(table)
    op.execute('DROP FUNCTION IF EXISTS credit_entries_append_only()')
