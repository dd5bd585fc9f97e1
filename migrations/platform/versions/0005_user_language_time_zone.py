"""users.language and users.time_zone: a staff user's own page language and IANA zone

Revision ID: 5a2e7c3d9f10
Revises: 4c1d0e9a7b21
Create Date: 2026-12-01 00:10:00.000000

Both nullable: unset, the organization's language and zone (practice settings) apply.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '5a2e7c3d9f10'
down_revision: Union[str, Sequence[str], None] = '4c1d0e9a7b21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('users', sa.Column('language', sa.String(length=8), nullable=True), schema='platform')
    op.add_column('users', sa.Column('time_zone', sa.String(length=64), nullable=True), schema='platform')
    op.create_check_constraint(op.f('ck_users_language_valid'), 'users', "language IN ('en','es','ca','it')", schema='platform')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_users_language_valid'), 'users', schema='platform')
    op.drop_column('users', 'time_zone', schema='platform')
    op.drop_column('users', 'language', schema='platform')
