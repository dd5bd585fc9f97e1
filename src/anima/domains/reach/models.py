"""Who asked not to receive the organization's marketing emails.

``email_opt_outs`` holds one row per recipient address, keyed by the address's blind index (the
tenant's keyed HMAC of the normalized address, :mod:`anima.crypto.blind_index`), so an opt-out is
found without storing or decrypting the address. Transactional emails ignore it.
"""

from __future__ import annotations

import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, utcnow

#: how an opt-out was recorded: the page's button, or a mail client's one-click POST (RFC 8058)
OPT_OUT_SOURCES = ("page", "one-click")


class EmailOptOut(TenantBase):
    """A recipient (by blind index) who opted out of marketing emails, when and how."""

    __tablename__ = "email_opt_outs"
    __table_args__ = (CheckConstraint("source IN ('page','one-click')", name="source_valid"),)

    recipient_bidx: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
