"""The domain event types: one closed list, so a typo in an emitter fails at once.

An event's payload carries identifiers and non-clinical facts only (ids, statuses, a risk level),
never clinical text: the outbox table is not encrypted and owners read the event log.
"""

from __future__ import annotations

import enum


class EventType(enum.StrEnum):
    """Every event a domain emits. Playbook triggers name one of these."""

    PATIENT_CREATED = "PATIENT_CREATED"
    JOURNAL_ENTRY_CREATED = "JOURNAL_ENTRY_CREATED"
    RISK_DETECTED_IN_NOTE = "RISK_DETECTED_IN_NOTE"
    FORM_SUBMISSION_COMPLETED = "FORM_SUBMISSION_COMPLETED"
    PAYMENT_REQUESTED = "PAYMENT_REQUESTED"
    PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    BOOKING_CONFIRMED = "BOOKING_CONFIRMED"
    BOOKING_COMPLETED = "BOOKING_COMPLETED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    JOURNEY_STAGE_TIMEOUT = "JOURNEY_STAGE_TIMEOUT"
    AI_ANALYSIS_REQUESTED = "AI_ANALYSIS_REQUESTED"
    BOOKING_HELD = "BOOKING_HELD"
    BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
    BOOKING_NO_SHOW = "BOOKING_NO_SHOW"
    WAITLIST_OFFERED = "WAITLIST_OFFERED"
    LEAD_CREATED = "LEAD_CREATED"
    LEAD_STAGE_CHANGED = "LEAD_STAGE_CHANGED"
    LEAD_CONVERTED = "LEAD_CONVERTED"
    #: a lead not contacted for over 7 days (the ghost detector), once per quiet spell
    LEAD_GHOSTED = "LEAD_GHOSTED"
    #: a confirmed booking starts in ``hours_before`` hours (the "before the session" trigger)
    BOOKING_UPCOMING = "BOOKING_UPCOMING"


EVENT_TYPES = frozenset(EventType)
