"""``ai_analysis_usage``: one row per AI analysis the observatory ran, counted against the plan.

The ``ai_analyses_per_month`` limit counts these rows whose ``created_at`` falls in the current
calendar month in UTC. A row is written in the transaction that stores the analysis, after the
limit check (:func:`anima.ai.usage.ensure_analysis_allowed`), so a refused or failed analysis
counts nothing. Rows carry ids only and have no foreign key, so erasing a patient does not give
the month's allowance back.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, UUIDKey, utcnow


class AiAnalysisUsage(UUIDKey, TenantBase):
    """One analysis run: when (UTC), for which patient, by whom, the entry it produced, its source."""

    __tablename__ = "ai_analysis_usage"
    __table_args__ = (Index("ix_ai_analysis_usage_created", "created_at"),)

    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    entry_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
