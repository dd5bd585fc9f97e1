"""The edge's guard against hostile input: one place every request's parameters and body pass.

Registered app-wide in :func:`anima.app.create_app` as the ``before_request`` hook
(:func:`guard_request`) and the request class (:class:`GuardedRequest`):

* :func:`guard_request` runs after routing and before any dependency: no path parameter or query
  value may hold a NUL character (``nul-character``: PostgreSQL cannot store it in text) or a lone
  surrogate (``lone-surrogate``), and percent-encoded query values must be UTF-8 (``utf-8``) —
  else 422 ``invalid-input``. The organization slug reaches the scoping statement, so this cannot
  wait.
* :meth:`GuardedRequest.json` reads the body where Litestar reads it (before dependencies, as
  Litestar refuses malformed JSON): not UTF-8 (``utf-8``), not JSON (``json``) or nested deeper
  than :data:`~anima.http.validation.MAX_DEPTH` (``max-depth``) is a 400 ``malformed-body``. It
  then checks the document against the handler's ``data`` type **strictly** (``"250"`` is not an
  integer, ``0`` is not ``false``, unknown fields are refused, NUL characters and lone surrogates
  anywhere, dates out of range) and collects every bad field.
* Those body errors are reported where Litestar validates ``data``: **after** the route's
  dependencies, so a caller who may not use the route still gets 401/403/404 first. A refused
  body is handed to Litestar as :data:`REFUSED`, which no type accepts; Litestar's validation
  error is then rendered with the guard's errors (:func:`body_errors`) instead of its own.

A body the guard accepts is converted again, leniently, by Litestar; that conversion cannot change
a value the strict one accepted.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import BodyKwarg
from litestar.serialization import default_deserializer
from litestar.types import Empty

from anima.http.validation import MAX_DEPTH, string_errors, text_errors, too_deep, validate_value
from anima.problems import InvalidInput, MalformedBody

_JSON_DECODER = msgspec.json.Decoder()


def decode_json_document(body: bytes) -> Any:
    """Decode a JSON request body; an empty body is ``None``. Strings are not judged here.

    Raises:
        MalformedBody: not UTF-8, not JSON, or nested deeper than ``MAX_DEPTH``.
    """
    if not body:
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody.because("utf-8", f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = _JSON_DECODER.decode(body)
    except RecursionError:
        raise MalformedBody.because("max-depth", f"is nested deeper than {MAX_DEPTH} levels") from None
    except msgspec.DecodeError as exc:
        raise MalformedBody.because("json", f"is not valid JSON ({exc})") from None
    if too_deep(value):
        raise MalformedBody.because("max-depth", f"is nested deeper than {MAX_DEPTH} levels")
    return value


def decode_json_body(body: bytes) -> Any:
    """:func:`decode_json_document`, then refuse NUL characters and lone surrogates in any string.

    Raises:
        MalformedBody: as :func:`decode_json_document`.
        InvalidInput: a string (or key) with a NUL character or a lone surrogate, every one named.
    """
    value = decode_json_document(body)
    errors = text_errors(value)
    if errors:
        raise InvalidInput.fields(errors)
    return value


#: scope-state key of the body errors the guard found (read by the validation exception handler)
BODY_ERRORS_KEY = "anima.body_errors"


class _Refused:
    """What Litestar gets as ``data`` when the guard refused the body: no msgspec type accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<body refused by the input guard>"


REFUSED = _Refused()


def body_errors(scope: Any) -> list[dict[str, str]]:
    """The errors of a body the guard refused in this request (empty when none)."""
    return list(scope.get("state", {}).get(BODY_ERRORS_KEY, []))


class GuardedRequest(Request[Any, Any, Any]):
    """Litestar's request whose :meth:`json` decodes safely and checks the body strictly (cached per request)."""

    async def json(self) -> Any:
        """The decoded JSON body (``None`` when empty), or :data:`REFUSED` when it breaks its schema.

        Raises:
            MalformedBody: not UTF-8, not JSON, or nested too deep.
            InvalidInput: a NUL or lone surrogate in a route that takes no typed ``data``.
        """
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                self._json = self._connection_state.json = self._judge(decode_json_document(await self.body()))
        return self._json

    def _judge(self, value: Any) -> Any:
        annotation = _json_data_type(self)
        if value is None:
            return None  # no body: Litestar reports missing data as usual
        errors = text_errors(value)
        if annotation is None:
            if errors:
                raise InvalidInput.fields(errors)
            return value
        dec_hook = partial(default_deserializer, type_decoders=self.route_handler.resolve_type_decoders())
        _, schema_errors = validate_value(value, annotation, "", lambda target, raw: dec_hook(target, raw))
        named = {e["field"] for e in errors}  # a NUL also breaks a no-control-characters pattern: say it once
        errors += [e for e in schema_errors if e["field"] not in named]
        if errors:
            self.scope.setdefault("state", {})[BODY_ERRORS_KEY] = errors
            return REFUSED
        return value


def parameter_errors(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    """NUL, lone-surrogate and non-UTF-8 errors of the path parameters and the query string."""
    errors: list[dict[str, str]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str):
            errors += string_errors(value, name)
    raw = request.scope.get("query_string", b"")
    for part in raw.split(b"&") if raw else []:
        key_raw, _, value_raw = part.partition(b"=")
        key_bytes = unquote_to_bytes(key_raw.replace(b"+", b" "))
        value_bytes = unquote_to_bytes(value_raw.replace(b"+", b" "))
        name = key_bytes.decode("utf-8", "backslashreplace").replace("\x00", "\\u0000") or "query"
        for text in (key_bytes, value_bytes):
            try:
                decoded = text.decode("utf-8")
            except UnicodeDecodeError:
                errors.append({"field": name, "rule": "utf-8", "message": "is not valid UTF-8 once percent-decoded"})
                break
            found = string_errors(decoded, name)
            if found:
                errors += found
                break
    return errors


def _json_data_type(request: Request[Any, Any, Any]) -> Any:
    """The handler's ``data`` annotation when it takes a JSON body, else ``None``."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    kwarg = field.kwarg_definition
    if isinstance(kwarg, BodyKwarg) and kwarg.media_type not in (RequestEncodingType.JSON, "application/json"):
        return None
    return field.annotation


async def guard_request(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse hostile path parameters and query values, naming each.

    Raises:
        InvalidInput: a NUL character, a lone surrogate or non-UTF-8 bytes in a parameter.
    """
    errors = parameter_errors(request)
    if errors:
        raise InvalidInput.fields(errors)
