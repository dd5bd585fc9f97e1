"""HTML forms into the same request schemas the API validates, and back into the page on error.

A page reads its form with :func:`read_form` (URL-encoded or multipart; text only, size-limited by
the application), turns the values into the domain's request schema with :func:`parse` — the same
:class:`~anima.request_body.RequestBody` types and the same strict validation as the JSON API,
after the form's own conversions (empty text is an absent value; numbers are converted only from
digits) — and on a problem re-renders the form with :class:`FormState`: what was typed, a sentence
for the page and one beside each field, in the page's language. Nothing typed is lost.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from anima.http.validation import string_errors, validate_value
from anima.problems import InvalidInput, Problem
from anima.web.problem_text import describe, field_message

#: a form field converted to an integer accepts an optional sign and digits only
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
#: the CSRF field Litestar's middleware reads; never passed on to a service
CSRF_FIELD = "_csrf_token"


@dataclass
class FormState:
    """A form as the page shows it: ``values`` typed, ``errors`` by field name, a ``message``."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    def value(self, name: str, default: Any = "") -> Any:
        """What the field ``name`` holds (as typed, or ``default``)."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.replace("\x00", "")  # a refused control character is not shown back
        return default if value is None else value

    def error(self, name: str) -> str | None:
        """The sentence beside field ``name``, or None."""
        return self.errors.get(name)

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)

    def show(self, problem: Problem, language: str) -> FormState:
        """This form with ``problem`` described in ``language`` (fields and page sentence)."""
        text = describe(problem, language)
        self.errors.update(text.fields)
        self.message = text.message
        return self


async def refuse_invalid_utf8(request: Request[Any, Any, Any]) -> None:
    """Refuse a form body whose text is not UTF-8, URL-encoded or multipart alike: a decoder would
    otherwise turn bad percent-escapes into U+FFFD silently (URL-encoded) or fail with a server
    error (a multipart text part is decoded strictly, by its declared charset or UTF-8).

    Raises:
        InvalidInput (422): naming ``body`` and the rule ``utf-8``.
    """
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        body = await request.body()
        try:
            urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise InvalidInput.field("body", "utf-8", "the form is not valid UTF-8") from None
    elif kind.startswith("multipart/form-data"):
        try:
            await request.form()
        except UnicodeDecodeError:
            raise InvalidInput.field("body", "utf-8", "a part of the form is not valid UTF-8") from None


async def read_form(request: Request[Any, Any, Any], *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The submitted form: one string per field (``lists``: every value, as a list); no CSRF field.

    Text is returned as sent; :func:`parse` refuses NUL characters and lone surrogates by field
    (multipart text as URL-encoded text; files are ignored).

    Raises:
        InvalidInput (422): the body is not UTF-8 (:func:`refuse_invalid_utf8`).
    """
    await refuse_invalid_utf8(request)
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        items = [v for v in form.getall(key) if isinstance(v, str)]
        values[key] = items if key in lists else (items[-1] if items else "")
    for key in lists:
        values.setdefault(key, [])
    return values


def parse(
    schema: type[Any],
    values: dict[str, Any],
    *,
    integers: tuple[str, ...] = (),
    booleans: tuple[str, ...] = (),
    keep_empty: tuple[str, ...] = (),
    language: str = "en",
) -> tuple[Any, FormState]:
    """``values`` as ``schema``; returns ``(body, state)`` where ``body`` is None when a field is wrong.

    Args:
        integers: fields converted from digits to ``int`` (anything else is a field error).
        booleans: checkbox fields: present means True, absent False.
        keep_empty: fields whose empty text is kept as ``""`` instead of being left out.
    """
    state = FormState(values=dict(values))
    data: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for key, value in values.items():
        texts = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        bad = [e for text in texts if isinstance(text, str) for e in string_errors(text, key)]
        if bad:
            errors += bad[:1]
            continue
        if isinstance(value, str):
            value = value.strip()
            if value == "" and key not in keep_empty:
                continue
            if key in integers:
                if not _INTEGER.match(value):
                    errors.append({"field": key, "rule": "type", "message": "must be a whole number"})
                    continue
                value = int(value)
        data[key] = value
    for key in booleans:
        data[key] = key in values and values[key] not in ("", "0", "false", "off")
    if not errors:
        body, errors = validate_value(data, schema)
        if not errors:
            return body, state
    for error in errors:
        state.errors.setdefault(error["field"], field_message(error["message"], error["rule"], language))
    state.message = describe(InvalidInput.fields(errors), language).message
    return None, state
