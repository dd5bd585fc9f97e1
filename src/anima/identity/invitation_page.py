"""The page an invitation link opens: ``GET /invitations/{token}``.

Invitation emails link here (``{ANIMA_PUBLIC_URL}/invitations/{token}``). Until the browser
workspace exists, the page is a small HTML document telling the person how to accept: POST the
token with a password (and a display name) to ``/api/v1/invitations/accept``. It never looks the
token up — validity is decided only when accepting, under the acceptance rate limits — and it is
sent with ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer`` so the token in the
address is neither cached nor passed on to other sites. A token that is not of the shape Anima
issues (43 URL-safe characters) is not echoed back.
"""

from __future__ import annotations

import html
import re

from litestar import Response, get
from litestar.status_codes import HTTP_200_OK

from anima.runtime import Runtime

#: the shape of an invitation token (``secrets.token_urlsafe(32)``); other text is never echoed
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your invitation to Anima</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>You have been invited to Anima</h1>
<p>The Anima workspace in the browser is coming soon. Until then, accept your invitation through the API:
send a <code>POST</code> request to <code>/api/v1/invitations/accept</code> with this JSON body
(a new account needs a password of 8 to 128 characters; an existing account gives its current password):</p>
<pre>{body}</pre>
<p>For example: <code>curl -X POST -H 'Content-Type: application/json' -d '{compact}' {accept_url}</code></p>
<p>The invitation is valid for 7 days and can be used once. The API documentation is at <a href="/docs">/docs</a>.</p>
</body></html>
"""


def invitation_page_html(token: str, base_url: str) -> str:
    """The page's HTML for ``token`` (echoed only when it has the shape of an issued token)."""
    shown = token if TOKEN_SHAPE.fullmatch(token) else "THE-TOKEN-FROM-YOUR-EMAIL"
    body = '{\n  "token": "%s",\n  "password": "your password",\n  "display_name": "Your name"\n}' % shown
    compact = '{"token": "%s", "password": "...", "display_name": "..."}' % shown
    return _PAGE.format(
        body=html.escape(body), compact=html.escape(compact), accept_url=html.escape(f"{base_url}/api/v1/invitations/accept")
    )


@get("/invitations/{token:str}", include_in_schema=False, status_code=HTTP_200_OK, sync_to_thread=False)
def show_invitation(runtime: Runtime, token: str) -> Response[str]:
    """How to accept the invitation ``token`` (HTML; see the module docstring)."""
    return Response(
        invitation_page_html(token, runtime.settings.public_url),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


ROUTE_HANDLERS = [show_invitation]
