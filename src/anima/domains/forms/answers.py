"""Answers to a form, validated per field type; every error names the field by its key.

:func:`validate_answers` takes what a person sent (the public page's form: a string per field, a
list for multiple choice; text exactly as received) and returns the typed answers:

==================  =============================================  ===========================
type                accepted                                       stored as
==================  =============================================  ===========================
short_text          at most :data:`MAX_SHORT` characters, one line  ``str`` (trimmed)
long_text           at most :data:`MAX_LONG` characters            ``str`` (trimmed)
email               an address (``local@domain.tld``), ≤ 254        ``str`` (lower-cased domain)
phone               a number with its country code (phonenumbers)  ``str`` E.164 (``+34…``)
date                ``YYYY-MM-DD``, years 1900–2100                ``str`` ISO date
single_choice       one option value                               ``str``
multiple_choice     option values, each once                       ``list[str]``
scale               a whole number within the scale                ``int``
yes_no              ``yes`` or ``no``                              ``bool``
consent             ``yes`` (given); required means it must be     ``bool``
section             nothing (a heading)                            —
==================  =============================================  ===========================

Empty answers are absent; a required field left empty is an error (rule ``required``). Text with
NUL characters or lone surrogates, unknown keys, wrong types and answers over a field's size are
errors (``nul-character``, ``lone-surrogate``, ``unknown-field``, ``type``, ``max-length``). The
whole submission is at most :data:`MAX_SUBMISSION_BYTES` of JSON (:class:`SubmissionTooLarge`).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import msgspec
import phonenumbers

from anima.domains.forms.definitions import FieldDef, FormDefinition
from anima.http.validation import string_errors
from anima.problems import InvalidInput, Problem

MAX_SHORT = 500
MAX_LONG = 5000
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_SUBMISSION_BYTES = 48 * 1024
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_SCALE = re.compile(r"^[+-]?\d{1,4}$")
_YES = frozenset({"yes", "on", "true", "1"})
_NO = frozenset({"no", "false", "0"})


class SubmissionTooLarge(Problem):
    """413: the answers together exceed :data:`MAX_SUBMISSION_BYTES`."""

    status, kind, title = 413, "payload-too-large", "Payload too large"


Error = dict[str, str]


def _err(key: str, rule: str, message: str) -> Error:
    return {"field": key, "rule": rule, "message": message}


def _limit(f: FieldDef) -> int:
    return {"long_text": MAX_LONG, "email": MAX_EMAIL, "phone": MAX_PHONE}.get(f.type, MAX_SHORT)


def _one(f: FieldDef, raw: Any) -> tuple[Any, Error | None]:
    """(typed answer or None when empty, error)."""
    key = f.key
    if f.type == "multiple_choice":
        items = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else None
        if items is None or not all(isinstance(i, str) for i in items):
            return None, _err(key, "type", "must be a list of option values")
        items = [i.strip() for i in items if i.strip()]
        if not items:
            return None, None
        allowed = {o.value for o in f.options}
        if any(i not in allowed for i in items):
            return None, _err(key, "choice", "choose among the options offered")
        if len(set(items)) != len(items):
            return None, _err(key, "unique", "each option once")
        return items, None
    if not isinstance(raw, str):
        return None, _err(key, "type", "must be text")
    if len(raw) > _limit(f):
        return None, _err(key, "max-length", f"at most {_limit(f)} characters")
    text = raw.strip()
    if not text:
        return None, None
    if f.type == "short_text":
        if "\n" in text or "\r" in text:
            return None, _err(key, "one-line", "must be one line")
        return text, None
    if f.type == "long_text":
        return text, None
    if f.type == "email":
        if not _EMAIL.match(text):
            return None, _err(key, "email", "must be an email address like name@example.com")
        local, domain = text.rsplit("@", 1)
        return f"{local}@{domain.lower()}", None
    if f.type == "phone":
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            return None, _err(key, "phone", "must be a phone number with its country code, like +34 600 000 000")
        if not phonenumbers.is_possible_number(number):
            return None, _err(key, "phone", "must be a phone number with its country code, like +34 600 000 000")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    if f.type == "date":
        try:
            day = datetime.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is None:
            return None, _err(key, "date", "must be a date as YYYY-MM-DD")
        if not 1900 <= day.year <= 2100:
            return None, _err(key, "date-range", "must be a date between 1900 and 2100")
        return day.isoformat(), None
    if f.type == "single_choice":
        if text not in {o.value for o in f.options}:
            return None, _err(key, "choice", "choose one of the options offered")
        return text, None
    if f.type == "scale":
        if not _SCALE.match(text):
            return None, _err(key, "type", "must be a whole number")
        value = int(text)
        if not f.scale_min <= value <= f.scale_max:
            return None, _err(key, "range", f"must be between {f.scale_min} and {f.scale_max}")
        return value, None
    if f.type in ("yes_no", "consent"):
        low = text.lower()
        if low in _YES:
            return True, None
        if low in _NO:
            return (None if f.type == "consent" else False), None
        return None, _err(key, "type", "answer yes or no")
    return None, _err(key, "not-answered", "a section heading takes no answer")


def _texts(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [i for i in raw if isinstance(i, str)]
    return []


def validate_answers(definition: FormDefinition, raw: dict[str, Any]) -> tuple[dict[str, Any], list[Error]]:
    """The typed answers of ``raw`` (field key → value) and every error, each naming its field key.

    Raises:
        SubmissionTooLarge (413): the submission as a whole is too large (checked first).
    """
    try:
        size = len(msgspec.json.encode(raw))
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError):
        size = 0  # lone surrogates: reported per field below
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionTooLarge(
            f"the answers are limited to {MAX_SUBMISSION_BYTES} bytes together",
            errors=[_err("answers", "max-size", f"at most {MAX_SUBMISSION_BYTES} bytes of answers")],
        )
    fields = {f.key: f for f in definition.fields}
    errors: list[Error] = [_err(k, "unknown-field", "this form has no such field") for k in raw if k not in fields]
    answers: dict[str, Any] = {}
    for f in definition.fields:
        if f.type == "section":
            continue
        value = raw.get(f.key)
        bad = [e for t in _texts(value) for e in string_errors(t, f.key)]
        if bad:
            errors.append(bad[0])
            continue
        typed, error = (None, None) if value is None else _one(f, value)
        if error:
            errors.append(error)
        elif typed is None:
            if f.required:
                errors.append(_err(f.key, "required", "this question needs an answer" if f.type != "consent" else "consent is needed to send the form"))
        else:
            answers[f.key] = typed
    return answers, errors


def check_answers(definition: FormDefinition, raw: dict[str, Any]) -> dict[str, Any]:
    """:func:`validate_answers`, raising the errors.

    Raises:
        InvalidInput (422): every bad answer, each named ``answers.<key>``.
        SubmissionTooLarge (413): the whole submission is too large.
    """
    answers, errors = validate_answers(definition, raw)
    if errors:
        raise InvalidInput.fields([{**e, "field": f"answers.{e['field']}"} for e in errors])
    return answers


def person_details(definition: FormDefinition, answers: dict[str, Any]) -> dict[str, str]:
    """The person details the mapped fields answered: ``first_name``, ``last_name``, ``email``,
    ``phone`` (E.164), ``birth_date`` (ISO), ``language`` — only those answered."""
    out: dict[str, str] = {}
    for f in definition.fields:
        if f.maps_to and f.key in answers:
            out[f.maps_to] = str(answers[f.key])
    return out


def free_text(definition: FormDefinition, answers: dict[str, Any]) -> str:
    """The free-text answers (short and long text), one per line: what the risk detector screens."""
    return "\n".join(
        str(answers[f.key]) for f in definition.fields
        if f.type in ("short_text", "long_text") and f.maps_to is None and f.key in answers
    )
