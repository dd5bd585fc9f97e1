"""reaching people: outbound_emails.handed_at; SMS consent given back by a START reply

* ``outbound_emails.handed_at``: committed just before the final "." of the SMTP DATA; a row still
  ``sending`` with it after its lease is in doubt and listed to operators instead of being sent again.
* ``sms_consents.method`` may be ``sms-start`` (consent given back by an SMS reply).
* SMS to leads: ``sms_consents`` and ``outbound_sms`` name a patient or a lead (``lead_id``,
  exactly one of the two).

Revision ID: a5b6c7d80019
Revises: e3f4a5b60017
Create Date: 2026-12-01 05:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = 'a5b6c7d80019'
down_revision: Union[str, Sequence[str], None] = 'e3f4a5b60017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("outbound_emails", sa.Column("handed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                                               nullable=True))
    op.drop_constraint(op.f('ck_sms_consents_method_valid'), 'sms_consents', type_='check')
    op.create_check_constraint(op.f('ck_sms_consents_method_valid'), 'sms_consents',
                               "method IN ('verbal','written','form','portal','sms-stop','sms-start')")
    guid = advanced_alchemy.types.guid.GUID(length=16)
    for table in ("sms_consents", "outbound_sms"):
        op.add_column(table, sa.Column("lead_id", guid, nullable=True))
        op.create_foreign_key(op.f(f"fk_{table}_lead_id_leads"), table, "leads", ["lead_id"], ["id"], ondelete="CASCADE")
        op.alter_column(table, "patient_id", existing_type=guid, nullable=True)
        op.create_check_constraint(op.f(f"ck_{table}_one_person"), table, "(patient_id IS NULL) <> (lead_id IS NULL)")
    op.create_index("ix_sms_consents_lead_time", "sms_consents", ["lead_id", "recorded_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_sms_consents_lead_time", table_name="sms_consents")
    guid = advanced_alchemy.types.guid.GUID(length=16)
    for table in ("sms_consents", "outbound_sms"):
        op.execute(f"DELETE FROM {table} WHERE lead_id IS NOT NULL")
        op.drop_constraint(op.f(f"ck_{table}_one_person"), table, type_="check")
        op.alter_column(table, "patient_id", existing_type=guid, nullable=False)
        op.drop_constraint(op.f(f"fk_{table}_lead_id_leads"), table, type_="foreignkey")
        op.drop_column(table, "lead_id")
    op.execute("DELETE FROM sms_consents WHERE method = 'sms-start'")
    op.drop_constraint(op.f('ck_sms_consents_method_valid'), 'sms_consents', type_='check')
    op.create_check_constraint(op.f('ck_sms_consents_method_valid'), 'sms_consents',
                               "method IN ('verbal','written','form','portal','sms-stop')")
    op.drop_column("outbound_emails", "handed_at")
