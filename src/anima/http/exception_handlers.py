"""Rendering errors as RFC 9457 problem details: the application's exception handlers.

Every error body is ``application/problem+json`` (see :mod:`anima.problems` for the members).
Domain :class:`~anima.problems.Problem` s, Litestar's own validation errors and HTTP exceptions,
and unexpected errors (logged by type and place only, answered as a bare 500) are converted here.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from anima.logs import get_logger
from anima.problems import MEDIA_TYPE, TYPE_BASE, Problem

log = get_logger(__name__)


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """Build a problem+json response; ``instance`` is the request path, ``request_id`` echoes the header."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    if extra:  # more members, never replacing a standard one (``status`` stays the HTTP status)
        body.update({key: value for key, value in extra.items() if key not in body and key != "errors"})
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _handle_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=exc.status,
        kind=exc.kind,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        extra=exc.extra,
        headers=exc.headers,
    )


_MSGSPEC_PATH = re.compile(r"at `\$\.?([^`]*)`")
_MSGSPEC_FIELD = re.compile(r"(missing required|unknown) field `([^`]*)`")


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    extra = exc.extra if isinstance(exc.extra, list) else ([exc.extra] if exc.extra else [])
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        key = item.get("key")
        field = str(key) if key else ""
        match = _MSGSPEC_PATH.search(message)
        if match:
            field = match.group(1) or field
            message = _MSGSPEC_PATH.sub("", message).strip(" -")
        named = _MSGSPEC_FIELD.search(message)
        if named:
            field = (f"{field}." if field and field != "data" else "") + named.group(2)
        lowered = message.lower()
        if "unknown field" in lowered:
            rule = "unknown-field"
        elif "required" in lowered or "missing" in lowered:
            rule = "required"
        elif "length" in lowered:
            rule = "length"
        elif "regex" in lowered or "pattern" in lowered:
            rule = "pattern"
        elif "invalid enum" in lowered or "one of" in lowered:
            rule = "enum"
        elif any(op in message for op in (">=", "<=", "> ", "< ")):
            rule = "range"
        elif "expected" in lowered:
            rule = "type"
        else:
            rule = "invalid"
        out.append({"field": field or str(item.get("source", "body")), "rule": rule, "message": message})
    return out


def _handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = _validation_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    return problem_response(
        request, status=422 if errors else 400, kind="invalid-input", title="Invalid input", detail=detail, errors=errors
    )


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    kinds = {
        NotAuthorizedException: ("unauthorized", "Authentication required"),
        PermissionDeniedException: ("forbidden", "Not allowed"),
    }
    kind, title = kinds.get(type(exc), (None, None))
    if kind is None:
        kind = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large", 415: "unsupported-media-type"}.get(
            exc.status_code, "http-error"
        )
        title = str(exc.detail) if exc.status_code < 500 else "Internal server error"
    return problem_response(
        request,
        status=exc.status_code,
        kind=kind,
        title=title or "Error",
        detail=str(exc.detail) if exc.status_code < 500 else "Internal server error",
        headers=exc.headers,
    )


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # the exception's message may quote data (a driver's "Key (email)=(…)", a value that failed to
    # parse): log its type and where it was raised, never its text or local variables
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    log.error(
        "unhandled error",
        error_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
        where=[f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames],
    )
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        kind="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged with this request's id.",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: _handle_problem,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    Exception: _handle_unexpected,
}
