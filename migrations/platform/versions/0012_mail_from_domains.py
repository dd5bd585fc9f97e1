"""sending domains; email_outbox.handed_at

* ``mail_from_domains``: the domains an operator added and verified; an organization's own From
  address is used only on a verified domain (else it becomes the Reply-To).
* ``email_outbox.handed_at``: a sender commits it just before the final "." of the SMTP DATA; a
  row still ``sending`` with it after its lease (its sender died between the server's answer and
  our record) is in doubt and listed to operators instead of being sent again.

Revision ID: d8e9f0a10014
Revises: b2c3d4e50011
Create Date: 2026-12-01 05:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'd8e9f0a10014'
down_revision: Union[str, Sequence[str], None] = 'b2c3d4e50011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    utc = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
    op.create_table(
        "mail_from_domains",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("added_at", utc, server_default=sa.text("now()"), nullable=False),
        sa.Column("verified_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_mail_from_domains")),
        schema="platform",
    )
    op.add_column("email_outbox", sa.Column("handed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                                            nullable=True), schema="platform")


def downgrade() -> None:
    op.drop_table("mail_from_domains", schema="platform")
    op.drop_column("email_outbox", "handed_at", schema="platform")
