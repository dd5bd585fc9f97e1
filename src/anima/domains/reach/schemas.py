"""Answers of the reach routes."""

from __future__ import annotations

import datetime
import uuid
from typing import Literal

import msgspec

from anima.request_body import RequestBody


class UnsubscribeOut(msgspec.Struct):
    """The outcome of a one-click unsubscribe: the organization, and whether this request recorded it
    (False: the recipient had already opted out)."""

    organization: str
    recorded: bool


class SmsConsentUpdate(RequestBody):
    """Record consent to receive SMS given (``true``) or withdrawn (``false``), and how it was obtained."""

    given: bool
    method: Literal["verbal", "written", "form", "portal"]


class SmsConsentChange(msgspec.Struct):
    """One line of the SMS consent history: given or withdrawn, how (``sms-stop``: the person
    replied STOP), when (UTC) and by which member (null for a STOP reply)."""

    id: uuid.UUID
    given: bool
    method: str
    recorded_at: datetime.datetime
    recorded_by: uuid.UUID | None


class SmsConsentOut(msgspec.Struct):
    """The current SMS consent (false when never given), its history oldest first, and whether this
    deployment sends SMS at all (``sms_enabled`` false: Twilio is not configured, nothing is sent)."""

    patient_id: uuid.UUID
    given: bool
    history: list[SmsConsentChange]
    sms_enabled: bool


class LeadSmsConsentOut(msgspec.Struct):
    """A lead's current SMS consent (false when never given), its history oldest first, and whether
    this deployment sends SMS at all."""

    lead_id: uuid.UUID
    given: bool
    history: list[SmsConsentChange]
    sms_enabled: bool
