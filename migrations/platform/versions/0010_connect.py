"""Stripe Connect: practices' connected accounts and the Connect events processed

Revision ID: f6e7d8c90010
Revises: e5d2c8b10009
Create Date: 2026-12-01 03:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'f6e7d8c90010'
down_revision: Union[str, Sequence[str], None] = 'e5d2c8b10009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    guid = advanced_alchemy.types.guid.GUID(length=16)
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.create_table('connect_events',
    sa.Column('id', guid, nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('amount_refunded', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=True),
    sa.Column('event_created', utc, nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('received_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['platform.tenants.id'], name=op.f('fk_connect_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connect_events')),
    schema='platform'
    )
    op.create_index(op.f('ix_platform_connect_events_tenant_id'), 'connect_events', ['tenant_id'], unique=False, schema='platform')
    op.create_index('ix_connect_events_intent', 'connect_events', ['payment_intent_id'], unique=False, schema='platform')
    op.create_index('uq_connect_events_event_id', 'connect_events', ['event_id'], unique=True, schema='platform')
    op.create_table('connected_accounts',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='details_needed', nullable=False),
    sa.Column('charges_enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('details_submitted', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('currently_due', sa.Text(), server_default='', nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('state_at', utc, nullable=False),
    sa.Column('created_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', utc, server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('details_needed','enabled','restricted')", name=op.f('ck_connected_accounts_state_valid')),
    sa.ForeignKeyConstraint(['tenant_id'], ['platform.tenants.id'], name=op.f('fk_connected_accounts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_connected_accounts')),
    schema='platform'
    )
    op.create_index('uq_connected_accounts_stripe_id', 'connected_accounts', ['stripe_account_id'], unique=True, schema='platform')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('connected_accounts', schema='platform')
    op.drop_table('connect_events', schema='platform')
