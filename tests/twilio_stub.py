"""A tiny local Twilio REST API of our own, and Twilio-signed inbound webhooks, for tests.

:class:`TwilioStub` is a real HTTP server (``http.server`` in a thread on 127.0.0.1, random port)
answering ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with the JSON shape Twilio
documents (``sid`` ``SM…``, ``status: queued``) after checking HTTP Basic authentication (account
SID and auth token). The real ``twilio`` SDK reaches it through ``TWILIO_API_BASE``. Every message
is recorded (to, from, body); ``fail_with = (status, code)`` makes it answer Twilio's error shape
instead (``{"code": 21211, "message": ..., "status": 400}``).

:func:`signature` computes ``X-Twilio-Signature`` as Twilio documents it (HMAC-SHA1 under the auth
token of the full URL followed by each POST parameter's name and value, sorted by name, base64) —
written here independently of the SDK, which the application uses to validate it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
FROM_NUMBER = "+15005550006"


@dataclass
class Sent:
    to: str
    sender: str
    body: str


@dataclass
class TwilioStub:
    """The stub server; ``url`` is its base (use as TWILIO_API_BASE)."""

    messages: list[Sent] = field(default_factory=list)
    fail_with: tuple[int, int] | None = None
    unauthorized: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def to(self, number: str) -> list[Sent]:
        return [m for m in self.messages if m.to == number]

    def start(self) -> TwilioStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
                if self.headers.get("Authorization") != expected:
                    stub.unauthorized += 1
                    self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                    return
                if stub.fail_with is not None:
                    status, code = stub.fail_with
                    self._answer(status, {"code": code, "message": "refused by the stub", "status": status})
                    return
                stub.messages.append(Sent(form.get("To", ""), form.get("From") or form.get("MessagingServiceSid", ""), form.get("Body", "")))
                self._answer(201, {"sid": "SM" + secrets.token_hex(16), "status": "queued", "to": form.get("To"),
                                   "from": form.get("From"), "body": form.get("Body"), "account_sid": ACCOUNT_SID,
                                   "num_segments": "1", "direction": "outbound-api"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """``X-Twilio-Signature`` of a POST of ``params`` to ``url`` (Twilio's documented algorithm)."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
