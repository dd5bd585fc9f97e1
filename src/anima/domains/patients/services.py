"""Rules of patients: validation, who sees which patient, encryption of contact and clinical fields.

The session is scoped to the tenant (the ``tenant`` provider). Visibility
(:mod:`anima.domains.patients.visibility`): owners and assistants see every patient; therapists too, unless the
organization's :class:`~anima.domains.patients.models.ClinicalPolicy` restricts them to the
patients assigned to them — then any other patient is "not found" to them. Clinical content
(the encrypted profile part) is read and written by owners and therapists only. Every write, and
every read that returns clinical content, adds an audit event in the same transaction.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.limits import ensure_within_limit
from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.patients.blocks import block_of
from anima.domains.patients.consent import consent_state
from anima.domains.patients.models import DEFAULT_STAGES, JourneyStage, Patient, patient_therapists
from anima.domains.patients.visibility import Viewer, get_patient, refuse_non_clinical, visible
from anima.domains.patients.schemas import (
    CLINICAL_KEYS,
    PROFILE_MAX_BYTES,
    ClinicalProfile,
    PatientCreate,
    PatientOut,
    PatientSummary,
    PatientUpdate,
    StageRename,
)
from anima.domains.settings.services import get_settings, iana_zones
from anima.domains.staff.models import StaffMember
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import InvalidInput, NotFound
from anima.identity.models import Role

TABLE = "patients"
ASSIGNABLE_ROLES = (Role.THERAPIST.value, Role.OWNER.value)
OLDEST_BIRTH_DATE = datetime.date(1900, 1, 1)


async def stages(session: AsyncSession) -> list[JourneyStage]:
    """The pipeline in order; the defaults are inserted on first use."""
    rows = list((await session.execute(sa.select(JourneyStage).order_by(JourneyStage.position))).scalars().all())
    if rows:
        return rows
    await session.execute(
        pg_insert(JourneyStage)
        .values([{"key": k, "label": label, "position": i} for i, (k, label) in enumerate(DEFAULT_STAGES)])
        .on_conflict_do_nothing()
    )
    return list((await session.execute(sa.select(JourneyStage).order_by(JourneyStage.position))).scalars().all())


async def update_stage(session: AsyncSession, key: str, data: StageRename) -> JourneyStage:
    """Rename a stage and/or set its ``timeout_days`` (None clears it); owners (route guard).

    Raises:
        InvalidInput (422): neither field given. NotFound: no such stage.
    """
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if not changes:
        raise InvalidInput.field("label", "required", "give label, timeout_days or both")
    await stages(session)
    stage = await session.get(JourneyStage, key)
    if stage is None:
        raise NotFound(f"no journey stage {key!r}")
    for name, value in changes.items():
        setattr(stage, name, value)
    await session.flush()
    return stage


# -- validation -----------------------------------------------------------------------------------


def check_time_zone(value: str | None) -> None:
    """A patient's zone is None (the practice's) or an IANA name (RFC 6557 database).

    Raises:
        InvalidInput: ``time_zone`` / ``iana-zone``.
    """
    if value is not None and value not in iana_zones():
        raise InvalidInput.field("time_zone", "iana-zone", f"{value!r} is not an IANA time zone")


def canonical_language(value: str) -> str:
    """A BCP 47 tag known to CLDR, canonically cased (``pt-br`` -> ``pt-BR``). Raises InvalidInput."""
    try:
        locale = Locale.parse(value.strip().replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError, TypeError):
        raise InvalidInput.field("language", "bcp47", f"{value!r} is not a known BCP 47 language tag") from None
    return str(locale).replace("_", "-")


def check_birth_date(value: datetime.date | None) -> None:
    if value is not None and not OLDEST_BIRTH_DATE <= value <= datetime.date.today():
        raise InvalidInput.field("birth_date", "range", f"a birth date lies between {OLDEST_BIRTH_DATE} and today")


def check_profile(profile: dict[str, Any]) -> None:
    clinical = CLINICAL_KEYS.intersection(profile)
    if clinical:
        raise InvalidInput.field(
            "profile", "no-clinical-fields", f"clinical fields {sorted(clinical)} belong in 'clinical' (encrypted)"
        )
    if len(msgspec.json.encode(profile)) > PROFILE_MAX_BYTES:
        raise InvalidInput.field("profile", "max-size", f"the profile is limited to {PROFILE_MAX_BYTES} bytes of JSON")


async def check_stage(session: AsyncSession, key: str) -> None:
    if key not in {s.key for s in await stages(session)}:
        raise InvalidInput.field("journey_stage", "known-stage", f"{key!r} is not a stage of this organization")


async def _therapists(session: AsyncSession, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    found = set(
        (
            await session.execute(
                sa.select(StaffMember.id).where(
                    StaffMember.id.in_(unique), StaffMember.active.is_(True), StaffMember.role.in_(ASSIGNABLE_ROLES)
                )
            )
        ).scalars()
    )
    missing = [str(i) for i in unique if i not in found]
    if missing:
        raise InvalidInput.field("therapist_ids", "therapist", f"not active therapists of this organization: {', '.join(missing)}")
    return unique


def phone_as_e164(value: str, locale: str | None) -> str:
    """A patient's phone in E.164 when it reads as a valid number — with its country code, or as a
    national number of the organization's region (its locale: es/ca → ES, it → IT, the leads' rule
    in :mod:`anima.domains.leads.phones`) — else as written (trimmed): a patient's number was never
    refused for its country, so one that cannot be read keeps its digits as typed. Equal numbers of
    a lead and a patient then give equal blind indexes."""
    from anima.domains.leads.phones import to_e164  # the one E.164 rule of the workspace

    try:
        return to_e164(value, locale=locale)
    except InvalidInput:
        return value.strip()


async def practice_locale(session: AsyncSession) -> str:
    """The organization's locale, which gives a national phone number its region."""
    return (await get_settings(session)).locale


async def _set_contact(cipher: FieldCipher, patient: Patient, kind: str, value: str | None, *, locale: str | None = None) -> None:
    if value is None:
        setattr(patient, f"{kind}_enc", None)
        setattr(patient, f"{kind}_bidx", None)
        return
    if kind == "phone":
        value = phone_as_e164(value, locale)
    try:
        index = await cipher.blind_index(kind, value)
    except ValueError as exc:
        raise InvalidInput.field(kind, kind, str(exc)) from None
    setattr(patient, f"{kind}_enc", await cipher.encrypt_text(TABLE, f"{kind}_enc", patient.id, value.strip()))
    setattr(patient, f"{kind}_bidx", index)


async def _set_clinical(cipher: FieldCipher, patient: Patient, clinical: ClinicalProfile | None) -> None:
    patient.clinical_enc = (
        None
        if clinical is None
        else await cipher.encrypt_json(TABLE, "clinical_enc", patient.id, msgspec.structs.asdict(clinical))
    )


# -- reading --------------------------------------------------------------------------------------


async def assigned_ids(session: AsyncSession, patient_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        sa.select(patient_therapists.c.staff_id).where(patient_therapists.c.patient_id == patient_id).order_by(patient_therapists.c.staff_id)
    )
    return list(rows.scalars())


async def decrypt_clinical(cipher: FieldCipher, patient: Patient) -> ClinicalProfile | None:
    if patient.clinical_enc is None:
        return None
    return msgspec.convert(await cipher.decrypt_json(TABLE, "clinical_enc", patient.id, patient.clinical_enc), ClinicalProfile)


async def contact(cipher: FieldCipher, patient: Patient, kind: str) -> str | None:
    blob = getattr(patient, f"{kind}_enc")
    return None if blob is None else await cipher.decrypt_text(TABLE, f"{kind}_enc", patient.id, blob)


async def to_summary(cipher: FieldCipher, p: Patient) -> PatientSummary:
    return PatientSummary(
        p.id, p.first_name, p.last_name, await contact(cipher, p, "email"), await contact(cipher, p, "phone"),
        p.birth_date, p.language, p.journey_stage, list(p.tags or []), p.archived_at, p.created_at,
    )


async def to_out(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, p: Patient, *, audit_action: str | None
) -> PatientOut:
    """The full record for ``viewer``: clinical part decrypted for clinical roles only (audited)."""

    clinical = None
    if viewer.clinical:
        clinical = await decrypt_clinical(cipher, p)
        if audit_action == "patient.read" and p.clinical_enc is not None:
            await record(session, actor, "patient.read", patient_id=p.id, parts="clinical")
    label = (await get_settings(session)).people_label
    return PatientOut(
        id=p.id, label=label, first_name=p.first_name, last_name=p.last_name,
        email=await contact(cipher, p, "email"), phone=await contact(cipher, p, "phone"),
        birth_date=p.birth_date, language=p.language, time_zone=p.time_zone, journey_stage=p.journey_stage, tags=list(p.tags or []),
        profile=dict(p.profile or {}), clinical_visible=viewer.clinical, clinical=clinical,
        therapist_ids=await assigned_ids(session, p.id), archived_at=p.archived_at,
        created_at=p.created_at, updated_at=p.updated_at,
        blocked=p.blocked_at is not None, block=await block_of(cipher, viewer, p), ai_consent=consent_state(p),
    )


async def list_patients(
    session: AsyncSession,
    cipher: FieldCipher,
    viewer: Viewer,
    *,
    limit: int,
    offset: int,
    search: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    stage: str | None = None,
    tag: str | None = None,
    archived: bool | None = False,
) -> tuple[list[Patient], int]:
    """Patients by last and first name. ``search`` matches names (contains, case-insensitive);
    ``email``/``phone`` match exactly through the blind index; ``archived`` None lists both."""
    where = visible(viewer)
    if archived is not None:
        where.append(Patient.archived_at.is_not(None) if archived else Patient.archived_at.is_(None))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        full = Patient.first_name + " " + Patient.last_name
        where.append(sa.or_(full.ilike(pattern, escape="\\"), (Patient.last_name + " " + Patient.first_name).ilike(pattern, escape="\\")))
    for kind, value in (("email", email), ("phone", phone)):
        if value is not None:
            if kind == "phone":
                value = phone_as_e164(value, await practice_locale(session))
            try:
                index = await cipher.blind_index(kind, value)
            except ValueError as exc:
                raise InvalidInput.field(kind, kind, str(exc)) from None
            where.append(getattr(Patient, f"{kind}_bidx") == index)
    if stage is not None:
        where.append(Patient.journey_stage == stage)
    if tag is not None:
        where.append(Patient.tags.any(tag))
    total = (await session.execute(sa.select(sa.func.count()).select_from(Patient).where(*where))).scalar_one()
    rows = (
        await session.execute(
            sa.select(Patient).where(*where).order_by(Patient.last_name, Patient.first_name, Patient.id).limit(limit).offset(offset)
        )
    ).scalars().all()
    return list(rows), total


# -- writing --------------------------------------------------------------------------------------


def _count_active() -> sa.Select:
    return sa.select(sa.func.count()).select_from(Patient).where(Patient.archived_at.is_(None))


async def create_patient(
    session: AsyncSession,
    cipher: FieldCipher,
    viewer: Viewer,
    actor: Actor,
    data: PatientCreate,
    *,
    tenant_id: int,
    tier: str,
) -> Patient:
    """Validate, check the tier's patient limit (race-safe), encrypt and insert; audited.

    Raises:
        InvalidInput (422), Forbidden (clinical content from an assistant), LimitReached (403).
    """
    if data.clinical is not None:
        refuse_non_clinical(viewer)
    check_birth_date(data.birth_date)
    language = canonical_language(data.language) if data.language is not None else None
    check_time_zone(data.time_zone)
    check_profile(data.profile)
    stage_key = data.journey_stage or (await stages(session))[0].key
    await check_stage(session, stage_key)
    therapist_ids = await _therapists(session, data.therapist_ids)
    if viewer.restricted and viewer.user_id not in therapist_ids:
        therapist_ids.append(viewer.user_id)  # a restricted therapist keeps sight of what they create

    patient = Patient(
        id=uuid.uuid4(), first_name=data.first_name.strip(), last_name=data.last_name.strip(),
        birth_date=data.birth_date, language=language, time_zone=data.time_zone, journey_stage=stage_key,
        tags=list(dict.fromkeys(t.strip() for t in data.tags)), profile=data.profile, created_by=viewer.user_id,
    )
    await _set_contact(cipher, patient, "email", data.email)
    await _set_contact(cipher, patient, "phone", data.phone, locale=await practice_locale(session) if data.phone else None)
    await _set_clinical(cipher, patient, data.clinical)

    await ensure_within_limit(session, tenant_id=tenant_id, tier=tier, limit="patients", count=_count_active())
    session.add(patient)
    await session.flush()
    if therapist_ids:
        await session.execute(sa.insert(patient_therapists), [{"patient_id": patient.id, "staff_id": s} for s in therapist_ids])
    await record(session, actor, "patient.created", patient_id=patient.id, clinical_written=data.clinical is not None)
    await emit(session, EventType.PATIENT_CREATED, {"patient_id": str(patient.id)}, actor_id=viewer.user_id)
    await session.refresh(patient)
    return patient


async def update_patient(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: PatientUpdate
) -> Patient:
    """Change fields; clinical changes by clinical roles only. Audited with the changed field names."""
    patient = await get_patient(session, viewer, patient_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "clinical" in changes:
        refuse_non_clinical(viewer, patient.id)
    if "birth_date" in changes:
        check_birth_date(changes["birth_date"])
    if changes.get("language") is not None:
        changes["language"] = canonical_language(changes["language"])
    if "profile" in changes:
        check_profile(changes["profile"])
    if "time_zone" in changes:
        check_time_zone(changes["time_zone"])
    if "journey_stage" in changes:
        await check_stage(session, changes["journey_stage"])
    for kind in ("email", "phone"):
        if kind in changes:
            value = changes.pop(kind)
            locale = await practice_locale(session) if kind == "phone" and value else None
            await _set_contact(cipher, patient, kind, value, locale=locale)
    if "clinical" in changes:
        await _set_clinical(cipher, patient, changes.pop("clinical"))
    if "tags" in changes:
        changes["tags"] = list(dict.fromkeys(t.strip() for t in changes["tags"]))
    for key, value in changes.items():
        setattr(patient, key, value)
    fields = sorted(k for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET)
    await session.flush()
    await record(session, actor, "patient.updated", patient_id=patient.id, fields=fields)
    await session.refresh(patient)
    return patient


async def set_archived(
    session: AsyncSession, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, archived: bool, *, tenant_id: int, tier: str
) -> Patient:
    """Archive (frees a place under the patient limit) or restore (counts against it again)."""
    patient = await get_patient(session, viewer, patient_id)
    if archived and patient.archived_at is None:
        patient.archived_at = datetime.datetime.now(datetime.UTC)
        await record(session, actor, "patient.archived", patient_id=patient.id)
    elif not archived and patient.archived_at is not None:
        await ensure_within_limit(session, tenant_id=tenant_id, tier=tier, limit="patients", count=_count_active())
        patient.archived_at = None
        await record(session, actor, "patient.restored", patient_id=patient.id)
    await session.flush()
    await session.refresh(patient)
    return patient


async def record_intake_notes(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, patient_id: uuid.UUID, notes: str
) -> None:
    """The memory handover: notes taken before the person became a patient (a converted lead's
    notes) are added to the encrypted clinical profile's ``intake_notes`` (appended after any
    already there, cut to the field's 20,000 characters). Called by the system on behalf of
    whoever converts, so front desk can convert a lead without reading clinical content; the
    caller has already decided the patient is theirs to write. Audited without the text.

    Raises:
        NotFound: no such patient.
    """
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("patient not found")
    profile = await decrypt_clinical(cipher, patient) or ClinicalProfile()
    joined = f"{profile.intake_notes}\n\n{notes}" if profile.intake_notes else notes
    await _set_clinical(cipher, patient, msgspec.structs.replace(profile, intake_notes=joined[:20_000]))
    await session.flush()
    await record(session, actor, "patient.intake_notes_recorded", patient_id=patient.id)


async def assign_therapists(
    session: AsyncSession, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, therapist_ids: list[uuid.UUID]
) -> Patient:
    """Replace the therapists assigned to a patient (owners)."""
    patient = await get_patient(session, viewer, patient_id)
    ids = await _therapists(session, therapist_ids)
    await session.execute(sa.delete(patient_therapists).where(patient_therapists.c.patient_id == patient.id))
    if ids:
        await session.execute(sa.insert(patient_therapists), [{"patient_id": patient.id, "staff_id": s} for s in ids])
    await record(session, actor, "patient.assigned", patient_id=patient.id, therapist_ids=[str(i) for i in ids])
    return patient


async def reindex_phones(session: AsyncSession, cipher: FieldCipher) -> int:
    """Rewrite every patient's phone in E.164 (:func:`phone_as_e164`, the organization's region)
    with its blind index, for phones saved before patients' phones were normalized; idempotent.
    Needs the tenant's keys, so it runs as ``anima tenants reindex-phones`` rather than in a
    migration. Returns how many patients changed (nothing clinical is read or logged)."""
    locale = await practice_locale(session)
    changed = 0
    rows = (await session.execute(sa.select(Patient).where(Patient.phone_enc.is_not(None)).order_by(Patient.id))).scalars().all()
    for patient in rows:
        written = await contact(cipher, patient, "phone")
        if written is None:
            continue
        normal = phone_as_e164(written, locale)
        try:
            index = await cipher.blind_index("phone", normal)
        except ValueError:
            continue  # a phone the index never accepted stays as it is
        if normal != written or index != patient.phone_bidx:
            await _set_contact(cipher, patient, "phone", normal, locale=locale)
            changed += 1
    await session.flush()
    return changed
