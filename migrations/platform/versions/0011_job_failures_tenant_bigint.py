"""job_failures.tenant_id is a bigint, as tenants.id is

A failed job of a tenant whose id no longer fits 32 bits could not be recorded, and an operator's
filter by such an id failed in the database instead of matching nothing.

Revision ID: b2c3d4e50011
Revises: f6e7d8c90010
Create Date: 2026-12-01 04:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b2c3d4e50011'
down_revision: Union[str, Sequence[str], None] = 'f6e7d8c90010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.alter_column("job_failures", "tenant_id", type_=sa.BigInteger(), existing_type=sa.Integer(),
                    existing_nullable=True, schema="platform")


def downgrade() -> None:
    op.alter_column("job_failures", "tenant_id", type_=sa.Integer(), existing_type=sa.BigInteger(),
                    existing_nullable=True, schema="platform")
