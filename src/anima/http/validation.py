"""Strict validation of request bodies that reports every bad field, in words a person reads.

msgspec stops at the first error and Litestar converts bodies leniently (``"250"`` becomes 250,
``0`` becomes ``false``). :func:`validate_value` converts the decoded JSON with ``strict=True``;
only when that fails does it walk the target type field by field (structures, lists and
dictionaries, recursively) so that each bad field gets its own ``{"field", "rule", "message"}``.
:func:`describe` turns a msgspec message into a rule and a sentence (never a raw regular
expression), :func:`text_errors` finds NUL characters and lone surrogates in any string of a
decoded document (keys included) and :func:`date_errors` dates and times outside
:data:`EARLIEST` … :data:`LATEST`.

Rules (the ``rule`` member): ``type``, ``required``, ``unknown-field``, ``length``, ``range``,
``enum``, ``format``, ``email``, ``control-characters``, ``not-blank``, ``pattern``,
``nul-character``, ``lone-surrogate``, ``max-depth`` (dates out of bounds are ``range``).
"""

from __future__ import annotations

import datetime
import re
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from anima.identity.schemas import EMAIL_PATTERN
from anima.tenancy.naming import SLUG_PATTERN

#: dates and datetimes (after conversion to UTC) a request may carry: [EARLIEST, LATEST)
EARLIEST = datetime.date(1900, 1, 1)
LATEST = datetime.date(2200, 1, 1)
#: deepest nesting of arrays and objects a JSON body may have (the deepest schema needs 4)
MAX_DEPTH = 32

Error = dict[str, str]

_CONTROL = "must not contain control characters"
#: regular expressions of our schemas, by their text, as a rule and a sentence
PATTERN_RULES: dict[str, tuple[str, str]] = {
    EMAIL_PATTERN: ("email", "must be an email address such as name@example.org"),
    SLUG_PATTERN: ("pattern", "must be 3 to 40 lowercase letters, digits or hyphens, starting and ending with a letter or digit"),
    r"^[^\x00-\x1f\x7f]+$": ("control-characters", _CONTROL),
    r"^[^\x00-\x1f\x7f<>]+$": ("control-characters", _CONTROL + " or < >"),
    r"^[^\x00-\x1f\x7f<>]*$": ("control-characters", _CONTROL + " or < >"),
    r"\S": ("not-blank", "must not be blank"),
    r"^[a-z0-9_]+$": ("pattern", "may only contain lowercase letters, digits and _"),
    r"^[A-Z]{3}$": ("pattern", "must be three capital letters (an ISO 4217 code such as EUR)"),
    r"^[A-Za-z]{3}$": ("pattern", "must be three letters (an ISO 4217 code such as EUR)"),
}

_RULES_BY_REPR = {repr(pattern): rule for pattern, rule in PATTERN_RULES.items()}  # msgspec quotes the repr
_AT = re.compile(r" - at `\$([^`]*)`$")
_TYPE = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")
_LENGTH = re.compile(r"^Expected `(str|array|object|bytes)` of length ([<>]=?) ?(\d+)$")
_RANGE = re.compile(r"^Expected `(int|float|number)` ([<>]=?|that is a multiple of) ?(.+)$")
_REGEX = re.compile(r"^Expected `str` matching regex (.*)$", re.S)
_NAMED = re.compile(r"^Object (missing required|contains unknown) field `([^`]*)`$")
_ENUM = re.compile(r"^Invalid enum value (.*)$")
_INVALID = re.compile(r"^Invalid (.+)$")

_TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "array": "an array", "object": "an object", "null": "null", "number": "a number"}
_UNITS = {"str": "characters", "array": "items", "object": "members", "bytes": "bytes"}
_COMPARE = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}


def join(path: str, key: str | int) -> str:
    """``path`` extended by an object key or an array index (``a.b``, ``a[0]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(message: str) -> tuple[str, str, str]:
    """Split a msgspec error message into ``(relative path, rule, human message)``.

    The relative path is msgspec's ``$…`` location without the ``$`` (``.a[0]``, or ``""``); a
    missing or unknown field names the field itself. Unknown shapes keep msgspec's text with rule
    ``invalid``.
    """
    at = _AT.search(message)
    where = at.group(1) if at else ""
    text = message[: at.start()] if at else message
    if m := _NAMED.match(text):
        missing = m.group(1) == "missing required"
        return (f"{where}.{m.group(2)}", "required" if missing else "unknown-field",
                "is required" if missing else "is not a field of this request")
    if m := _TYPE.match(text):
        want, got = m.groups()
        return where, "type", f"must be {_TYPE_NAMES.get(want, want)}, not {_TYPE_NAMES.get(got, got)}"
    if m := _LENGTH.match(text):
        kind, op, n = m.groups()
        if op == ">=" and n == "1":
            return where, "length", "must not be empty"
        return where, "length", f"must have {_COMPARE[op]} {n} {_UNITS[kind]}"
    if m := _RANGE.match(text):
        _, op, n = m.groups()
        if op == "that is a multiple of":
            return where, "range", f"must be a multiple of {n}"
        return where, "range", f"must be {_COMPARE[op]} {n}"
    if m := _REGEX.match(text):
        rule, human = _RULES_BY_REPR.get(m.group(1), ("pattern", "does not have the accepted format"))
        return where, rule, human
    if m := _ENUM.match(text):
        return where, "enum", f"{m.group(1)} is not one of the accepted values"
    if m := _INVALID.match(text):
        return where, "format", f"must be a valid {m.group(1).replace('RFC3339 encoded ', 'ISO 8601 ')}"
    return where, "invalid", text


def error_from(message: str, path: str) -> Error:
    """One ``{"field", "rule", "message"}`` for a msgspec message raised at ``path``."""
    rel, rule, human = describe(message)
    field = (path + rel) if rel.startswith("[") else join(path, rel.lstrip(".")) if rel else path
    return {"field": field or "body", "rule": rule, "message": human}


def _unwrap(annotation: Any) -> list[Any]:
    """The members of a union (``X | None | UnsetType``), Annotated stripped; else ``[annotation]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _struct_of(annotation: Any) -> type[msgspec.Struct] | None:
    for member in _unwrap(annotation):
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return member
    return None


def _item_type(annotation: Any, value: Any) -> tuple[str, Any] | None:
    """("list", item type) or ("dict", value type) when ``annotation`` has one for this ``value``."""
    for member in _unwrap(annotation):
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin in (list, tuple, set, frozenset) and isinstance(value, list) and args:
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                continue
            return "list", args[0]
        if origin is dict and isinstance(value, dict) and len(args) == 2:
            return "dict", args[1]
    return None


def validate_value(
    value: Any, annotation: Any, path: str = "", dec_hook: Callable[[type, Any], Any] | None = None
) -> tuple[Any, list[Error]]:
    """Convert ``value`` (decoded JSON) to ``annotation`` strictly; report every bad field.

    Returns:
        ``(converted, [])`` on success, ``(None, errors)`` otherwise; each error names the field
        by its dotted path (``clinical.risk_notes``, ``tags[2]``) relative to ``path``.
    """
    try:
        converted = msgspec.convert(value, annotation, strict=True, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        return None, _field_errors(value, annotation, path, str(exc), dec_hook)
    return converted, date_errors(converted, path)


def _field_errors(
    value: Any, annotation: Any, path: str, first: str, dec_hook: Callable[[type, Any], Any] | None
) -> list[Error]:
    struct = _struct_of(annotation)
    if struct is not None and isinstance(value, dict):
        errors: list[Error] = []
        fields = msgspec.structs.fields(struct)
        names = {f.encode_name for f in fields}
        for field in fields:
            if field.encode_name in value:
                errors += validate_value(value[field.encode_name], field.type, join(path, field.encode_name), dec_hook)[1]
            elif field.required:
                errors.append({"field": join(path, field.encode_name), "rule": "required", "message": "is required"})
        if struct.__struct_config__.forbid_unknown_fields:
            errors += [
                {"field": join(path, str(key)), "rule": "unknown-field", "message": "is not a field of this request"}
                for key in value if key not in names
            ]
        if errors:
            return errors
    container = _item_type(annotation, value)
    if container is not None:
        kind, item_type = container
        items = enumerate(value) if kind == "list" else value.items()
        nested = [e for key, item in items for e in validate_value(item, item_type, join(path, key), dec_hook)[1]]
        # msgspec blames the container itself (its length) with no location: keep that error
        if nested and describe(first)[0]:
            return nested
    return [error_from(first, path)]


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _walk(getattr(value, name), join(path, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, join(path, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, join(path, index))


def _bad_day(item: datetime.date) -> bool:
    if isinstance(item, datetime.datetime):
        try:
            day = item.astimezone(datetime.UTC).date() if item.tzinfo else item.date()
        except OverflowError:
            return True
    else:
        day = item
    return not EARLIEST <= day < LATEST


def _any_bad_date(value: Any) -> bool:
    if isinstance(value, datetime.date):
        return _bad_day(value)
    if isinstance(value, msgspec.Struct):
        return any(_any_bad_date(getattr(value, name)) for name in value.__struct_fields__)
    if isinstance(value, dict):
        return any(_any_bad_date(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_any_bad_date(item) for item in value)
    return False


def date_errors(value: Any, path: str = "") -> list[Error]:
    """Dates and datetimes in ``value`` outside [:data:`EARLIEST`, :data:`LATEST`) (datetimes in UTC).

    An aware datetime whose offset pushes it past year 9999 in UTC (``9999-12-31T23:59:59-14:00``)
    is refused here instead of overflowing later in Python or PostgreSQL.
    """
    if not _any_bad_date(value):
        return []  # the common case, without building a path for every value
    errors: list[Error] = []
    message = f"must lie between {EARLIEST.isoformat()} and {(LATEST - datetime.timedelta(days=1)).isoformat()}"
    for where, item in _walk(value, path):
        if isinstance(item, datetime.date) and _bad_day(item):
            errors.append({"field": where or "body", "rule": "range", "message": message})
    return errors


def text_errors(value: Any, path: str = "", depth: int = 0) -> list[Error]:
    """NUL characters, lone surrogates and nesting deeper than :data:`MAX_DEPTH` in decoded JSON.

    Every string is checked, object keys too. PostgreSQL cannot store U+0000 in text and a lone
    surrogate (U+D800–U+DFFF) is not encodable as UTF-8, so neither may reach a service.
    """
    if depth == 0 and _clean(value, 0):
        return []  # the common case, without building a path for every value
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        return [{"field": path or "body", "rule": "max-depth", "message": f"is nested deeper than {MAX_DEPTH} levels"}]
    if isinstance(value, str):
        return string_errors(value, path or "body")
    errors: list[Error] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = join(path, str(key).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000"))
            errors += string_errors(str(key), where) if isinstance(key, str) else []
            errors += text_errors(item, where, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors += text_errors(item, join(path, index), depth + 1)
    return errors


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(text: str) -> bool:
    return "\x00" not in text and (text.isascii() or not _SURROGATE.search(text))


def _clean(value: Any, depth: int) -> bool:
    """No NUL, no lone surrogate, no nesting beyond MAX_DEPTH (no paths built)."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return depth < MAX_DEPTH and all(
            (not isinstance(k, str) or _clean_text(k)) and _clean(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return depth < MAX_DEPTH and all(_clean(v, depth + 1) for v in value)
    return True


def too_deep(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` has an array or object nested :data:`MAX_DEPTH` or more levels below the top."""
    if isinstance(value, dict):
        return depth >= MAX_DEPTH or any(too_deep(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return depth >= MAX_DEPTH or any(too_deep(v, depth + 1) for v in value)
    return False


def string_errors(text: str, field: str) -> list[Error]:
    """The NUL / lone-surrogate errors of one string named ``field`` (empty when clean)."""
    errors = []
    if "\x00" in text:
        errors.append({"field": field, "rule": "nul-character", "message": "must not contain the NUL character (U+0000)"})
    if _SURROGATE.search(text):
        errors.append({"field": field, "rule": "lone-surrogate", "message": "must not contain a lone UTF-16 surrogate"})
    return errors
