"""Google's OAuth 2.0 and Calendar API through authlib's httpx ``AsyncOAuth2Client``.

Endpoints (``GOOGLE_OAUTH_BASE`` / ``GOOGLE_API_BASE`` replace the origins for a stub):

* authorization ``https://accounts.google.com/o/oauth2/v2/auth`` — authorization code with PKCE
  (RFC 7636, ``S256``), ``access_type=offline`` and ``prompt=consent`` so that a refresh token
  is issued; token ``https://oauth2.googleapis.com/token``; revocation
  ``https://oauth2.googleapis.com/revoke`` (RFC 7009);
* Calendar API v3 ``/calendar/v3/freeBusy`` and ``/calendar/v3/calendars/{id}/events[/{eventId}]``.

Every failure becomes :class:`GoogleError` (``retryable`` for timeouts, connection errors, 429
and 5xx) or :class:`GoogleRevoked` (Google refused the refresh token: the therapist reconnects).
Nothing here logs a token.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from anima.config import Settings

#: what a connection may do: create/change/delete events, and read busy times
SCOPES = ("https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.freebusy")
#: seconds one call to Google may take (a slot search waits at most this for FreeBusy)
TIMEOUT = 5.0


class GoogleError(Exception):
    """A call to Google failed: ``status`` (None without an HTTP answer), ``retryable``."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class GoogleRevoked(GoogleError):
    """Google refused the refresh token (revoked or expired): the therapist must reconnect."""

    def __init__(self, message: str = "Google refused the refresh token; reconnect the account") -> None:
        super().__init__(message, status=400, retryable=False)


@dataclass(frozen=True)
class Endpoints:
    """The URLs of one deployment (real Google, or a stub)."""

    authorize: str
    token: str
    revoke: str
    api: str

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        """Google's, or those under ``GOOGLE_OAUTH_BASE`` / ``GOOGLE_API_BASE``."""
        oauth = settings.google_oauth_base
        return cls(
            authorize=f"{oauth}/o/oauth2/v2/auth" if oauth else "https://accounts.google.com/o/oauth2/v2/auth",
            token=f"{oauth}/token" if oauth else "https://oauth2.googleapis.com/token",
            revoke=f"{oauth}/revoke" if oauth else "https://oauth2.googleapis.com/revoke",
            api=(settings.google_api_base or "https://www.googleapis.com") + "/calendar/v3",
        )


@dataclass(frozen=True)
class Tokens:
    """Tokens Google issued: ``expires_at`` aware UTC; ``refresh_token`` None when not reissued."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime.datetime
    scope: str


def _oauth(settings: Settings, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        settings.google_client_id, settings.google_client_secret, scope=" ".join(SCOPES), redirect_uri=redirect_uri,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_post", timeout=TIMEOUT,
    )


def _tokens(raw: dict[str, Any], now: datetime.datetime) -> Tokens:
    try:
        access = str(raw["access_token"])
        seconds = int(raw.get("expires_in") or 3600)
    except (KeyError, TypeError, ValueError):
        raise GoogleError("Google's token answer has no access token", retryable=False) from None
    return Tokens(access, raw.get("refresh_token"), now + datetime.timedelta(seconds=max(0, seconds)), str(raw.get("scope") or ""))


def authorization_url(settings: Settings, redirect_uri: str, state: str, code_verifier: str) -> str:
    """Google's consent URL for ``state`` with the S256 challenge of ``code_verifier``."""
    client = _oauth(settings, redirect_uri)
    url, _ = client.create_authorization_url(
        Endpoints.of(settings).authorize, state=state, code_verifier=code_verifier, access_type="offline", prompt="consent",
        include_granted_scopes="true",
    )
    return url


async def _token_call(call: Any, now: datetime.datetime) -> Tokens:
    try:
        raw = await call
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise GoogleRevoked() from None
        raise GoogleError(f"Google refused the token request: {exc.error}", retryable=False) from None
    except httpx.TimeoutException:
        raise GoogleError("Google's token endpoint timed out") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise GoogleError(f"Google's token endpoint failed: {type(exc).__name__}") from None
    return _tokens(dict(raw), now)


async def exchange_code(settings: Settings, redirect_uri: str, code: str, code_verifier: str, now: datetime.datetime) -> Tokens:
    """Trade an authorization code (and its PKCE verifier) for tokens. Raises GoogleError."""
    async with _oauth(settings, redirect_uri) as client:
        return await _token_call(client.fetch_token(Endpoints.of(settings).token, code=code, code_verifier=code_verifier), now)


async def refresh(settings: Settings, refresh_token: str, now: datetime.datetime) -> Tokens:
    """A new access token. Raises GoogleRevoked (refresh token refused) or GoogleError."""
    async with _oauth(settings) as client:
        return await _token_call(client.refresh_token(Endpoints.of(settings).token, refresh_token=refresh_token), now)


async def revoke(settings: Settings, token: str) -> None:
    """Revoke ``token`` at Google (RFC 7009). Raises GoogleError unless Google answers 200
    or 400 (an already invalid token is as good as revoked)."""
    async with _oauth(settings) as client:
        try:
            response = await client.revoke_token(Endpoints.of(settings).revoke, token=token)
        except httpx.HTTPError as exc:
            raise GoogleError(f"Google's revocation endpoint failed: {type(exc).__name__}") from None
    if response.status_code not in (200, 400):
        raise GoogleError(f"Google's revocation endpoint answered {response.status_code}", status=response.status_code)


class CalendarApi:
    """Calendar API calls with one access token."""

    def __init__(self, settings: Settings, access_token: str) -> None:
        self.base = Endpoints.of(settings).api
        self.client = AsyncOAuth2Client(settings.google_client_id, settings.google_client_secret,
                                        token={"access_token": access_token, "token_type": "Bearer"}, timeout=TIMEOUT)

    async def __aenter__(self) -> CalendarApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, self.base + path, **kwargs)
        except httpx.TimeoutException:
            raise GoogleError(f"Google Calendar timed out ({method} {path.split('/')[1]})") from None
        except httpx.HTTPError as exc:
            raise GoogleError(f"Google Calendar unreachable: {type(exc).__name__}") from None
        if response.status_code not in ok:
            status = response.status_code
            raise GoogleError(f"Google Calendar answered {status}", status=status, retryable=status == 429 or status >= 500 or status == 401)
        return response

    async def free_busy(self, calendar_id: str, start: datetime.datetime, end: datetime.datetime) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The busy intervals (aware UTC, half-open) of ``calendar_id`` meeting ``[start, end)``."""
        body = {"timeMin": start.astimezone(datetime.UTC).isoformat(), "timeMax": end.astimezone(datetime.UTC).isoformat(),
                "items": [{"id": calendar_id}]}
        data = (await self._call("POST", "/freeBusy", json=body)).json()
        try:
            calendar = data["calendars"][calendar_id]
            if calendar.get("errors"):
                raise GoogleError(f"Google FreeBusy: {calendar['errors'][0].get('reason', 'error')}", retryable=False)
            return [(datetime.datetime.fromisoformat(b["start"]).astimezone(datetime.UTC),
                     datetime.datetime.fromisoformat(b["end"]).astimezone(datetime.UTC)) for b in calendar.get("busy", [])]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise GoogleError("Google FreeBusy answered an unexpected shape", retryable=False) from None

    def _events(self, calendar_id: str) -> str:
        return f"/calendars/{quote(calendar_id, safe='')}/events"

    async def insert_event(self, calendar_id: str, event: dict[str, Any]) -> bool:
        """Create ``event`` (with its own ``id``); False when that id exists already (409)."""
        response = await self._call("POST", self._events(calendar_id), ok=(200, 409), json=event)
        return response.status_code == 200

    async def patch_event(self, calendar_id: str, event_id: str, fields: dict[str, Any]) -> bool:
        """Change an event; False when Google has no such event (404)."""
        response = await self._call("PATCH", f"{self._events(calendar_id)}/{quote(event_id, safe='')}", ok=(200, 404), json=fields)
        return response.status_code == 200

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete an event; one already gone (404, 410) counts as deleted."""
        await self._call("DELETE", f"{self._events(calendar_id)}/{quote(event_id, safe='')}", ok=(200, 204, 404, 410))
