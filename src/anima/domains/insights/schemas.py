"""Bodies of the analyses API: one AI analysis of a patient's recent journal."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec

from anima.domains.journal.schemas import EntryOut


class KeyMomentOut(msgspec.Struct):
    date: str
    description: str


class RiskFlagOut(msgspec.Struct):
    flag: str
    severity: str
    rationale: str


class AnalysisOut(msgspec.Struct):
    """An analysis as stored in the journal (entry ``id``, kind ``ai_analysis``).

    ``source`` is ``gemini`` or ``local`` (the local risk detector: Gemini not configured, or
    unavailable — then ``fallback_reason`` says why); ``note`` explains a local answer; ``cached``
    tells whether the result came from the one-hour cache of identical input.
    """

    id: uuid.UUID
    patient_id: uuid.UUID
    author_id: uuid.UUID
    created_at: datetime.datetime
    source: str
    model: str
    gemini_configured: bool
    cached: bool
    language: str | None
    entries_analysed: int
    period: dict[str, str] | None
    synthesis: str
    key_moments: list[KeyMomentOut]
    risk_level: str
    risk_flags: list[RiskFlagOut]
    note: str | None = None
    fallback_reason: str | None = None


def analysis_out(entry: EntryOut, *, cached: bool | None = None) -> AnalysisOut:
    """The :class:`AnalysisOut` of an ``ai_analysis`` entry; ``cached`` overrides the stored flag."""
    d: dict[str, Any] = entry.data or {}
    return AnalysisOut(
        id=entry.id, patient_id=entry.patient_id, author_id=entry.author_id, created_at=entry.created_at,
        source=str(d.get("source", "unknown")), model=str(d.get("model", "")),
        gemini_configured=bool(d.get("gemini_configured", False)),
        cached=bool(d.get("cached", False)) if cached is None else cached,
        language=d.get("language"), entries_analysed=int(d.get("entries_analysed", 0)), period=d.get("period"),
        synthesis=str(d.get("synthesis", "")),
        key_moments=[KeyMomentOut(str(m.get("date", "")), str(m.get("description", ""))) for m in d.get("key_moments", [])],
        risk_level=str(d.get("risk_level", "LOW")),
        risk_flags=[
            RiskFlagOut(str(f.get("flag", "")), str(f.get("severity", "")), str(f.get("rationale", "")))
            for f in d.get("risk_flags", [])
        ],
        note=d.get("note"), fallback_reason=d.get("fallback_reason"),
    )
