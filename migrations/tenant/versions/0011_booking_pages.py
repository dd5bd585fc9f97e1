"""booking pages: ``services.public_booking`` (offered on the public booking page)

Revision ID: b7c8d9e00011
Revises: d1e4a7b20008
Create Date: 2026-12-01 03:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b7c8d9e00011'
down_revision: Union[str, Sequence[str], None] = 'd1e4a7b20008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('services', sa.Column('public_booking', sa.Boolean(), server_default='true', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('services', 'public_booking')
