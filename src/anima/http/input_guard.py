"""The edge's guard against hostile input: one place every request's parameters and body pass.

Registered app-wide in :func:`anima.app.create_app` as the request class (:class:`GuardedRequest`)
and the ``before_request`` hook (:func:`guard_request`), which Litestar runs after routing and
before any dependency or handler, so nothing below sees what is refused here:

* the JSON body must be UTF-8 (rule ``utf-8``), JSON (``json``) and nested at most
  :data:`~anima.http.validation.MAX_DEPTH` levels (``max-depth``) — else 400 ``malformed-body``;
* no string anywhere in the body (keys included), the query string or the path parameters may hold
  a NUL character (``nul-character``: PostgreSQL cannot store it in text) or a lone surrogate
  (``lone-surrogate``); percent-encoded query values must be UTF-8 (``utf-8``);
* the body is converted **strictly** to the handler's ``data`` type (``"250"`` is not an integer,
  ``0`` is not ``false``; unknown fields are refused) and every bad field is reported at once,
  as are dates outside the accepted range (``range``) — else 422 ``invalid-input``.

Litestar then converts the (already valid) body again for the handler; that second, lenient
conversion cannot change a value the strict one accepted.
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

from anima.http.validation import MAX_DEPTH, string_errors, text_errors, validate_value
from anima.problems import InvalidInput, MalformedBody

_JSON_DECODER = msgspec.json.Decoder()


def decode_json_body(body: bytes) -> Any:
    """Decode a JSON request body safely; an empty body is ``None``.

    Raises:
        MalformedBody: not UTF-8, not JSON, or nested deeper than ``MAX_DEPTH``.
        InvalidInput: a string (or key) with a NUL character or a lone surrogate, every one named.
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
    errors = text_errors(value)
    if any(e["rule"] == "max-depth" for e in errors):
        raise MalformedBody.because("max-depth", f"is nested deeper than {MAX_DEPTH} levels")
    if errors:
        raise InvalidInput.fields(errors)
    return value


class GuardedRequest(Request[Any, Any, Any]):
    """Litestar's request whose :meth:`json` decodes with :func:`decode_json_body` (cached per request)."""

    async def json(self) -> Any:
        """The decoded JSON body (``None`` when empty); raises what :func:`decode_json_body` raises."""
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                self._json = self._connection_state.json = decode_json_body(await self.body())
        return self._json


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
    """``before_request`` hook: refuse hostile parameters and bodies, naming every bad field.

    Raises:
        InvalidInput: bad parameters, or a body that breaks its schema (strictly), every field named.
        MalformedBody: a body that is not UTF-8 JSON of sane depth.
    """
    errors = parameter_errors(request)
    if errors:
        raise InvalidInput.fields(errors)
    annotation = _json_data_type(request)
    if annotation is None:
        return
    value = await request.json()
    if value is None:
        return  # no body: Litestar reports the missing data as usual
    dec_hook = partial(default_deserializer, type_decoders=request.route_handler.resolve_type_decoders())
    _, errors = validate_value(value, annotation, "", lambda target, raw: dec_hook(target, raw))
    if errors:
        raise InvalidInput.fields(errors)
