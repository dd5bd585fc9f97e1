"""``data_keys``: a tenant's wrapped data keys (tenant schema; the tenant role may only SELECT).

One row per (purpose, version). ``purpose`` is ``data`` (field encryption, rotated by
``anima keys rotate``) or ``index`` (the blind-index HMAC key, created once and never rotated
with data keys, so equality search keeps working across rotations). ``wrapped_key`` is the key
encrypted under the master key whose fingerprint is ``master_fingerprint``. Keys are written only
by the admin engine (see :mod:`anima.crypto.keyring`); provisioning revokes INSERT, UPDATE and
DELETE from the tenant role. Dropping the tenant schema destroys them: crypto-shredding.
"""

from __future__ import annotations

import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, utcnow


class DataKey(TenantBase):
    """A wrapped key: purpose, version, wrapped bytes, master fingerprint, created/retired times."""

    __tablename__ = "data_keys"
    __table_args__ = (CheckConstraint("purpose IN ('data','index')", name="purpose_valid"),)

    purpose: Mapped[str] = mapped_column(String(8), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_fingerprint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    retired_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
