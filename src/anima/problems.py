"""The problems a service can raise: typed errors with an HTTP status, knowing nothing of HTTP.

Services, ``crypto`` and jobs raise :class:`Problem` subclasses; the web layer
(:mod:`anima.http.exception_handlers`) renders them as RFC 9457 ``application/problem+json`` with
``type`` (:data:`TYPE_BASE` + ``kind``), ``title``, ``status``, ``detail`` and, for invalid input,
``errors``: a list of ``{"field", "rule", "message"}`` so a client can point at the field and the
rule it broke.
"""

from __future__ import annotations

from typing import Any

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://anima.example/problems/"


class Problem(Exception):
    """An error with an HTTP status, a short stable ``kind`` (the type URI's last part) and details.

    Args:
        detail: human-readable explanation of this occurrence.
        errors: per-field errors ``{"field", "rule", "message"}``.
        extra: more members of the problem object (for example a limit and its usage).
    """

    status: int = 400
    kind: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)


#: members of every problem object; ``extra`` never overwrites them (``status`` is the HTTP code)
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id", "errors"})


class InvalidInput(Problem):
    """422: one or more fields broke a rule; ``errors`` names each (``field``, ``rule``, ``message``)."""

    status, kind, title = 422, "invalid-input", "Invalid input"

    @classmethod
    def field(cls, field: str, rule: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", errors=[{"field": field, "rule": rule, "message": message}])

    @classmethod
    def fields(cls, errors: list[dict[str, str]]) -> InvalidInput:
        """Every error at once; the detail names each field and what it broke."""
        return cls("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


class MalformedBody(Problem):
    """400: the body cannot be read as JSON at all (not UTF-8, not JSON, nested too deep)."""

    status, kind, title = 400, "malformed-body", "Malformed request body"

    @classmethod
    def because(cls, rule: str, message: str) -> MalformedBody:
        return cls(f"body: {message}", errors=[{"field": "body", "rule": rule, "message": message}])


class Unauthorized(Problem):
    status, kind, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="anima"'})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status, kind, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, kind, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, kind, title = 409, "conflict", "Conflict"


class TenantUnavailable(Problem):
    status, kind, title = 403, "organization-suspended", "Organization suspended"


class TooManyRequests(Problem):
    status, kind, title = 429, "rate-limited", "Too many requests"


class LimitReached(Problem):
    status, kind, title = 403, "plan-limit-reached", "Plan limit reached"
