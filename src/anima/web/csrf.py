"""CSRF protection of every state-changing page request (Litestar's double-submit cookie).

A page's form carries the token (``csrf_input``) and HTMX sends it in the ``X-CSRFToken`` header
(``hx-headers`` on ``<body>``); the token is checked against the ``anima_csrf`` cookie, HMAC-signed
with the secret key. The JSON API (``/api``), health and documentation routes are left out: they
take bearer tokens, never cookies, so a forged cross-site request carries no credentials there.
"""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig

from anima.config import Settings

#: paths the CSRF middleware does not check (regular expressions over the path)
EXCLUDED = ["^/api/", "^/health", "^/ready", "^/docs"]


def csrf_config(settings: Settings) -> CSRFConfig:
    """The CSRF configuration for ``settings`` (``Secure`` cookie in production)."""
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_name="__Host-anima_csrf" if settings.is_production else "anima_csrf",
        cookie_secure=settings.is_production,
        cookie_httponly=True,
        cookie_samesite="lax",
        header_name="x-csrftoken",
        exclude=EXCLUDED,
    )
