"""SMS to patients: consent (an append-only history), phone numbers in E.164, the SMS outbox, STOP.

* **Consent.** :func:`set_sms_consent` appends a :class:`~anima.domains.reach.models.SmsConsent`
  row (given or withdrawn; how: verbal, written, form, portal; by whom; when), audited
  (``patient.sms_consent``). The current state is the latest row; no row means never given.
  Nothing is ever sent without a current consent, checked twice: when an SMS is queued
  (:func:`queue_sms`) and again when it is sent (:func:`consents`), so a withdrawal between the
  two stops it at once.
* **Leads.** A lead (before they are a patient) has the same append-only history (``lead_id``
  instead of ``patient_id``): :func:`set_lead_sms_consent`, :func:`queue_lead_sms` (the playbook's
  ``send_sms`` on a lead event, e.g. the speed-to-lead text), checked again when sent; STOP and
  START replies reach leads as patients.
* **Numbers.** :func:`to_e164` validates with ``phonenumbers`` (Google's libphonenumber) and
  formats E.164 (ITU-T E.164: ``+`` and up to 15 digits); a number written without its country
  code is read in the organization's country, guessed from its language (es, ca → ES, it → IT).
* **STOP.** :func:`record_stop` (a patient replied STOP to one of our texts) withdraws the consent
  of every patient this organization texted at that number, with method ``sms-stop`` and no
  recording member. :func:`record_start` (START and its equivalents,
  :mod:`anima.domains.reach.keywords`) gives it back to those whose consent is withdrawn, method
  ``sms-start`` ("by SMS reply").
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import uuid
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, get_patient
from anima.domains.reach.models import OutboundSms, SmsConsent, SmsRecipient
from anima.domains.reach.schemas import LeadSmsConsentOut, SmsConsentChange, SmsConsentOut, SmsConsentUpdate
from anima.events.due_work import WorkKind, note_due

#: the country a number without a country code is read in, by the organization's language
REGION_OF_LANGUAGE = {"es": "ES", "ca": "ES", "it": "IT"}


def to_e164(raw: str, language: str | None = None) -> str:
    """``raw`` as an E.164 number (``+34600112233``).

    Raises:
        ValueError: not a possible, valid phone number (or no country code and no region to assume).
    """
    if not raw or len(raw) > 40 or "\x00" in raw:
        raise ValueError("not a phone number")
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else REGION_OF_LANGUAGE.get(language or ""))
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def _history(session: AsyncSession, patient_id: uuid.UUID) -> list[SmsConsentChange]:
    rows = (await session.execute(
        sa.select(SmsConsent).where(SmsConsent.patient_id == patient_id).order_by(SmsConsent.recorded_at, SmsConsent.id)
    )).scalars()
    return [SmsConsentChange(r.id, r.given, r.method, r.recorded_at, r.recorded_by) for r in rows]


async def consents(session: AsyncSession, patient_ids: list[uuid.UUID], *, leads: bool = False) -> dict[uuid.UUID, bool]:
    """Each patient's (``leads``: each lead's) current SMS consent (latest row; absent: never
    given), in one query."""
    if not patient_ids:
        return {}
    column = SmsConsent.lead_id if leads else SmsConsent.patient_id
    latest = (
        sa.select(column, SmsConsent.given)
        .where(column.in_(set(patient_ids)))
        .distinct(column)
        .order_by(column, SmsConsent.recorded_at.desc(), SmsConsent.id.desc())
    )
    found = dict((await session.execute(latest)).tuples().all())
    return {pid: bool(found.get(pid, False)) for pid in patient_ids}


async def lead_consents(session: AsyncSession, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Each lead's current SMS consent (see :func:`consents`)."""
    return await consents(session, lead_ids, leads=True)


async def read_sms_consent(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID, *, sms_enabled: bool) -> SmsConsentOut:
    """The patient's current SMS consent and its history. Raises NotFound for a patient the viewer may not see."""
    patient = await get_patient(session, viewer, patient_id)
    history = await _history(session, patient.id)
    return SmsConsentOut(patient.id, history[-1].given if history else False, history, sms_enabled)


async def set_sms_consent(session: AsyncSession, viewer: Viewer, actor: Actor, patient_id: uuid.UUID,
                          data: SmsConsentUpdate, *, sms_enabled: bool) -> SmsConsentOut:
    """Record SMS consent given or withdrawn (appended, audited). Raises NotFound as :func:`read_sms_consent`."""
    patient = await get_patient(session, viewer, patient_id)
    session.add(SmsConsent(id=uuid.uuid4(), patient_id=patient.id, given=data.given, method=data.method,
                           recorded_by=viewer.user_id, recorded_at=datetime.datetime.now(datetime.UTC)))
    await session.flush()
    await record(session, actor, "patient.sms_consent", patient_id=patient.id, given=data.given, method=data.method)
    return await read_sms_consent(session, viewer, patient.id, sms_enabled=sms_enabled)


async def _lead_history(session: AsyncSession, lead_id: uuid.UUID) -> list[SmsConsentChange]:
    rows = (await session.execute(
        sa.select(SmsConsent).where(SmsConsent.lead_id == lead_id).order_by(SmsConsent.recorded_at, SmsConsent.id)
    )).scalars()
    return [SmsConsentChange(r.id, r.given, r.method, r.recorded_at, r.recorded_by) for r in rows]


async def read_lead_sms_consent(session: AsyncSession, lead_id: uuid.UUID, *, sms_enabled: bool) -> LeadSmsConsentOut:
    """A lead's current SMS consent and its history. Raises NotFound for no such lead."""
    from anima.domains.leads.services import get_lead

    lead = await get_lead(session, lead_id)
    history = await _lead_history(session, lead.id)
    return LeadSmsConsentOut(lead.id, history[-1].given if history else False, history, sms_enabled)


async def set_lead_sms_consent(session: AsyncSession, actor: Actor, user_id: uuid.UUID | None, lead_id: uuid.UUID,
                               data: SmsConsentUpdate, *, sms_enabled: bool) -> LeadSmsConsentOut:
    """Record a lead's SMS consent given or withdrawn (appended, audited ``lead.sms_consent``).
    Raises NotFound for no such lead."""
    from anima.domains.leads.services import get_lead

    lead = await get_lead(session, lead_id)
    session.add(SmsConsent(id=uuid.uuid4(), lead_id=lead.id, given=data.given, method=data.method,
                           recorded_by=user_id, recorded_at=datetime.datetime.now(datetime.UTC)))
    await session.flush()
    await record(session, actor, "lead.sms_consent", lead_id=str(lead.id), given=data.given, method=data.method)
    return await read_lead_sms_consent(session, lead.id, sms_enabled=sms_enabled)


async def queue_lead_sms(session: AsyncSession, cipher: FieldCipher, lead: Any, *, template: str, body: str, key: str,
                         language: str | None = None) -> dict[str, object]:
    """Queue ``body`` to ``lead``'s phone once, if the lead consents (as :func:`queue_sms` for a patient)."""
    if not (await lead_consents(session, [lead.id]))[lead.id]:
        return {"sms": 0, "note": "the lead has no SMS consent"}
    if lead.phone_enc is None:
        return {"sms": 0, "note": "the lead has no phone number"}
    raw = await cipher.decrypt_text("leads", "phone_enc", lead.id, lead.phone_enc)
    try:
        number = to_e164(raw, language)
    except ValueError:
        return {"sms": 0, "note": "the lead's phone number is not valid"}
    return await _insert_sms(session, cipher, key=key, template=template, body=body, number=number, lead_id=lead.id)


async def _insert_sms(session: AsyncSession, cipher: FieldCipher, *, key: str, template: str, body: str, number: str,
                      patient_id: uuid.UUID | None = None, lead_id: uuid.UUID | None = None) -> dict[str, object]:
    sms_id = uuid.uuid4()
    result = await session.execute(
        pg_insert(OutboundSms).values(
            id=sms_id, idempotency_key=key, patient_id=patient_id, lead_id=lead_id, template=template, body=body[:1600],
            to_enc=await cipher.encrypt_text("outbound_sms", "to_enc", sms_id, number),
            to_bidx=await cipher.blind_index("phone", number),
        ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(OutboundSms.id)
    )
    if result.first() is None:
        return {"sms": 0, "note": "already queued"}
    await note_due(session, WorkKind.MAIL)
    return {"sms": 1}


async def queue_sms(session: AsyncSession, cipher: FieldCipher, patient: Patient, *, template: str, body: str, key: str,
                    language: str | None = None) -> dict[str, object]:
    """Queue ``body`` to ``patient``'s phone once (``key`` is the idempotency key), in the caller's
    tenant transaction, and note the tenant's outbound work due now.

    Returns what happened: ``{"sms": 1}``, ``{"sms": 0, "note": why}`` (no consent, no or invalid
    number, already queued). Never raises for the patient's data.
    """
    if not (await consents(session, [patient.id]))[patient.id]:
        return {"sms": 0, "note": "the patient has no SMS consent"}
    if patient.phone_enc is None:
        return {"sms": 0, "note": "the patient has no phone number"}
    raw = await cipher.decrypt_text("patients", "phone_enc", patient.id, patient.phone_enc)
    try:
        number = to_e164(raw, language)
    except ValueError:
        return {"sms": 0, "note": "the patient's phone number is not valid"}
    return await _insert_sms(session, cipher, key=key, template=template, body=body, number=number, patient_id=patient.id)


async def record_withdrawal(session: AsyncSession, patient_id: uuid.UUID | None, lead_id: uuid.UUID | None = None) -> bool:
    """Withdraw the SMS consent of ``patient_id`` (or ``lead_id``) because they replied STOP
    (method ``sms-stop``, no recording member), unless it is already withdrawn. Returns whether a
    row was added."""
    person = patient_id or lead_id
    if person is None or not (await consents(session, [person], leads=patient_id is None))[person]:
        return False
    session.add(SmsConsent(id=uuid.uuid4(), patient_id=patient_id, lead_id=None if patient_id else lead_id, given=False,
                           method="sms-stop", recorded_by=None, recorded_at=datetime.datetime.now(datetime.UTC)))
    await session.flush()
    return True


async def _reply(session: AsyncSession, cipher: FieldCipher, number: str, *, given: bool) -> int:
    """Append ``given`` (method ``sms-start`` or ``sms-stop``) for every patient and lead this
    organization texted at ``number`` whose current consent differs. Returns how many."""
    bidx = await cipher.blind_index("phone", number)
    texted = (await session.execute(
        sa.select(OutboundSms.patient_id, OutboundSms.lead_id).where(OutboundSms.to_bidx == bidx).distinct())).all()
    patients = await consents(session, [r.patient_id for r in texted if r.patient_id])
    leads = await consents(session, [r.lead_id for r in texted if r.lead_id], leads=True)
    now = datetime.datetime.now(datetime.UTC)
    method = "sms-start" if given else "sms-stop"
    changed = 0
    for column, current in (("patient_id", patients), ("lead_id", leads)):
        for person, state in current.items():
            if state != given:
                session.add(SmsConsent(id=uuid.uuid4(), given=given, method=method, recorded_by=None, recorded_at=now,
                                       **{column: person}))
                changed += 1
    await session.flush()
    return changed


async def record_stop(session: AsyncSession, cipher: FieldCipher, number: str) -> int:
    """A STOP reply from ``number`` (E.164): withdraw the SMS consent of every patient and lead of
    this organization texted at that number that still consents. Returns how many."""
    return await _reply(session, cipher, number, given=False)


async def record_start(session: AsyncSession, cipher: FieldCipher, number: str) -> int:
    """A START reply from ``number`` (E.164): give SMS consent back (method ``sms-start``, no
    recording member) to every patient and lead of this organization texted at that number whose
    consent is now withdrawn. Returns how many."""
    return await _reply(session, cipher, number, given=True)


def number_hmac(secret_key: str, number: str) -> bytes:
    """The platform's key for an E.164 ``number`` in ``sms_recipients``: HMAC-SHA256 under a key
    derived from ``ANIMA_SECRET_KEY`` for this purpose (the number itself is never stored there)."""
    key = hmac.new(secret_key.encode(), b"anima sms recipients v1", hashlib.sha256).digest()
    return hmac.new(key, number.encode(), hashlib.sha256).digest()


async def note_texted(session: AsyncSession, secret_key: str, tenant_id: int, numbers: set[str]) -> None:
    """Remember (platform session, caller commits) that ``tenant_id`` texts ``numbers``, so a STOP
    reply from one of them reaches this organization."""
    for number in numbers:
        await session.execute(
            pg_insert(SmsRecipient).values(number_hmac=number_hmac(secret_key, number), tenant_id=tenant_id)
            .on_conflict_do_update(index_elements=["number_hmac", "tenant_id"], set_={"last_sent_at": sa.func.now()})
        )


async def texting_tenants(session: AsyncSession, secret_key: str, number: str) -> list[int]:
    """The organizations (tenant ids) that texted ``number`` (platform session)."""
    rows = await session.execute(sa.select(SmsRecipient.tenant_id).where(SmsRecipient.number_hmac == number_hmac(secret_key, number)))
    return sorted(rows.scalars())


__all__ = ["consents", "lead_consents", "queue_lead_sms", "read_lead_sms_consent", "set_lead_sms_consent", "note_texted", "number_hmac", "queue_sms", "read_sms_consent", "record_start", "record_stop", "record_withdrawal",
           "set_sms_consent",
           "texting_tenants", "to_e164"]
