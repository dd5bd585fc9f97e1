"""A local stand-in for the Gemini API: a real HTTP server (a thread on 127.0.0.1, random port).

It answers ``POST /v1beta/models/{model}:generateContent`` in the Gemini API's response format
(``candidates[0].content.parts[0].text`` holding the JSON answer, ``usageMetadata``,
``modelVersion``), records every call (path, API key header, request body) so tests can count
calls and inspect what was sent, and can be told to answer errors (429, 500 …) first to exercise
the SDK's retries and our fallback. The real google-genai SDK talks to it through
``GEMINI_API_BASE``; nothing is patched.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[A-Za-z0-9._-]+):generateContent$")

DEFAULT_ANALYSIS: dict[str, Any] = {
    "synthesis": "Over the period the patient reports low mood and one explicit wish to die.",
    "key_moments": [{"date": "2025-01-03", "description": "Expressed a wish to die after a conflict at home."}],
    "risk_level": "HIGH",
    "risk_flags": [{"flag": "SUICIDAL_IDEATION", "severity": "high", "rationale": "Explicit statement on 2025-01-03."}],
}


@dataclass
class Call:
    """One request the stub received."""

    model: str
    api_key: str | None
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """The text of the user turn(s) sent."""
        return "\n".join(p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", []))


@dataclass
class GeminiStub:
    """The running stub. ``answer`` builds the analysis JSON from a request body; ``errors`` is a queue of
    HTTP statuses to answer before answering normally; ``raw_text`` replaces the JSON text when set."""

    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: DEFAULT_ANALYSIS
    errors: list[int] = field(default_factory=list)
    raw_text: str | None = None
    calls: list[Call] = field(default_factory=list)
    attempts: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.errors.clear()
            self.raw_text = None
            self.attempts = 0

    def start(self) -> GeminiStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                match = PATH.match(self.path.split("?")[0])
                if match is None:
                    self._send(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
                    return
                body = json.loads(raw or b"{}")
                with stub._lock:
                    stub.attempts += 1
                    error = stub.errors.pop(0) if stub.errors else None
                    if error is None:
                        stub.calls.append(Call(match["model"], self.headers.get("x-goog-api-key"), body))
                if error is not None:
                    status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(error, "FAILED")
                    self._send(error, {"error": {"code": error, "message": "stub error", "status": status}})
                    return
                text = stub.raw_text if stub.raw_text is not None else json.dumps(stub.answer(body))
                self._send(
                    200,
                    {
                        "candidates": [
                            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
                        ],
                        "usageMetadata": {"promptTokenCount": 321, "candidatesTokenCount": 54, "totalTokenCount": 375},
                        "modelVersion": match["model"],
                        "responseId": f"stub-{stub.attempts}",
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="gemini-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
