"""A tiny local Google (OAuth 2.0 + Calendar API v3) of our own, for tests.

:class:`GoogleStub` is a real HTTP server (``http.server`` in a thread on 127.0.0.1, random port);
the application reaches it through ``GOOGLE_OAUTH_BASE`` and ``GOOGLE_API_BASE`` = its ``url``:

* ``GET /o/oauth2/v2/auth`` — "consents" at once: records the PKCE challenge (only ``S256``
  accepted) and redirects (302) to ``redirect_uri`` with a fresh ``code`` and the ``state``;
* ``POST /token`` — ``authorization_code`` (checks the client credentials, the code — once —,
  the redirect URI, and ``BASE64URL(SHA256(code_verifier)) == code_challenge`` as RFC 7636 says)
  and ``refresh_token``; errors answer ``{"error": "invalid_grant"}`` (400);
* ``POST /revoke`` — revokes a refresh token (and its access tokens) or an access token;
* ``POST /calendar/v3/freeBusy`` and ``/calendar/v3/calendars/{id}/events`` (insert with the
  caller's id, 409 when it exists; ``PATCH``/``DELETE`` of ``…/events/{eventId}``) — with a valid
  bearer access token, else 401.

Every request is recorded in ``calls`` (method, path); ``down`` makes the Calendar API answer 503,
``access_ttl`` sets ``expires_in`` of issued access tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

CLIENT_ID = "anima-test.apps.googleusercontent.com"
CLIENT_SECRET = "google-test-client-secret-0123456789"


def s256(verifier: str) -> str:
    """RFC 7636 S256 challenge of ``verifier``, written independently of authlib."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class GoogleStub:
    """The stub server; ``url`` is its base (GOOGLE_OAUTH_BASE and GOOGLE_API_BASE)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token -> live
    access_tokens: dict[str, str] = field(default_factory=dict)  # access token -> its refresh token
    revoked: list[str] = field(default_factory=list)
    verifier_failures: int = 0
    events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    busy: list[dict[str, str]] = field(default_factory=list)
    down: bool = False
    access_ttl: int = 3600
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self, method: str, contains: str = "") -> int:
        return sum(1 for m, p in self.calls if m == method and contains in p)

    def live_events(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: v for k, v in self.events.items() if v.get("status") != "cancelled"}

    def start(self) -> GoogleStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _bearer(self) -> bool:
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ")
                return auth.startswith("Bearer ") and token in stub.access_tokens and token not in stub.revoked

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                stub.calls.append(("GET", parts.path))
                q = dict(parse_qsl(parts.query))
                if parts.path != "/o/oauth2/v2/auth":
                    return self._answer(404, {"error": "not_found"})
                if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                    return self._answer(400, {"error": "invalid_request"})
                code = secrets.token_urlsafe(16)
                stub.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q.get("redirect_uri", ""), "scope": q.get("scope", "")}
                location = q.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": q.get("state", "")})
                return self._answer(302, None, {"Location": location})

            def _client_ok(self, form: dict[str, str]) -> bool:
                basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                return self.headers.get("Authorization") == basic or (
                    form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET)

            def _issue(self, refresh: str, scope: str, with_refresh: bool) -> dict[str, Any]:
                access = "ya29." + secrets.token_urlsafe(24)
                stub.access_tokens[access] = refresh
                body = {"access_token": access, "expires_in": stub.access_ttl, "token_type": "Bearer", "scope": scope}
                if with_refresh:
                    body["refresh_token"] = refresh
                return body

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                stub.calls.append(("POST", parts.path))
                raw = self._body()
                if parts.path == "/token":
                    form = dict(parse_qsl(raw.decode()))
                    if not self._client_ok(form):
                        return self._answer(401, {"error": "invalid_client"})
                    if form.get("grant_type") == "authorization_code":
                        grant = stub.codes.pop(form.get("code", ""), None)
                        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                            return self._answer(400, {"error": "invalid_grant"})
                        if s256(form.get("code_verifier", "")) != grant["challenge"]:
                            stub.verifier_failures += 1
                            return self._answer(400, {"error": "invalid_grant", "error_description": "code_verifier"})
                        refresh = "1//" + secrets.token_urlsafe(24)
                        stub.refresh_tokens[refresh] = True
                        return self._answer(200, self._issue(refresh, grant["scope"], True))
                    if form.get("grant_type") == "refresh_token":
                        refresh = form.get("refresh_token", "")
                        if not stub.refresh_tokens.get(refresh):
                            return self._answer(400, {"error": "invalid_grant"})
                        return self._answer(200, self._issue(refresh, "", False))
                    return self._answer(400, {"error": "unsupported_grant_type"})
                if parts.path == "/revoke":
                    token = dict(parse_qsl(raw.decode())).get("token", "")
                    if token in stub.refresh_tokens:
                        stub.refresh_tokens[token] = False
                        stub.revoked.extend(a for a, r in stub.access_tokens.items() if r == token)
                    elif token in stub.access_tokens:
                        stub.revoked.append(token)
                    else:
                        return self._answer(400, {"error": "invalid_token"})
                    stub.revoked.append(token)
                    return self._answer(200, {})
                return self._calendar("POST", parts.path, raw)

            def do_PATCH(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                stub.calls.append(("PATCH", parts.path))
                return self._calendar("PATCH", parts.path, self._body())

            def do_DELETE(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                stub.calls.append(("DELETE", parts.path))
                return self._calendar("DELETE", parts.path, self._body())

            def _calendar(self, method: str, path: str, raw: bytes) -> None:
                if stub.down:
                    return self._answer(503, {"error": {"code": 503, "message": "backend error"}})
                if not self._bearer():
                    return self._answer(401, {"error": {"code": 401, "message": "invalid credentials"}})
                if method == "POST" and path == "/calendar/v3/freeBusy":
                    body = json.loads(raw)
                    return self._answer(200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                                              "calendars": {i["id"]: {"busy": stub.busy} for i in body["items"]}})
                segments = path.split("/")
                if len(segments) < 6 or segments[:4] != ["", "calendar", "v3", "calendars"] or segments[5] != "events":
                    return self._answer(404, {"error": {"code": 404}})
                calendar = unquote(segments[4])
                if method == "POST" and len(segments) == 6:
                    event = json.loads(raw)
                    key = (calendar, event["id"])
                    if key in stub.events:
                        return self._answer(409, {"error": {"code": 409, "message": "The requested identifier already exists."}})
                    stub.events[key] = {**event, "status": event.get("status", "confirmed")}
                    return self._answer(200, stub.events[key])
                if len(segments) != 7:
                    return self._answer(404, {"error": {"code": 404}})
                key = (calendar, unquote(segments[6]))
                if key not in stub.events:
                    return self._answer(404, {"error": {"code": 404}})
                if method == "PATCH":
                    stub.events[key].update(json.loads(raw))
                    return self._answer(200, stub.events[key])
                if stub.events[key].get("status") == "cancelled":
                    return self._answer(410, {"error": {"code": 410, "message": "Resource has been deleted"}})
                stub.events[key]["status"] = "cancelled"
                return self._answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
