"""Bodies of the patients API.

Limits: names 1-100 characters; tags at most 30 of 1-40 characters; the non-clinical ``profile``
at most 16 KB of JSON; each clinical text at most 20,000 characters. Dates are ISO 8601
(``YYYY-MM-DD``); a birth date lies between 1900-01-01 and today. ``language`` is a BCP 47 tag
known to CLDR (``es``, ``pt-BR``). A stage's ``timeout_days`` is a whole number from 1 to 3650, or
null for no timeout.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import msgspec

from anima.request_body import RequestBody

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f<>]+$")]
LastName = Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[^\x00-\x1f\x7f<>]*$")]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Phone = Annotated[str, msgspec.Meta(min_length=7, max_length=30)]
Language = Annotated[str, msgspec.Meta(min_length=2, max_length=35, description="BCP 47 tag, e.g. es or pt-BR")]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+/-]+$", description="IANA time zone, e.g. America/New_York; null: the practice's")]
StageKey = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
StageLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]+$")]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=30)]
ClinicalText = Annotated[str, msgspec.Meta(max_length=20_000)]
TimeoutDays = Annotated[int, msgspec.Meta(ge=1, le=3650, description="days in the stage before JOURNEY_STAGE_TIMEOUT")]

PROFILE_MAX_BYTES = 16 * 1024


class ClinicalProfile(RequestBody, omit_defaults=True):
    """The encrypted part of the profile. ``intake_notes`` holds what was noted before the person
    became a patient (a converted lead's notes, carried over by :func:`~anima.domains.patients.services.record_intake_notes`)."""

    medical_history: ClinicalText = ""
    psychological_history: ClinicalText = ""
    spiritual_history: ClinicalText = ""
    risk_notes: ClinicalText = ""
    intake_notes: ClinicalText = ""


CLINICAL_KEYS = frozenset(ClinicalProfile.__struct_fields__)


class PatientCreate(RequestBody):
    first_name: Name
    last_name: LastName = ""
    email: Email | None = None
    phone: Phone | None = None
    birth_date: datetime.date | None = None
    language: Language | None = None
    time_zone: TimeZone | None = None
    journey_stage: StageKey | None = None
    tags: Tags = []
    profile: dict[str, Any] = {}
    clinical: ClinicalProfile | None = None
    therapist_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)] = []


class PatientUpdate(RequestBody, omit_defaults=True):
    first_name: Name | msgspec.UnsetType = msgspec.UNSET
    last_name: LastName | msgspec.UnsetType = msgspec.UNSET
    email: Email | None | msgspec.UnsetType = msgspec.UNSET
    phone: Phone | None | msgspec.UnsetType = msgspec.UNSET
    birth_date: datetime.date | None | msgspec.UnsetType = msgspec.UNSET
    language: Language | None | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZone | None | msgspec.UnsetType = msgspec.UNSET
    journey_stage: StageKey | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    profile: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    clinical: ClinicalProfile | None | msgspec.UnsetType = msgspec.UNSET


class PatientSummary(msgspec.Struct):
    """What lists show (no clinical content)."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    birth_date: datetime.date | None
    language: str | None
    journey_stage: str
    tags: list[str]
    archived_at: datetime.datetime | None
    created_at: datetime.datetime


class BlockOut(msgspec.Struct):
    """Whether the patient is blocked from new bookings after a risk finding, since when, why
    (``reason``) and from what (``source_kind``: ``note``, ``form_submission`` or ``playbook``, and
    ``source_id``); and the last lift of a block (its reason for owners and therapists only)."""

    blocked: bool
    since: datetime.datetime | None
    reason: str | None
    source_kind: str | None
    source_id: uuid.UUID | None
    last_lifted_at: datetime.datetime | None
    last_lifted_by: uuid.UUID | None
    last_lift_reason: str | None


class BlockLift(RequestBody):
    """Lift a block after review: why (1-1000 characters; stored encrypted)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=r"\S")]


ConsentMethod = Literal["verbal", "written", "form", "portal"]


class ConsentUpdate(RequestBody):
    """Record consent to AI processing given (``true``) or withdrawn (``false``), and how."""

    given: bool
    method: ConsentMethod


class ConsentState(msgspec.Struct):
    """The patient's current consent to AI processing: ``given`` is null when never recorded."""

    given: bool | None
    method: str | None
    recorded_at: datetime.datetime | None
    recorded_by: uuid.UUID | None


class ConsentChange(msgspec.Struct):
    """One line of the consent history: given or withdrawn, how, when (UTC) and by which member."""

    id: uuid.UUID
    given: bool
    method: str
    recorded_at: datetime.datetime
    recorded_by: uuid.UUID | None


class ConsentOut(msgspec.Struct):
    """The current consent and its whole history, oldest first."""

    patient_id: uuid.UUID
    current: ConsentState
    history: list[ConsentChange]


class PatientOut(msgspec.Struct):
    """One record. ``label`` is the organization's term (Patient, Client, Consultant).
    ``clinical`` is null for assistants (``clinical_visible`` false) or when none was recorded.
    ``blocked`` and ``block`` tell whether (and why) new bookings are refused; ``ai_consent`` is the
    current consent to AI processing."""

    id: uuid.UUID
    label: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    birth_date: datetime.date | None
    language: str | None
    time_zone: str | None
    journey_stage: str
    tags: list[str]
    profile: dict[str, Any]
    clinical_visible: bool
    clinical: ClinicalProfile | None
    therapist_ids: list[uuid.UUID]
    archived_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    blocked: bool
    block: BlockOut
    ai_consent: ConsentState


class TherapistIds(RequestBody):
    therapist_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)]


class StageOut(msgspec.Struct):
    key: str
    label: str
    position: int
    timeout_days: int | None = None


class StageRename(RequestBody, omit_defaults=True):
    """Change a stage: its ``label``, its ``timeout_days`` (null clears it), or both; at least one."""

    label: StageLabel | msgspec.UnsetType = msgspec.UNSET
    timeout_days: TimeoutDays | None | msgspec.UnsetType = msgspec.UNSET


class PolicyOut(msgspec.Struct):
    restrict_therapists_to_assigned: bool


class PolicyUpdate(RequestBody):
    restrict_therapists_to_assigned: bool
