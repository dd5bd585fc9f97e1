"""Rules of forms: templates and versions, public links, one-time assignments, submissions.

Templates. An organization distributes :class:`~anima.domains.forms.models.Form` rows: copies of
the system templates (:mod:`anima.domains.forms.system`, one per template and language, made on
first use by :func:`ensure_system_form`) and, where the plan has the ``custom_forms`` feature, its
own (:func:`create_form`, owners). Editing adds a version (:func:`update_definition`); a
submission keeps the version it answered, so editing never changes a past submission.

Distribution. A form's public link (:func:`enable_public_link`) is an opaque 22-character token
anyone may use; a one-time assignment (:func:`assign`) is a 43-character token for one patient,
of which only the SHA-256 is kept: single use, expiring (:data:`DEFAULT_EXPIRY`, 7 days),
revocable (:func:`revoke`), optionally emailed (queued in the tenant's outbound emails through
:func:`anima.domains.automations.outbound.queue_email`, rendered from the ``form_assignment``
email template in the form's language, the expiry shown in the practice's zone).

Submissions (:func:`submit`). The answers are validated per field type
(:mod:`anima.domains.forms.answers`) before anything is written; a one-time link is then claimed
with one conditional UPDATE (used, revoked or expired links match nothing: of concurrent
submissions exactly one wins), and in the same transaction the answers are encrypted, the measure
is scored (:mod:`anima.domains.forms.scoring`) and the free text screened by the risk detector. A
submission for a patient becomes a ``form_submission`` journal entry
(:func:`anima.domains.journal.services.record_form_submission`) and emits
``FORM_SUBMISSION_COMPLETED`` (submission, entry, patient and form ids — never answers), whose
follow-up job screens the entry as every journal entry is screened. A PHQ-9 with item 9 above 0
raises the core risk alert (:func:`anima.domains.automations.alerts.raise_risk_alert`, source the
journal entry) and emits ``RISK_DETECTED_IN_NOTE`` with level HIGH, whatever the total. An
anonymous public submission with such a flag (or HIGH-risk free text) alerts the owners, source
the submission.

Leads. :func:`submit` returns a :class:`SubmissionResult` whose ``person`` holds the details the
mapped fields answered (first and last name, email, phone, birth date, language): what a lead is
captured from; :func:`person_of` reads them again from a stored submission, and
:func:`attach_to_patient` hands an anonymous submission to the patient a lead became (into their
journal).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from anima.ai.risk import detect_risk
from anima.billing.plans import CATALOG, plan_for
from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.automations.alerts import AlertSource, add_alerts, raise_risk_alert
from anima.domains.automations.outbound import queue_email
from anima.domains.forms import answers as answer_rules
from anima.domains.forms import scoring, sharing, system
from anima.domains.forms.definitions import FormDefinition, check_definition, from_json, to_json
from anima.domains.forms.models import Form, FormAssignment, FormSubmission, FormVersion
from anima.domains.journal import services as journal
from anima.domains.patients.models import Patient
from anima.domains.settings.services import get_settings
from anima.domains.staff.models import StaffMember
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.mail import compose
from anima.problems import Conflict, Forbidden, InvalidInput, NotFound
from anima.web.formatting import instant
from anima.web.i18n import pick_language as compose_language

SUBMISSIONS = "form_submissions"
#: the one statement a submission's row is written with (built once: no per-call construction)
_INSERT_SUBMISSION = sa.insert(FormSubmission)
FEATURE = "custom_forms"
DEFAULT_EXPIRY = datetime.timedelta(days=7)
MAX_EXPIRY_DAYS = 90
#: lengths of the two kinds of token (``secrets.token_urlsafe`` of 16 and 32 bytes)
PUBLIC_TOKEN_LENGTH, ASSIGNMENT_TOKEN_LENGTH = 22, 43


# -- templates ------------------------------------------------------------------------------------


def require_custom_forms(tier: str) -> None:
    """Raise unless the plan of ``tier`` has the ``custom_forms`` feature.

    Raises:
        Forbidden (403): naming the feature, the tier and the tiers that include it.
    """
    if plan_for(tier).has(FEATURE):
        return
    tiers = [p.tier for p in sorted(CATALOG.values(), key=lambda p: p.rank) if p.has(FEATURE)]
    raise Forbidden(
        f"organization templates need the {FEATURE} feature, which your {tier} plan does not include; "
        f"{' or '.join(tiers)} include it. The system templates (intake, consent, PHQ-9, GAD-7) are on every plan.",
        extra={"feature": FEATURE, "tier": tier, "upgrade_to": tiers[0] if tiers else None},
    )


async def get_form(session: AsyncSession, form_id: uuid.UUID) -> Form:
    """The form ``form_id``; NotFound otherwise."""
    form = await session.get(Form, form_id)
    if form is None:
        raise NotFound("form not found")
    return form


async def list_forms(session: AsyncSession, *, archived: bool = False) -> list[Form]:
    """The organization's forms by title (archived ones only when ``archived``)."""
    where = Form.archived_at.is_not(None) if archived else Form.archived_at.is_(None)
    return list((await session.execute(sa.select(Form).where(where).order_by(Form.title, Form.id))).scalars())


async def version_of(session: AsyncSession, form: Form, version: int | None = None) -> tuple[FormVersion, FormDefinition]:
    """A version of ``form`` (the current one by default) and its definition; NotFound otherwise."""
    row = (await session.execute(
        sa.select(FormVersion).where(FormVersion.form_id == form.id, FormVersion.version == (version or form.current_version))
    )).scalar_one_or_none()
    if row is None:
        raise NotFound("form version not found")
    return row, from_json(row.definition)


async def _add_version(session: AsyncSession, form: Form, version: int, definition: FormDefinition, by: uuid.UUID | None) -> FormVersion:
    row = FormVersion(id=uuid.uuid4(), form_id=form.id, version=version, definition=to_json(definition), created_by=by)
    session.add(row)
    await session.flush()
    return row


async def ensure_system_form(session: AsyncSession, actor: Actor, key: str, language: str) -> Form:
    """The organization's copy of system template ``key`` in ``language``, made (or brought to the
    template's current version) on first use; its form key is ``<key>_<language>``.

    Raises:
        InvalidInput (422): an unknown template or language.
    """
    if key not in system.SYSTEM_KEYS:
        raise InvalidInput.field("key", "system-template", f"the system templates are {', '.join(system.SYSTEM_KEYS)}")
    if language not in system.LANGUAGES:
        raise InvalidInput.field("language", "language", f"the languages are {', '.join(system.LANGUAGES)}")
    definition = system.system_definition(key, language)
    version = system.VERSIONS[key]
    form_key = f"{key}_{language}"
    await session.execute(
        pg_insert(Form).values(
            id=uuid.uuid4(), key=form_key, system_key=key, language=language, title=definition.title, current_version=0,
        ).on_conflict_do_nothing(constraint="uq_forms_key")
    )
    form = (await session.execute(sa.select(Form).where(Form.key == form_key).with_for_update())).scalar_one()
    if form.current_version < version:
        await _add_version(session, form, version, definition, None)
        form.current_version, form.title = version, definition.title
        await session.flush()
        await record(session, actor, "forms.system_enabled", form_id=str(form.id), template=key, language=language, version=version)
    return form


async def create_form(session: AsyncSession, actor: Actor, *, tier: str, key: str, definition: FormDefinition) -> Form:
    """An organization template (version 1) built by an owner.

    Raises:
        Forbidden (403): the plan lacks ``custom_forms``. InvalidInput (422): a broken definition
        rule (naming the field). Conflict (409): the key is taken.
    """
    require_custom_forms(tier)
    if key.split("_")[0] in system.SYSTEM_KEYS:
        raise InvalidInput.field("key", "reserved", f"keys starting with {', '.join(system.SYSTEM_KEYS)} name the system templates")
    check_definition(definition)
    if (await session.execute(sa.select(Form.id).where(Form.key == key))).first() is not None:
        raise Conflict(f"a form with key {key!r} exists; choose another key", errors=[{"field": "key", "rule": "unique", "message": "already used"}])
    form = Form(id=uuid.uuid4(), key=key, system_key=None, language=definition.language, title=definition.title,
                current_version=1, created_by=actor.user_id)
    session.add(form)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"a form with key {key!r} exists; choose another key",
                       errors=[{"field": "key", "rule": "unique", "message": "already used"}]) from None
    await _add_version(session, form, 1, definition, actor.user_id)
    await record(session, actor, "forms.created", form_id=str(form.id), key=key)
    return form


async def update_definition(session: AsyncSession, actor: Actor, *, tier: str, form_id: uuid.UUID, definition: FormDefinition) -> Form:
    """A new version of an organization template; past submissions keep theirs.

    Raises:
        Forbidden (403): the plan lacks ``custom_forms``. NotFound. Conflict (409): a system
        template's copy (the system templates are not edited). InvalidInput (422).
    """
    require_custom_forms(tier)
    form = (await session.execute(sa.select(Form).where(Form.id == form_id).with_for_update())).scalar_one_or_none()
    if form is None:
        raise NotFound("form not found")
    if form.system_key is not None:
        raise Conflict("system templates are not edited; create an organization form instead")
    check_definition(definition)
    form.current_version += 1
    form.title, form.language = definition.title, definition.language
    form.updated_at = datetime.datetime.now(datetime.UTC)
    await _add_version(session, form, form.current_version, definition, actor.user_id)
    await record(session, actor, "forms.versioned", form_id=str(form.id), version=form.current_version)
    return form


async def archive_form(session: AsyncSession, actor: Actor, form_id: uuid.UUID) -> Form:
    """Archive a form: its public link stops working; submissions stay."""
    form = await get_form(session, form_id)
    form.archived_at = form.archived_at or datetime.datetime.now(datetime.UTC)
    form.public_token = None
    await record(session, actor, "forms.archived", form_id=str(form.id))
    return form


# -- distribution ---------------------------------------------------------------------------------


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def enable_public_link(session: AsyncSession, actor: Actor, form_id: uuid.UUID) -> Form:
    """Give the form a new public link token (the previous link, if any, stops working).

    Raises:
        NotFound. Conflict (409): an archived form.
    """
    form = await get_form(session, form_id)
    if form.archived_at is not None:
        raise Conflict("an archived form has no public link")
    form.public_token = secrets.token_urlsafe(16)
    await record(session, actor, "forms.public_link_enabled", form_id=str(form.id))
    return form


async def disable_public_link(session: AsyncSession, actor: Actor, form_id: uuid.UUID) -> Form:
    """Switch the form's public link off."""
    form = await get_form(session, form_id)
    form.public_token = None
    await record(session, actor, "forms.public_link_disabled", form_id=str(form.id))
    return form


@dataclass(frozen=True)
class NewAssignment:
    """A new one-time link: the row, the token (shown once, never stored) and the fill address."""

    assignment: FormAssignment
    token: str
    url: str


async def assign(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, *, form: Form, patient: Patient, org_slug: str,
    org_name: str, public_url: str, expires_in: datetime.timedelta = DEFAULT_EXPIRY, send_email: bool = False,
    run_id: uuid.UUID | None = None,
) -> NewAssignment:
    """A one-time link of ``form``'s current version for ``patient`` (the caller checked the patient
    is theirs to see); with ``send_email``, an email with the link is queued to the patient.

    Raises:
        Conflict (409): an archived form or patient; ``send_email`` for a patient without email.
    """
    if form.archived_at is not None:
        raise Conflict("an archived form cannot be assigned")
    if patient.archived_at is not None:
        raise Conflict("an archived patient cannot be assigned a form")
    version, definition = await version_of(session, form)
    token = secrets.token_urlsafe(32)
    now = datetime.datetime.now(datetime.UTC)
    row = FormAssignment(
        id=uuid.uuid4(), form_id=form.id, version_id=version.id, patient_id=patient.id, token_hash=_hash(token),
        expires_at=now + expires_in, created_by=actor.user_id, run_id=run_id, created_at=now, emailed=False,
    )
    session.add(row)
    await session.flush()
    url = sharing.fill_url(public_url, org_slug, token)
    if send_email:
        if patient.email_enc is None:
            raise Conflict("this patient has no email address; copy the link instead",
                           errors=[{"field": "send_email", "rule": "no-email", "message": "the patient has no email address"}])
        address = await cipher.decrypt_text("patients", "email_enc", patient.id, patient.email_enc)
        practice = await get_settings(session)
        composed = compose.render(
            "form_assignment", definition.language, org_name=org_name, title=definition.title, url=url,
            until=instant(row.expires_at, compose_language(definition.language), practice.timezone),
        )
        row.emailed = await queue_email(
            session, cipher, key=f"form-assignment:{row.id}", address=address, composed=composed,
            template="form_assignment", category="transactional", patient_id=patient.id,
        )
    await record(session, actor, "forms.assigned", patient_id=patient.id, form_id=str(form.id),
                 assignment_id=str(row.id), emailed=row.emailed, run_id=str(run_id) if run_id else None)
    return NewAssignment(row, token, url)


async def revoke(session: AsyncSession, actor: Actor, assignment_id: uuid.UUID) -> FormAssignment:
    """Revoke an unused one-time link.

    Raises:
        NotFound. Conflict (409): already used.
    """
    row = (await session.execute(
        sa.select(FormAssignment).where(FormAssignment.id == assignment_id).with_for_update()
    )).scalar_one_or_none()
    if row is None:
        raise NotFound("assignment not found")
    if row.used_at is not None:
        raise Conflict("this link was already used; the submission stays")
    row.revoked_at = row.revoked_at or datetime.datetime.now(datetime.UTC)
    await record(session, actor, "forms.assignment_revoked", patient_id=row.patient_id, assignment_id=str(row.id))
    return row


def assignment_state(row: FormAssignment, now: datetime.datetime | None = None) -> str:
    """``used``, ``revoked``, ``expired`` or ``open``."""
    now = now or datetime.datetime.now(datetime.UTC)
    if row.used_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "open"


async def list_assignments(
    session: AsyncSession, *, patient_id: uuid.UUID | None = None, form_id: uuid.UUID | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[FormAssignment], int]:
    """One-time links, newest first, optionally of one patient or form."""
    where = []
    if patient_id is not None:
        where.append(FormAssignment.patient_id == patient_id)
    if form_id is not None:
        where.append(FormAssignment.form_id == form_id)
    total = (await session.execute(sa.select(sa.func.count()).select_from(FormAssignment).where(*where))).scalar_one()
    rows = (await session.execute(
        sa.select(FormAssignment).where(*where).order_by(FormAssignment.created_at.desc(), FormAssignment.id).limit(limit).offset(offset)
    )).scalars().all()
    return list(rows), total


# -- filling --------------------------------------------------------------------------------------


class LinkUnusable(Exception):
    """A fill link that shows no form: ``state`` is ``unknown``, ``used``, ``expired`` or ``revoked``;
    ``language`` the form's, when the link is known."""

    def __init__(self, state: str, language: str | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.language = language


@dataclass(frozen=True)
class FillTarget:
    """What a fill link opens: the form, the version to answer and, for a one-time link, its assignment."""

    form: Form
    version: FormVersion
    definition: FormDefinition
    assignment: FormAssignment | None = None


async def open_link(session: AsyncSession, token: str) -> FillTarget:
    """The form a fill token opens (a public link: the current version; a one-time link: the
    version assigned).

    Raises:
        LinkUnusable: an unknown token, an archived form, or a used, expired or revoked one-time link.
    """
    if len(token) == ASSIGNMENT_TOKEN_LENGTH:
        row = (await session.execute(sa.select(FormAssignment).where(FormAssignment.token_hash == _hash(token)))).scalar_one_or_none()
        if row is None:
            raise LinkUnusable("unknown")
        state = assignment_state(row)
        form = await session.get(Form, row.form_id)
        if state != "open":
            raise LinkUnusable(state, form.language if form is not None else None)
        version = await session.get(FormVersion, row.version_id)
        if form is None or version is None:
            raise LinkUnusable("unknown")
        return FillTarget(form, version, from_json(version.definition), row)
    if len(token) != PUBLIC_TOKEN_LENGTH:
        raise LinkUnusable("unknown")
    form = (await session.execute(
        sa.select(Form).where(Form.public_token == token, Form.archived_at.is_(None))
    )).scalar_one_or_none()
    if form is None:
        raise LinkUnusable("unknown")
    version, definition = await version_of(session, form)
    return FillTarget(form, version, definition)


@dataclass(frozen=True)
class PersonDetails:
    """What the mapped fields of a submission said of the person (absent ones are None)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, mapped: dict[str, str]) -> PersonDetails:
        return cls(**{k: mapped.get(k) for k in ("first_name", "last_name", "email", "phone", "birth_date", "language")})


@dataclass(frozen=True)
class SubmissionResult:
    """A stored submission: ids, the person details the mapped fields gave (for a lead), the score."""

    submission_id: uuid.UUID
    form_id: uuid.UUID
    form_key: str
    language: str
    patient_id: uuid.UUID | None
    journal_entry_id: uuid.UUID | None
    person: PersonDetails
    score: scoring.MeasureScore | None = None
    risk_level: str = "LOW"
    alerted: list[uuid.UUID] = field(default_factory=list)


async def _claim(session: AsyncSession, assignment: FormAssignment) -> bool:
    now = datetime.datetime.now(datetime.UTC)
    claimed = (await session.execute(
        sa.update(FormAssignment)
        .where(FormAssignment.id == assignment.id, FormAssignment.used_at.is_(None),
               FormAssignment.revoked_at.is_(None), FormAssignment.expires_at > now)
        .values(used_at=now)
        .returning(FormAssignment.id)
        .execution_options(synchronize_session=False)
    )).first()
    return claimed is not None


async def _journal_author(session: AsyncSession, patient_id: uuid.UUID, created_by: uuid.UUID | None) -> uuid.UUID:
    """Who a patient's submission is attributed to (and alerted as its author): the member who
    assigned it when a clinician (owner or therapist), else the patient's first assigned therapist,
    else the first active owner. The front desk is never the author of clinical content."""
    from anima.domains.patients.models import patient_therapists

    clinical = StaffMember.role.in_(("OWNER", "THERAPIST")) & StaffMember.active.is_(True)
    if created_by is not None:
        found = (await session.execute(
            sa.select(StaffMember.id).where(StaffMember.id == created_by, clinical)
        )).scalar_one_or_none()
        if found is not None:
            return found
    therapist = (await session.execute(
        sa.select(StaffMember.id).where(
            StaffMember.id.in_(sa.select(patient_therapists.c.staff_id).where(patient_therapists.c.patient_id == patient_id)),
            clinical,
        ).order_by(StaffMember.id).limit(1)
    )).scalar_one_or_none()
    if therapist is not None:
        return therapist
    owner = (await session.execute(
        sa.select(StaffMember.id).where(StaffMember.role == "OWNER", StaffMember.active.is_(True)).order_by(StaffMember.id).limit(1)
    )).scalar_one_or_none()
    return owner or uuid.UUID(int=0)


async def _into_journal(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, *, submission_id: uuid.UUID, patient_id: uuid.UUID,
    submitted_at: datetime.datetime, form_key: str, version: int, title: str, answers: dict[str, Any],
    score: scoring.MeasureScore | None, author: uuid.UUID,
) -> uuid.UUID:
    """Record a patient's submission as a journal entry; returns the entry's id. The entry holds
    field keys and values, never the questions' wording (which the risk detector would read:
    PHQ-9 item 9's own words are not a risk)."""
    entry = await journal.record_form_submission(
        session, cipher, actor, patient_id=patient_id, author_id=author, occurred_at=submitted_at,
        data={"form": form_key, "title": title, "version": version, "submission_id": str(submission_id), "answers": answers,
              **({"score": score.as_dict()} if score else {})},
    )
    return entry.id


async def _item9_alert(session: AsyncSession, actor: Actor, patient_id: uuid.UUID, author: uuid.UUID, entry_id: uuid.UUID) -> list[uuid.UUID]:
    """PHQ-9 item 9 above 0: the core risk alert (source: the journal entry) and RISK_DETECTED_IN_NOTE, level HIGH."""
    alerted = await raise_risk_alert(session, actor, patient_id=patient_id, author_id=author, source=AlertSource("form_submission", entry_id))
    await emit(session, EventType.RISK_DETECTED_IN_NOTE, {
        "entry_id": str(entry_id), "patient_id": str(patient_id), "kind": "form_submission", "level": "HIGH", "evidence_count": 1,
    })
    return alerted


async def attach_to_patient(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, *, submission_id: uuid.UUID, patient_id: uuid.UUID,
    author_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Give an anonymous (public-link) submission to a patient — a lead converted into one: the
    submission names the patient and lands in their journal as a ``form_submission`` entry (its
    version, answers and score as submitted). A PHQ-9 item 9 above 0, or free text the screening
    found HIGH at submission, raises the core risk alert for the patient. No second
    ``FORM_SUBMISSION_COMPLETED`` is emitted (the submission completed once). Returns the entry id.

    Raises:
        NotFound: no such submission or patient. Conflict (409): the submission already belongs to
        a patient.
    """
    sub = (await session.execute(
        sa.select(FormSubmission).where(FormSubmission.id == submission_id).with_for_update()
    )).scalar_one_or_none()
    if sub is None:
        raise NotFound("submission not found")
    if sub.patient_id is not None:
        raise Conflict("this submission already belongs to a patient")
    if await session.get(Patient, patient_id) is None:
        raise NotFound("patient not found")
    form = await get_form(session, sub.form_id)
    version = await session.get(FormVersion, sub.version_id)
    assert version is not None
    definition = from_json(version.definition)
    answers = await cipher.decrypt_json(SUBMISSIONS, "answers_enc", sub.id, sub.answers_enc)
    scores = await cipher.decrypt_json(SUBMISSIONS, "scores_enc", sub.id, sub.scores_enc) if sub.scores_enc else {}
    score = scoring.MeasureScore(scores["measure"], scores["total"], scores["band"], scores["risk_flag"]) if "total" in scores else None
    sub.patient_id = patient_id
    author = await _journal_author(session, patient_id, author_id or actor.user_id)
    entry_id = await _into_journal(
        session, cipher, actor, submission_id=sub.id, patient_id=patient_id, submitted_at=sub.submitted_at, form_key=form.key,
        version=version.version, title=definition.title, answers=answers, score=score, author=author,
    )
    sub.journal_entry_id = entry_id
    await session.flush()
    await record(session, actor, "forms.submission_attached", patient_id=patient_id, submission_id=str(sub.id), entry_id=entry_id)
    if score is not None and score.risk_flag:
        await _item9_alert(session, actor, patient_id, author, entry_id)
    elif scores.get("risk_level") == "HIGH":
        await raise_risk_alert(session, actor, patient_id=patient_id, author_id=author, source=AlertSource("form_submission", entry_id))
    return entry_id


async def submit(
    session: AsyncSession, cipher: FieldCipher, target: FillTarget, raw: dict[str, Any], *, actor: Actor,
    submitted_at: datetime.datetime | None = None,
) -> SubmissionResult:
    """Validate, store and process one submission of ``target`` (see the module docstring).

    ``submitted_at`` (an aware instant; default now) lets the demo data place a series in the past.

    Raises:
        InvalidInput (422): bad answers, each named ``answers.<key>``; nothing is written and a
            one-time link stays usable. SubmissionTooLarge (413).
        LinkUnusable: the one-time link was used (by a concurrent submission), revoked or expired.
    """
    definition = target.definition
    answers = answer_rules.check_answers(definition, raw)
    assignment = target.assignment
    if assignment is not None and not await _claim(session, assignment):
        fresh = (await session.execute(
            sa.select(FormAssignment).where(FormAssignment.id == assignment.id).execution_options(populate_existing=True)
        )).scalar_one_or_none()
        raise LinkUnusable(assignment_state(fresh) if fresh is not None else "unknown", definition.language)
    mapped = answer_rules.person_details(definition, answers)
    score = scoring.score(definition.measure, answers) if definition.measure else None
    text = answer_rules.free_text(definition, answers)
    risk_level = detect_risk(text, definition.language).level if text else "LOW"
    now = submitted_at or datetime.datetime.now(datetime.UTC)
    sub_id = uuid.uuid4()
    patient_id = assignment.patient_id if assignment is not None else None
    scores: dict[str, Any] = {"risk_level": risk_level, **(score.as_dict() if score else {})}
    alerted: list[uuid.UUID] = []
    entry_id: uuid.UUID | None = None
    author: uuid.UUID | None = None
    if assignment is not None:
        # the entry first (it names the submission): the row is then written once, with its entry
        author = await _journal_author(session, assignment.patient_id, assignment.created_by)
        entry_id = await _into_journal(
            session, cipher, actor, submission_id=sub_id, patient_id=assignment.patient_id, submitted_at=now,
            form_key=target.form.key, version=target.version.version, title=definition.title, answers=answers, score=score,
            author=author,
        )
    # one Core INSERT (no unit of work): the hot path of public submissions
    await session.execute(_INSERT_SUBMISSION, {
        "id": sub_id, "form_id": target.form.id, "version_id": target.version.id, "patient_id": patient_id,
        "assignment_id": assignment.id if assignment is not None else None, "journal_entry_id": entry_id,
        "measure": definition.measure, "language": definition.language, "submitted_at": now,
        "answers_enc": await cipher.encrypt_json(SUBMISSIONS, "answers_enc", sub_id, answers),
        "person_enc": await cipher.encrypt_json(SUBMISSIONS, "person_enc", sub_id, mapped) if mapped else None,
        "scores_enc": await cipher.encrypt_json(SUBMISSIONS, "scores_enc", sub_id, scores),
    })
    await record(session, actor, "forms.submitted", patient_id=patient_id, submission_id=str(sub_id), form_id=str(target.form.id),
                 version=target.version.version, assignment_id=str(assignment.id) if assignment else None)
    if assignment is not None and entry_id is not None and author is not None:
        await emit(session, EventType.FORM_SUBMISSION_COMPLETED, {
            "submission_id": str(sub_id), "entry_id": str(entry_id), "patient_id": str(assignment.patient_id),
            "form_id": str(target.form.id), "form_key": target.form.key, "author_id": str(author),
        })
        if score is not None and score.risk_flag:
            alerted = await _item9_alert(session, actor, assignment.patient_id, author, entry_id)
    else:
        await emit(session, EventType.FORM_SUBMISSION_COMPLETED, {
            "submission_id": str(sub_id), "form_id": str(target.form.id), "form_key": target.form.key,
        })
        if (score is not None and score.risk_flag) or risk_level == "HIGH":
            owners = (await session.execute(
                sa.select(StaffMember.id).where(StaffMember.role == "OWNER", StaffMember.active.is_(True)).order_by(StaffMember.id)
            )).scalars()
            alerted = await add_alerts(
                session, actor, list(owners), patient_id=None, kind="risk", severity="critical",
                message=f"High risk in an answer to the public form “{definition.title}”. Review the submission today.",
                source=AlertSource("form_submission", sub_id),
            )
    return SubmissionResult(
        sub_id, target.form.id, target.form.key, definition.language, patient_id, entry_id,
        PersonDetails.of(mapped), score, risk_level, alerted,
    )


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionView:
    """A submission as a clinician reads it (answers and scores decrypted) or, without ``clinical``,
    as the front desk does (who and when only: answers and scores are None)."""

    row: FormSubmission
    answers: dict[str, Any] | None
    scores: dict[str, Any] | None
    person: PersonDetails | None


async def view(cipher: FieldCipher, row: FormSubmission, *, clinical: bool) -> SubmissionView:
    """Decrypt what the reader may see of ``row`` (contact details for everyone; answers and scores
    only for ``clinical`` readers)."""
    person = PersonDetails.of(await cipher.decrypt_json(SUBMISSIONS, "person_enc", row.id, row.person_enc)) if row.person_enc else None
    if not clinical:
        return SubmissionView(row, None, None, person)
    answers = await cipher.decrypt_json(SUBMISSIONS, "answers_enc", row.id, row.answers_enc)
    scores = await cipher.decrypt_json(SUBMISSIONS, "scores_enc", row.id, row.scores_enc) if row.scores_enc else None
    return SubmissionView(row, answers, scores, person)


async def person_of(session: AsyncSession, cipher: FieldCipher, submission_id: uuid.UUID) -> PersonDetails:
    """The person details a stored submission's mapped fields gave (for capturing a lead).

    Raises:
        NotFound: no such submission.
    """
    row = await session.get(FormSubmission, submission_id)
    if row is None:
        raise NotFound("submission not found")
    if row.person_enc is None:
        return PersonDetails()
    return PersonDetails.of(await cipher.decrypt_json(SUBMISSIONS, "person_enc", row.id, row.person_enc))


async def list_submissions(
    session: AsyncSession, *, form_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
    patient_ids_visible: sa.ColumnElement[bool] | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[FormSubmission], int]:
    """Submissions, newest first, optionally of one form or patient; ``patient_ids_visible`` limits
    them to what the reader may see."""
    where: list[sa.ColumnElement[bool]] = []
    if form_id is not None:
        where.append(FormSubmission.form_id == form_id)
    if patient_id is not None:
        where.append(FormSubmission.patient_id == patient_id)
    if patient_ids_visible is not None:
        where.append(patient_ids_visible)
    total = (await session.execute(sa.select(sa.func.count()).select_from(FormSubmission).where(*where))).scalar_one()
    rows = (await session.execute(
        sa.select(FormSubmission).where(*where).order_by(FormSubmission.submitted_at.desc(), FormSubmission.id).limit(limit).offset(offset)
    )).scalars().all()
    return list(rows), total


async def export_for_patient(session: AsyncSession, cipher: FieldCipher, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """A patient's form submissions for their record's export, oldest first: the template's title
    (as the answered version names it), its key, the version number, ``submitted_at`` (ISO 8601,
    UTC), the answers and the scores decrypted (the screening's ``risk_level``; a measure's total, band
    and risk flag too) and the measure. The caller decides who may export (owners) and audits it."""
    rows = (await session.execute(
        sa.select(FormSubmission, Form.key, FormVersion.version, FormVersion.definition)
        .join(Form, Form.id == FormSubmission.form_id).join(FormVersion, FormVersion.id == FormSubmission.version_id)
        .where(FormSubmission.patient_id == patient_id).order_by(FormSubmission.submitted_at, FormSubmission.id)
    )).all()
    out = []
    for row, key, version, definition in rows:
        v = await view(cipher, row, clinical=True)
        out.append({
            "id": str(row.id), "form_id": str(row.form_id), "template": definition.get("title"), "key": key, "version": version,
            "language": row.language, "measure": row.measure, "submitted_at": row.submitted_at.isoformat(),
            "answers": v.answers, "scores": v.scores,
        })
    return out


@dataclass(frozen=True)
class MeasurePoint:
    """One point of a patient's measure series."""

    submission_id: uuid.UUID
    submitted_at: datetime.datetime
    total: int
    band: str
    risk_flag: bool


async def measure_series(session: AsyncSession, cipher: FieldCipher, patient_id: uuid.UUID, measure: str) -> list[MeasurePoint]:
    """The patient's ``measure`` (``phq9``/``gad7``) totals over time, oldest first."""
    rows = (await session.execute(
        sa.select(FormSubmission).where(FormSubmission.patient_id == patient_id, FormSubmission.measure == measure)
        .order_by(FormSubmission.submitted_at, FormSubmission.id)
    )).scalars().all()
    points = []
    for row in rows:
        s = await cipher.decrypt_json(SUBMISSIONS, "scores_enc", row.id, row.scores_enc) if row.scores_enc else {}
        if "total" in s:
            points.append(MeasurePoint(row.id, row.submitted_at, int(s["total"]), str(s["band"]), bool(s["risk_flag"])))
    return points
