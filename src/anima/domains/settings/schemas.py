"""Bodies of the practice settings API."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

PeopleLabel = Literal["Patient", "Client", "Consultant"]
Locale = Literal["en", "es", "ca", "it"]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Madrid")]


class SettingsOut(msgspec.Struct):
    people_label: str
    locale: str
    timezone: str
    updated_at: datetime.datetime


class SettingsUpdate(RequestBody, omit_defaults=True):
    people_label: PeopleLabel | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType = msgspec.UNSET


class MailFromUpdate(RequestBody):
    """The organization's sending address (null or empty: none, the platform's address is used)."""

    address: Annotated[str, msgspec.Meta(max_length=254, description="an email address such as hola@practice.example")] | None
