"""The AI observatory: an analysis of a patient's recent journal, stored as an AI-analysis entry.

:func:`analyze_patient` (inside a request's tenant transaction) and :func:`run_patient_analysis`
(opens its own, for jobs: ``tenant_id, patient_id, requested_by``) do the same thing:

1. Read the patient's recent journal **as the requester may read it** (journal service, so the
   read is audited and a therapist's analysis never draws on another therapist's private notes):
   the newest :data:`RECENT_ENTRIES` notes and form submissions with their amendments.
2. Build the model input oldest first — dates, kinds and text only; the patient's names, emails and
   phone numbers replaced by placeholders (:func:`anima.ai.text.pseudonymize`); at most
   :data:`MAX_INPUT_CHARS` characters (the newest entries win).
3. Look up the one-hour cache (:mod:`anima.ai.cache`) under (tenant id, sha256 of the exact
   input: prompt version, source, model and text). A hit makes no model call.
4. Otherwise ask Gemini (structured output, :mod:`anima.ai.gemini`), or — when
   ``GEMINI_API_KEY`` is unset — the local risk detector (:mod:`anima.ai.risk`). If Gemini
   fails after its retries the local detector answers and the result says why (not cached).
5. Store the result as an ``ai_analysis`` journal entry (encrypted like every entry, private to the
   requester and owners, because it may summarize the requester's private notes), with ``source``
   (``gemini`` or ``local``) and ``model``. On a cache hit the entry made from the same input is
   returned when the requester may read it; otherwise a new entry is written from the cached result.

Before any of this the patient's consent to AI processing is required
(:func:`anima.domains.patients.consent.require_ai_consent`, 409 ``ai-consent-required``), and every
stored analysis counts against the tier's ``ai_analyses_per_month`` (calendar month, UTC), checked
race-safely before the model is asked (:func:`anima.billing.limits.ensure_within_limit`; the lock is
held until the analysis commits, so one tenant's analyses run one at a time). Returning an analysis
already made from the same input (a cache hit on an entry the requester may read) is not a new one
and counts nothing.

Nothing here logs content: log lines carry ids, counts, source, level and timings only.
"""

from __future__ import annotations

import datetime
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.crypto.envelope import DecryptionError
from anima.domains.audit.services import Actor
from anima.domains.journal import services as journal
from anima.domains.journal.schemas import EntryOut
from anima.billing.limits import ensure_within_limit
from anima.billing.usage import ai_analyses_count
from anima.domains.insights.models import AiAnalysisUsage
from anima.domains.patients.consent import require_ai_consent
from anima.domains.patients.visibility import get_patient
from anima.domains.patients.visibility import Viewer
from anima.problems import Conflict, NotFound
from anima.ai.gemini import GeminiUnavailable
from anima.ai.risk import LEVELS, MAX_TEXT_BYTES, RiskAssessment, detect_language, detect_risk
from anima.ai.text import entry_text, pseudonymize
from anima.logs import get_logger
from anima.runtime import Runtime

log = get_logger(__name__)

PROMPT_VERSION = "observatory-1"
LOCAL_MODEL = "anima-risk-lexicon-1"
RECENT_ENTRIES = 30
MAX_INPUT_CHARS = 60_000
ANALYSED_KINDS = ("note", "form_submission")
CACHE_TABLE, CACHE_COLUMN = "insights_cache", "result"
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "ca": "Catalan", "it": "Italian"}
NOT_CONFIGURED_NOTE = "Gemini is not configured (GEMINI_API_KEY unset): this is the local risk detector's screening."

# bounds that keep the stored entry under the journal's data size limit
MAX_SYNTHESIS_CHARS = 8_000
MAX_ITEMS = 20
MAX_ITEM_CHARS = 600


@dataclass(frozen=True)
class AnalysisResult:
    """The stored entry, whether it came from the cache, and whether a new entry was written."""

    entry: EntryOut
    cached: bool
    created: bool


@dataclass(frozen=True)
class _Excerpt:
    entry_id: uuid.UUID
    date: str
    kind: str
    text: str


# -- input -----------------------------------------------------------------------------------------


async def _recent_excerpts(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, names: list[str]
) -> list[_Excerpt]:
    entries, _ = await journal.list_entries(session, cipher, viewer, actor, patient_id, limit=RECENT_ENTRIES * 2, offset=0)
    picked: list[_Excerpt] = []
    budget = MAX_INPUT_CHARS
    for e in entries:  # newest first
        if e.kind not in ANALYSED_KINDS:
            continue
        text = pseudonymize(entry_text(e.html, e.data, [(a.html, a.data) for a in e.amendments]), names)
        if not text.strip():
            continue
        if len(text) > budget:
            if picked:
                break
            text = text[:budget]
        budget -= len(text)
        picked.append(_Excerpt(e.id, e.occurred_at.date().isoformat(), e.kind.replace("_", " "), text))
        if len(picked) >= RECENT_ENTRIES or budget <= 0:
            break
    picked.reverse()  # oldest first
    return picked


def build_prompt(excerpts: list[_Excerpt], language: str) -> str:
    """The model input: answer language, then each excerpt under its date and kind, oldest first."""
    lines = [
        f"Answer language: {LANGUAGE_NAMES.get(language, 'English')}",
        f"Journal excerpts: {len(excerpts)}, oldest first.",
    ]
    for x in excerpts:
        lines.append(f"\n### {x.date} ({x.kind})\n{x.text}")
    return "\n".join(lines)


def input_digest(prompt: str, source: str, model: str) -> str:
    """sha256 hex of the exact input: prompt version, source, model and prompt text."""
    return hashlib.sha256(f"{PROMPT_VERSION}\n{source}\n{model}\n{prompt}".encode()).hexdigest()


# -- the local answer ------------------------------------------------------------------------------


def _clip(text: str, n: int = MAX_ITEM_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def local_analysis(excerpts: list[_Excerpt], language: str, *, reason: str) -> dict[str, Any]:
    """The observatory's result from the local risk detector (same shape as Gemini's)."""
    per_entry: list[tuple[_Excerpt, RiskAssessment]] = []
    for x in excerpts:
        text = x.text
        while len(text.encode()) > MAX_TEXT_BYTES:
            text = text[: len(text) * 9 // 10]
        per_entry.append((x, detect_risk(text, language)))
    level = max((a.level for _, a in per_entry), key=LEVELS.index, default="LOW")
    flags: dict[str, dict[str, Any]] = {}
    moments = []
    negated = 0
    for x, a in per_entry:
        negated += len(a.negated)
        for e in a.evidence:
            f = flags.setdefault(e.flag, {"flag": e.flag, "severity": "medium", "dates": []})
            if e.severity == "high":
                f["severity"] = "high"
            if x.date not in f["dates"]:
                f["dates"].append(x.date)
        if a.evidence:
            quotes = "; ".join(f"{e.flag}: «{_clip(e.text, 120)}»" for e in a.evidence[:3])
            moments.append({"date": x.date, "description": _clip(f"{a.level} risk in a {x.kind}: {quotes}")})
    risk_flags = [
        {"flag": f["flag"], "severity": f["severity"], "rationale": _clip("found in the entries of " + ", ".join(f["dates"]))}
        for f in flags.values()
    ]
    period = f"{excerpts[0].date} to {excerpts[-1].date}" if excerpts else "no entries"
    synthesis = (
        f"{reason} {len(excerpts)} entries ({period}) were screened for risk phrases in "
        f"{LANGUAGE_NAMES.get(language, language)} and the other supported languages. Overall level: {level}"
        + (f"; flags: {', '.join(sorted(flags))}." if flags else "; no risk phrase found.")
        + (f" {negated} negated mention(s) (e.g. \"denies ...\") were set aside." if negated else "")
        + " This is a keyword screening, not a clinical synthesis."
    )
    return {"synthesis": synthesis, "key_moments": moments[-MAX_ITEMS:], "risk_level": level, "risk_flags": risk_flags}


# -- the analysis ----------------------------------------------------------------------------------


def _bounded(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "synthesis": _clip(str(result.get("synthesis", "")), MAX_SYNTHESIS_CHARS),
        "key_moments": [
            {"date": _clip(str(m.get("date", "")), 32), "description": _clip(str(m.get("description", "")))}
            for m in list(result.get("key_moments") or [])[:MAX_ITEMS]
        ],
        "risk_level": result.get("risk_level", "LOW"),
        "risk_flags": [
            {"flag": f["flag"], "severity": f["severity"], "rationale": _clip(str(f.get("rationale", "")))}
            for f in list(result.get("risk_flags") or [])[:MAX_ITEMS]
        ],
    }


async def _from_cache(cipher: FieldCipher, runtime: Runtime, tenant_id: int, digest: str) -> dict[str, Any] | None:
    sealed = await runtime.analysis_cache.get(tenant_id, digest)
    if sealed is None:
        return None
    try:
        return await cipher.decrypt_json(CACHE_TABLE, CACHE_COLUMN, digest, sealed)
    except DecryptionError:  # a key shredded or rotated away: a miss
        return None


async def analyze_patient(
    session: AsyncSession,
    cipher: FieldCipher,
    runtime: Runtime,
    *,
    viewer: Viewer,
    actor: Actor,
    patient_id: uuid.UUID,
    tier: str,
) -> AnalysisResult:
    """Analyse the patient's recent journal as ``viewer`` and store the result (see module docstring).

    ``tier`` is the tenant's tier: each stored analysis counts against its ``ai_analyses_per_month``.

    Raises:
        Forbidden: the viewer's role reads no clinical content. NotFound: no such patient for them.
        AiConsentRequired (409): the patient has not consented to AI processing.
        Conflict: no note or form submission to analyse.
        LimitReached (403): the month's analyses are used up.
    """
    journal.readable(viewer)
    patient = await get_patient(session, viewer, patient_id)
    require_ai_consent(patient)
    excerpts = await _recent_excerpts(session, cipher, viewer, actor, patient.id, [patient.first_name, patient.last_name])
    if not excerpts:
        raise Conflict("this patient has no notes or form answers you may read to analyse yet")
    language = (patient.language or "").split("-")[0].lower()
    if language not in LANGUAGE_NAMES:
        language = detect_language("\n".join(x.text for x in excerpts[-5:])[:20_000])
    prompt = build_prompt(excerpts, language)

    analyst = runtime.analyst
    source, model = ("gemini", analyst.model) if analyst is not None else ("local", LOCAL_MODEL)
    digest = input_digest(prompt, source, model)
    tenant_id = cipher.tenant_id
    started = time.perf_counter()

    hit = await _from_cache(cipher, runtime, tenant_id, digest)
    if hit is not None:
        entry_id = uuid.UUID(hit["entry_id"]) if hit.get("entry_id") else None
        if entry_id is not None:
            try:
                existing = await journal.read_entry(session, cipher, viewer, actor, patient.id, entry_id)
            except NotFound:
                existing = None
            if existing is not None and existing.kind == "ai_analysis":
                log.info("observatory analysis", source=source, cached=True, created=False, entries=len(excerpts))
                return AnalysisResult(existing, cached=True, created=False)
        data = dict(hit["data"], cached=True)
        await _ensure_allowed(session, tenant_id, tier)
        entry = await _store(session, cipher, viewer, actor, patient.id, data)
        log.info("observatory analysis", source=source, cached=True, created=True, entries=len(excerpts))
        return AnalysisResult(entry, cached=True, created=True)

    data: dict[str, Any] = {
        "source": source, "model": model, "gemini_configured": analyst is not None, "language": language,
        "entries_analysed": len(excerpts), "period": {"from": excerpts[0].date, "to": excerpts[-1].date},
        "prompt_version": PROMPT_VERSION, "cached": False,
    }
    cacheable = True
    await _ensure_allowed(session, tenant_id, tier)
    if analyst is not None:
        try:
            answer = await analyst.analyze(prompt)
        except GeminiUnavailable as exc:
            cacheable = False
            data.update(source="local", model=LOCAL_MODEL, fallback_reason=exc.reason)
            data.update(local_analysis(excerpts, language, reason=f"Gemini was unavailable ({exc.reason}): local screening."))
        else:
            data.update(_bounded(answer.analysis.model_dump()))
            data["usage"] = {"prompt_tokens": answer.prompt_tokens, "output_tokens": answer.output_tokens}
    else:
        data["note"] = NOT_CONFIGURED_NOTE
        data.update(local_analysis(excerpts, language, reason=NOT_CONFIGURED_NOTE))

    entry = await _store(session, cipher, viewer, actor, patient.id, data)
    if cacheable:
        sealed = await cipher.encrypt_json(CACHE_TABLE, CACHE_COLUMN, digest, {"data": data, "entry_id": str(entry.id)})
        await runtime.analysis_cache.put(tenant_id, digest, sealed)
    log.info(
        "observatory analysis", source=data["source"], cached=False, created=True, entries=len(excerpts),
        risk_level=data["risk_level"], ms=round((time.perf_counter() - started) * 1000),
    )
    return AnalysisResult(entry, cached=False, created=True)


async def _store(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: dict[str, Any]
) -> EntryOut:
    stamped = dict(data, generated_at=datetime.datetime.now(datetime.UTC).isoformat())
    entry = await journal.record_analysis(session, cipher, viewer, actor, patient_id, stamped)
    session.add(AiAnalysisUsage(
        id=uuid.uuid4(), patient_id=patient_id, requested_by=viewer.user_id, entry_id=entry.id, source=str(data.get("source", ""))[:16],
    ))
    await session.flush()
    return entry


async def _ensure_allowed(session: AsyncSession, tenant_id: int, tier: str) -> None:
    """Refuse an analysis past the tier's ``ai_analyses_per_month`` (race-safe: the limit's advisory
    lock is held until the transaction that stores the analysis commits)."""
    await ensure_within_limit(session, tenant_id=tenant_id, tier=tier, limit="ai_analyses_per_month", count=ai_analyses_count())


async def list_analyses(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[EntryOut], int]:
    """The patient's AI-analysis entries the viewer may read, newest first."""
    return await journal.list_entries(session, cipher, viewer, actor, patient_id, limit=limit, offset=offset, kind="ai_analysis")
