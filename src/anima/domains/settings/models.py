"""The organization's practice settings: terminology, locale and time zone (one row, id 1)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps

PEOPLE_LABELS = ("Patient", "Client", "Consultant")
LOCALES = ("en", "es", "ca", "it")


class PracticeSettings(Timestamps, TenantBase):
    """Singleton row of settings: ``people_label`` (Patient, Client or Consultant), ``locale``, ``timezone``."""

    __tablename__ = "practice_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="singleton"),
        CheckConstraint("people_label IN ('Patient','Client','Consultant')", name="people_label_valid"),
        CheckConstraint("locale IN ('en','es','ca','it')", name="locale_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    people_label: Mapped[str] = mapped_column(String(16), default="Patient")
    locale: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
