"""Bodies of the journal API.

A ``note`` carries ``html`` (rich text, sanitized on arrival, at most :data:`MAX_HTML_BYTES`
bytes of UTF-8 before sanitizing); the other kinds carry ``data``, a JSON object of at most
:data:`MAX_DATA_BYTES` bytes (form answers, an audio reference such as ``{"uri": ..., "seconds": ...}``,
or an AI analysis). ``occurred_at`` defaults to now.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import msgspec

from anima.request_body import RequestBody

MAX_HTML_BYTES = 100 * 1024
MAX_DATA_BYTES = 64 * 1024

Kind = Literal["note", "form_submission", "audio_reference", "ai_analysis"]
Visibility = Literal["private", "shared"]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class EntryCreate(RequestBody):
    kind: Kind
    visibility: Visibility = "private"
    html: str | None = None
    data: dict[str, Any] | None = None
    occurred_at: datetime.datetime | None = None


class EntryUpdate(RequestBody, omit_defaults=True):
    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET
    html: str | msgspec.UnsetType = msgspec.UNSET
    data: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    occurred_at: datetime.datetime | msgspec.UnsetType = msgspec.UNSET


class AmendmentCreate(RequestBody):
    reason: Reason
    html: str | None = None
    data: dict[str, Any] | None = None


class AmendmentOut(msgspec.Struct):
    id: uuid.UUID
    author_id: uuid.UUID
    created_at: datetime.datetime
    reason: str
    html: str | None
    data: dict[str, Any] | None


class EntryOut(msgspec.Struct):
    """An entry as signed or written; ``amendments`` in order; ``html_sanitized`` tells whether the
    sanitizer changed the submitted HTML (only on the write that submitted it)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    author_id: uuid.UUID
    kind: str
    visibility: str
    occurred_at: datetime.datetime
    html: str | None
    data: dict[str, Any] | None
    signed_at: datetime.datetime | None
    amendments: list[AmendmentOut]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    html_sanitized: bool = False
