"""btree_gist: the extension the bookings' exclusion constraint needs, once per database

Tenant tables are created from the models with a ``search_path`` restricted to the tenant's
schema; the constraint ``ex_bookings_therapist_overlap`` mixes ``uuid =`` with ``tstzrange &&``
in one GiST index, which needs btree_gist's default operator class for ``uuid``. Default
operator classes are found whatever the ``search_path``, so the extension lives in ``public``
once for the whole database (PostgreSQL 13+ trusts btree_gist: a database owner may create it;
the embedded PostgreSQL ships it). It is created before any tenant migration runs, because the
platform is always migrated first.

Revision ID: a7e2b91c0008
Revises: 7c4a9e1f2b58
Create Date: 2026-12-01 02:40:00.000000

"""
from typing import Sequence, Union

from alembic import op


revision: str = 'a7e2b91c0008'
down_revision: Union[str, Sequence[str], None] = '7c4a9e1f2b58'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")


def downgrade() -> None:
    # tenant tables may still use it; dropping it would fail or drop their constraints
    pass
