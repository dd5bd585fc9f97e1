"""account_tokens (single-use emailed links: email verification, password reset) and users.email_verified_at

Revision ID: 6b3f8d2e1a47
Revises: 5a2e7c3d9f10
Create Date: 2026-12-02 00:10:00.000000

Only the SHA-256 of each emailed token is stored. Accounts made before this revision keep
``email_verified_at`` unset: they are asked to verify like any new account (nothing is blocked).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


revision: str = '6b3f8d2e1a47'
down_revision: Union[str, Sequence[str], None] = '5a2e7c3d9f10'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        'users',
        sa.Column('email_verified_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        schema='platform',
    )
    op.create_table('account_tokens',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('used_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('verify-email','password-reset')", name=op.f('ck_account_tokens_purpose_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['platform.users.id'], name=op.f('fk_account_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
    schema='platform'
    )
    op.create_index(op.f('ix_platform_account_tokens_user_id'), 'account_tokens', ['user_id'], unique=False, schema='platform')
    op.create_index('uq_account_tokens_hash', 'account_tokens', ['token_hash'], unique=True, schema='platform')


def downgrade() -> None:
    op.drop_index('uq_account_tokens_hash', table_name='account_tokens', schema='platform')
    op.drop_index(op.f('ix_platform_account_tokens_user_id'), table_name='account_tokens', schema='platform')
    op.drop_table('account_tokens', schema='platform')
    op.drop_column('users', 'email_verified_at', schema='platform')
