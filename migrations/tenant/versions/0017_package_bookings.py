"""package bookings: how bookings use package credits

* ``credit_rules``: the organization's rule (``org_default``) and per-service overrides — whether
  a no-show keeps the booking's credit used (``no_show_uses_credit``, default true) and what a
  booking does when the patient's valid packages for the service have no credit left
  (``when_exhausted``: ``PAY`` the service's price, the default, or ``REFUSE``).

Revision ID: e3f4a5b60017
Revises: d2e3f4a50016
Create Date: 2026-12-01 05:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'e3f4a5b60017'
down_revision: Union[str, Sequence[str], None] = 'd2e3f4a50016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.create_table(
        'credit_rules',
        sa.Column('id', guid, nullable=False),
        sa.Column('service_id', guid, nullable=True),
        sa.Column('org_default', sa.Boolean(), nullable=False),
        sa.Column('no_show_uses_credit', sa.Boolean(), server_default='true', nullable=False),
        sa.Column('when_exhausted', sa.String(length=8), server_default='PAY', nullable=False),
        sa.Column('created_at', utc, server_default=sa.func.now(), nullable=False),
        sa.Column('updated_at', utc, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("when_exhausted IN ('PAY','REFUSE')", name=op.f('ck_credit_rules_when_exhausted_valid')),
        sa.CheckConstraint('org_default = (service_id IS NULL)', name=op.f('ck_credit_rules_org_default_has_no_service')),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_credit_rules_service_id_services'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_rules')),
    )
    op.create_index('uq_credit_rules_service', 'credit_rules', ['service_id'], unique=True,
                    postgresql_where=sa.text('service_id IS NOT NULL'))
    op.create_index('uq_credit_rules_org', 'credit_rules', ['org_default'], unique=True,
                    postgresql_where=sa.text('org_default'))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('uq_credit_rules_org', table_name='credit_rules', postgresql_where=sa.text('org_default'))
    op.drop_index('uq_credit_rules_service', table_name='credit_rules', postgresql_where=sa.text('service_id IS NOT NULL'))
    op.drop_table('credit_rules')
