"""Bodies and answers of the leads API.

Limits: names 1-100 characters (no control characters, no ``<`` ``>``), email 3-254, phone 3-30
characters before normalisation to E.164, notes up to 5,000 characters, a lost reason 1-500.
``language`` is a BCP 47 tag known to CLDR; ``time_zone`` an IANA zone name. ``source`` is one of
PUBLIC_FORM, BOOKING, MANUAL, REFERRAL, AD, SOCIAL, OTHER.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f<>]*\S[^\x00-\x1f\x7f<>]*$")]
LastName = Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[^\x00-\x1f\x7f<>]*$")]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=30)]
Language = Annotated[str, msgspec.Meta(min_length=2, max_length=35, description="BCP 47 tag, e.g. es or pt-BR")]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Madrid")]
Notes = Annotated[str, msgspec.Meta(max_length=5000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"\S")]
Source = Literal["PUBLIC_FORM", "BOOKING", "MANUAL", "REFERRAL", "AD", "SOCIAL", "OTHER"]
StageName = Literal["NEW", "CONTACTED", "QUALIFIED", "CONVERTED", "LOST"]
FreshnessName = Literal["green", "amber", "gray", "ghost"]


class LeadCreate(RequestBody):
    """A lead entered by staff (``source`` defaults to MANUAL); email or phone or both may be absent."""

    first_name: Name
    last_name: LastName = ""
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    time_zone: TimeZone | None = None
    source: Source = "MANUAL"
    interested_service_id: uuid.UUID | None = None
    notes: Notes | None = None
    assigned_to: uuid.UUID | None = None


class LeadUpdate(RequestBody, omit_defaults=True):
    """Change any of a lead's details; null clears an optional one. The stage moves through ``/move``."""

    first_name: Name | msgspec.UnsetType = msgspec.UNSET
    last_name: LastName | msgspec.UnsetType = msgspec.UNSET
    email: Email | None | msgspec.UnsetType = msgspec.UNSET
    phone: Phone | None | msgspec.UnsetType = msgspec.UNSET
    language: Language | None | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZone | None | msgspec.UnsetType = msgspec.UNSET
    interested_service_id: uuid.UUID | None | msgspec.UnsetType = msgspec.UNSET
    notes: Notes | None | msgspec.UnsetType = msgspec.UNSET
    assigned_to: uuid.UUID | None | msgspec.UnsetType = msgspec.UNSET


class LeadMove(RequestBody):
    """Move a lead to ``stage``; ``reason`` is required for LOST and refused otherwise."""

    stage: Literal["NEW", "CONTACTED", "QUALIFIED", "LOST"]
    reason: Reason | None = None


class DuplicateOut(msgspec.Struct):
    """A possible duplicate of the lead: the older lead or the patient it matched, on what."""

    id: uuid.UUID
    match_lead_id: uuid.UUID | None
    match_patient_id: uuid.UUID | None
    matched_on: str
    status: str
    created_at: datetime.datetime
    resolved_at: datetime.datetime | None


class LeadSummary(msgspec.Struct):
    """What the board and lists show: contact details, stage, freshness and the WhatsApp link."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    source: str
    stage: str
    freshness: str | None
    assigned_to: uuid.UUID | None
    last_contacted_at: datetime.datetime | None
    created_at: datetime.datetime
    possible_duplicate: bool
    whatsapp_url: str | None


class LeadOut(msgspec.Struct):
    """One lead in full. ``freshness`` is null for CONVERTED and LOST leads; ``whatsapp_url`` is a
    ``wa.me`` link with a greeting in the organization's language (null without a phone)."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    language: str | None
    time_zone: str | None
    source: str
    form_template_id: uuid.UUID | None
    submission_id: uuid.UUID | None
    interested_service_id: uuid.UUID | None
    notes: str | None
    assigned_to: uuid.UUID | None
    stage: str
    stage_changed_at: datetime.datetime
    lost_reason: str | None
    freshness: str | None
    last_contacted_at: datetime.datetime | None
    patient_id: uuid.UUID | None
    converted_at: datetime.datetime | None
    #: set when this lead was merged into another (it then leaves every list)
    merged_into_id: uuid.UUID | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    duplicates: list[DuplicateOut]
    whatsapp_url: str | None
