"""Bodies of the forms API.

A form's ``definition`` is a :class:`~anima.domains.forms.definitions.FormDefinition`. Answers and
scores appear only in :class:`SubmissionOut` for clinical readers (owners and therapists); the
front desk gets the same shape with ``answers`` and ``scores`` null.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import msgspec

from anima.domains.forms.definitions import FormDefinition, Language
from anima.request_body import RequestBody

FormKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$", description="the form's name for playbooks")]
SystemKey = Literal["intake", "consent", "phq9", "gad7"]


class FormCreate(RequestBody):
    """An organization template: its key and first version's definition."""

    key: FormKey
    definition: FormDefinition


class DefinitionUpdate(RequestBody):
    """A new version of an organization template."""

    definition: FormDefinition


class SystemFormEnable(RequestBody):
    """The organization's copy of a system template in a language."""

    template: SystemKey
    language: Language


class AssignmentCreate(RequestBody):
    """A one-time link for a patient: valid ``expires_in_days`` (1–90, default 7); ``send_email``
    queues an email with the link to the patient's address."""

    patient_id: uuid.UUID
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    send_email: bool = False


class SystemTemplateOut(msgspec.Struct):
    key: str
    version: int
    titles: dict[str, str]


class FormOut(msgspec.Struct):
    """A form: ``public_url`` is its public link when switched on; ``definition`` its current version."""

    id: uuid.UUID
    key: str
    system_key: str | None
    language: str
    title: str
    current_version: int
    public_url: str | None
    archived_at: datetime.datetime | None
    created_at: datetime.datetime
    definition: FormDefinition | None = None


class ShareOut(msgspec.Struct):
    """Ways to share a form's public link: the address, its QR code and a WhatsApp link."""

    url: str
    qr_svg: str
    qr_png: str
    whatsapp_url: str
    text: str


class AssignmentOut(msgspec.Struct):
    """A one-time link; ``url`` (with the token) only in the answer that creates it."""

    id: uuid.UUID
    form_id: uuid.UUID
    patient_id: uuid.UUID
    version: int | None
    state: str
    expires_at: datetime.datetime
    used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    emailed: bool
    created_by: uuid.UUID | None
    created_at: datetime.datetime
    url: str | None = None
    whatsapp_url: str | None = None


class PersonOut(msgspec.Struct):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    birth_date: str | None
    language: str | None


class SubmissionOut(msgspec.Struct):
    """A submission: who and when for everyone; ``answers`` and ``scores`` for clinicians only."""

    id: uuid.UUID
    form_id: uuid.UUID
    version_id: uuid.UUID
    patient_id: uuid.UUID | None
    assignment_id: uuid.UUID | None
    journal_entry_id: uuid.UUID | None
    measure: str | None
    language: str
    submitted_at: datetime.datetime
    person: PersonOut | None
    answers: dict[str, Any] | None
    scores: dict[str, Any] | None


class MeasurePointOut(msgspec.Struct):
    submission_id: uuid.UUID
    submitted_at: datetime.datetime
    total: int
    band: str
    risk_flag: bool


class MeasureSeriesOut(msgspec.Struct):
    """A patient's measure over time, oldest first (PHQ-9 0–27, GAD-7 0–21)."""

    patient_id: uuid.UUID
    measure: str
    max_total: int
    points: list[MeasurePointOut]
