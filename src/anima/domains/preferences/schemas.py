"""Request and response bodies of the notification preferences."""

from __future__ import annotations

import msgspec

from anima.request_body import RequestBody


class PreferencesIn(RequestBody):
    """Every switch, each a JSON boolean (no coercion from strings or numbers)."""

    new_booking: bool
    cancellation: bool
    risk_alert: bool
    new_lead: bool


class PreferencesOut(msgspec.Struct):
    """A member's switches and whether they are still the role's defaults (``is_default``)."""

    new_booking: bool
    cancellation: bool
    risk_alert: bool
    new_lead: bool
    is_default: bool
