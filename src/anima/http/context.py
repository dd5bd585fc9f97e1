"""Per-request context: request id, client address, and the structlog context every line carries.

The middleware binds ``request_id`` (the caller's ``X-Request-ID`` when it is a sane token, a new
UUID otherwise), ``tenant`` (the organization slug the path names) and ``user`` (the subject of a
valid bearer token, verified once here and kept in the scope state for the ``claims`` dependency)
into structlog's context variables, and echoes the request id in the response.
It binds them itself because Litestar resolves dependencies in tasks of their own, whose context
changes do not reach the handler's log lines.

The client address is the socket peer, unless the peer is a configured trusted proxy
(``ANIMA_TRUSTED_PROXIES``): then it is the right-most address of ``X-Forwarded-For`` that is not
itself a trusted proxy. A client cannot spoof its address by sending the header directly.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: scope-state key of the request's verified access claims (None when absent or invalid)
CLAIMS_STATE_KEY = "access_claims"

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def parse_networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """The client's address given the socket ``peer`` and the ``X-Forwarded-For`` header value.

    Rule: walk from the peer leftwards through X-Forwarded-For while each hop is a trusted proxy;
    the first untrusted hop is the client. With no trusted proxies the header is ignored.
    """

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    current = peer or "unknown"
    if not trusted or not is_trusted(current) or not forwarded_for:
        return current
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current  # a malformed hop: stop believing the header
        current = hop
        if not is_trusted(hop):
            return hop
    return current


class RequestContextMiddleware:
    """ASGI middleware: request id, client address and structlog context for each HTTP request."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[str, ...] = (), secret_key: str | None = None) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)
        self.secret_key = secret_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        peer = scope.get("client")[0] if scope.get("client") else None
        address = client_address(peer, headers.get("x-forwarded-for"), self.trusted)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_address"] = address
        claims = self._claims(headers)
        state[CLAIMS_STATE_KEY] = claims
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id,
            tenant=_tenant_from_path(scope.get("path", "")),
            user=str(claims.user_id) if claims is not None else None,
        )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            structlog.contextvars.clear_contextvars()


    def _claims(self, headers: dict[str, str]) -> Any:
        """The verified claims of the bearer token, or None (absent or invalid).

        Verified once per request here; the ``claims`` dependency and the operator guard read the
        result from the scope state (:data:`CLAIMS_STATE_KEY`) and do the refusing.
        """
        if not self.secret_key:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        from anima.identity.tokens import InvalidToken, decode_access_token

        try:
            return decode_access_token(self.secret_key, token.strip())
        except InvalidToken:
            return None


_ORG_PATH = re.compile(r"^/api/v1/orgs/([a-z0-9-]{1,40})(?:/|$)")


def _tenant_from_path(path: str) -> str | None:
    match = _ORG_PATH.match(path)
    return match.group(1) if match else None


def bind_identity(*, tenant: str | None = None, user: str | None = None) -> None:
    """Add the tenant slug and/or user id to every following log line of this request."""
    values = {k: v for k, v in {"tenant": tenant, "user": user}.items() if v is not None}
    structlog.contextvars.bind_contextvars(**values)
