"""Browser sessions: the API's auth sessions and refresh rotation, carried in cookies.

A browser logs in through the same :func:`anima.identity.sessions.login` as the API and keeps the
same token pair, in two cookies, both ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and, in
production, ``Secure`` with the ``__Host-`` prefix (RFC 6265bis §4.1.3.2: no Domain, Secure, Path=/):

* the access cookie holds the access token (JWT, 10 minutes);
* the refresh cookie holds the single-use refresh token, until the session's absolute expiry.

:class:`BrowserSessionMiddleware` runs on every page route. A valid access cookie gives the
request its claims; an expired or missing one is renewed by rotating the refresh token
(:func:`anima.identity.sessions.refresh`), and the new cookies go out with the response. The idle
(30 minutes) and absolute (12 hours) timeouts are the API's. Because a browser sends requests in
parallel, a refresh token presented again within :data:`REUSE_GRACE` of its rotation is answered
with a new access token for the same live session instead of revoking it; later reuse still
revokes the whole session. A page answering 404 to a browser whose session has ended (logged out
everywhere, revoked) sends it to the login page instead, with its cookies cleared: the
organization was not found only because nobody is signed in. Cookies are never read on ``/api`` routes: the JSON API takes bearer
tokens only, so it needs no CSRF protection.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from anima.identity import sessions
from anima.identity.schemas import TokenPair
from anima.identity.tokens import ACCESS_TTL, AccessClaims, InvalidToken, decode_access_token, issue_access_token
from anima.logs import get_logger
from anima.problems import Unauthorized
from anima.runtime import runtime_of

log = get_logger(__name__)

#: a refresh token presented again this soon after its rotation is a parallel request, not theft
REUSE_GRACE = datetime.timedelta(seconds=20)
#: where the middleware leaves the claims of a signed-in browser
BROWSER_CLAIMS_KEY = "browser_claims"


class LoginRequired(Unauthorized):
    """401 on a page: nobody is signed in (or the session ended); pages answer with the login page."""


def cookie_names(production: bool) -> tuple[str, str]:
    """The access and refresh cookie names (``__Host-`` prefixed in production)."""
    prefix = "__Host-" if production else ""
    return f"{prefix}anima_access", f"{prefix}anima_refresh"


def session_cookies(pair: TokenPair | None, *, production: bool, access_token: str | None = None) -> list[Cookie]:
    """The cookies carrying ``pair`` (or only ``access_token``); with neither, cookies that clear both."""
    access_name, refresh_name = cookie_names(production)
    common: dict[str, Any] = {"path": "/", "httponly": True, "samesite": "lax", "secure": production}
    if pair is None and access_token is None:
        return [Cookie(key=name, value="", max_age=0, **common) for name in (access_name, refresh_name)]
    access = pair.access_token if pair is not None else access_token
    out = [Cookie(key=access_name, value=access, max_age=int(ACCESS_TTL.total_seconds()), **common)]
    if pair is not None:
        remaining = pair.session_expires_at - datetime.datetime.now(datetime.UTC)
        out.append(Cookie(key=refresh_name, value=pair.refresh_token, max_age=max(int(remaining.total_seconds()), 0), **common))
    return out


class BrowserSessionMiddleware:
    """ASGI middleware of page routes: verify the access cookie, renew it from the refresh cookie.

    Leaves the claims in ``scope["state"][BROWSER_CLAIMS_KEY]`` (absent when nobody is signed in)
    and adds the renewed (or cleared) cookies to the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = runtime_of(scope["litestar_app"].state)
        settings = runtime.settings
        access_name, refresh_name = cookie_names(settings.is_production)
        request: Request[Any, Any, Any] = Request(scope)
        cookies = request.cookies
        claims: AccessClaims | None = None
        outgoing: list[Cookie] = []
        if token := cookies.get(access_name):
            try:
                claims = decode_access_token(settings.secret_key, token)
            except InvalidToken:
                claims = None
        if claims is None and (refresh_token := cookies.get(refresh_name)):
            claims, outgoing = await self._renew(runtime, refresh_token, production=settings.is_production)
        if claims is not None:
            scope.setdefault("state", {})[BROWSER_CLAIMS_KEY] = claims
        if not outgoing and claims is None:
            await self.app(scope, receive, send)
            return
        signed_out = False

        async def send_with_cookies(message: Message) -> None:
            nonlocal signed_out
            if message["type"] == "http.response.start":
                if message["status"] == 404 and claims is not None and await self._ended(runtime, claims):
                    # the organization was "not found" because the session has ended: sign in again
                    signed_out = True
                    target = "/login?next=" + quote(scope.get("path", "/"), safe="/")
                    message = {"type": "http.response.start", "status": 303, "headers": [(b"location", target.encode())]}
                    outgoing[:] = session_cookies(None, production=settings.is_production)
                headers = MutableScopeHeaders.from_message(message)
                for cookie in outgoing:
                    headers.add("set-cookie", cookie.to_header(header=""))
            elif message["type"] == "http.response.body" and signed_out:
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app(scope, receive, send_with_cookies)

    @staticmethod
    async def _ended(runtime: Any, claims: AccessClaims) -> bool:
        """Whether the auth session of ``claims`` has ended (logged out, revoked or expired)."""
        async with runtime.sessionmaker() as db:
            try:
                await sessions.live_user(db, user_id=claims.user_id, session_id=claims.session_id)
            except Unauthorized:
                return True
            finally:
                await db.rollback()
        return False

    @staticmethod
    async def _renew(runtime: Any, refresh_token: str, *, production: bool) -> tuple[AccessClaims | None, list[Cookie]]:
        """Rotate ``refresh_token``: the new claims and cookies, or no claims and cookies that clear."""
        secret = runtime.settings.secret_key
        async with runtime.sessionmaker() as db:
            try:
                result = await sessions.refresh(db, token=refresh_token[:128], secret=secret, reuse_grace=REUSE_GRACE)
                await db.commit()
            except Unauthorized:
                await db.rollback()
                return None, session_cookies(None, production=production)
        if isinstance(result, sessions.RefreshedConcurrently):
            access, _ = issue_access_token(
                secret, user_id=result.user_id, session_id=result.session_id, is_operator=result.is_operator
            )
            return decode_access_token(secret, access), session_cookies(None, production=production, access_token=access)
        return decode_access_token(secret, result.access_token), session_cookies(result, production=production)


def browser_claims(request: Request[Any, Any, Any]) -> AccessClaims | None:
    """The signed-in browser's claims, or None."""
    return request.scope.get("state", {}).get(BROWSER_CLAIMS_KEY)


async def provide_browser_claims(request: Request[Any, Any, Any]) -> AccessClaims:
    """``claims`` on page routes: from the session cookies; :class:`LoginRequired` when signed out."""
    claims = browser_claims(request)
    if claims is None:
        raise LoginRequired("sign in to continue")
    return claims
