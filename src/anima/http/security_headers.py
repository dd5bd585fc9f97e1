"""Security headers on every response, errors and unmatched routes included (one ASGI middleware).

Wrapped around the whole Litestar handler (:func:`anima.app.create_app`), outside the router, so a
404, a 405 or a problem raised before any route ran carries them too:

* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``;
* ``Content-Security-Policy``: :data:`API_CSP` (nothing may load, nothing may frame) on the API,
  health and unmatched API paths, :data:`DOCS_CSP` on the documentation pages, whose scripts and
  styles are served from this process (``anima/http/docs_assets``), never from a CDN, and
  :func:`page_csp` on the browser pages: scripts, styles and images of this origin only, no
  inline script or style, forms posted to this origin (and Stripe's Checkout, which a paid signup
  is sent on to);
* ``Cache-Control: no-store`` on everything that may carry personal data (every response but the
  documentation); the documentation pages revalidate (``no-cache``) and its versioned assets are
  cached for a week;
* ``Strict-Transport-Security`` in production only (a development server speaks plain HTTP);
* ``Allow`` of an ``OPTIONS`` answer lists exactly the methods of the matched path (Litestar's
  automatic ``OPTIONS`` handler keeps the methods of the first handler registered on a path).
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: everything but the documentation: a JSON API loads nothing and is framed by nobody
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: the documentation pages: scripts and styles of this origin only (the renderers set inline styles)
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"
#: where a page's form may lead besides this origin: Stripe's hosted Checkout and Customer Portal
STRIPE_FORM_TARGETS = ("https://checkout.stripe.com", "https://billing.stripe.com")
#: paths that are not browser pages (JSON API, probes)
NON_PAGE_PREFIXES = ("/api/", "/api", "/health", "/ready", "/schema")
STATIC_PREFIX = "/static/"


def page_csp(form_targets: tuple[str, ...] = STRIPE_FORM_TARGETS) -> str:
    """The Content-Security-Policy of browser pages (``form_targets``: origins a form may lead to)."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"connect-src 'self'; form-action 'self' {' '.join(form_targets)}; frame-ancestors 'none'; base-uri 'none'"
    ).replace("  ", " ")


PAGE_CSP = page_csp()
DOCS_PREFIX = "/docs"
ASSETS_PREFIX = "/docs/assets/"

_COMMON = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


def is_page(path: str) -> bool:
    """Whether ``path`` is a browser page (not the API, the probes or the documentation)."""
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        return False
    return not any(path == p.rstrip("/") or path.startswith(p) for p in NON_PAGE_PREFIXES)


def headers_for(path: str, *, production: bool, page_policy: str = PAGE_CSP) -> list[tuple[str, str]]:
    """The security headers of a response to ``path`` (the same for every status)."""
    is_docs = path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")
    out = list(_COMMON)
    out.append(("Content-Security-Policy", DOCS_CSP if is_docs else page_policy if is_page(path) else API_CSP))
    if path.startswith(ASSETS_PREFIX) or path.startswith(STATIC_PREFIX):
        out.append(("Cache-Control", "public, max-age=604800, immutable"))
    elif is_docs:
        out.append(("Cache-Control", "no-cache"))
    else:
        out.append(("Cache-Control", "no-store"))
    if production:
        out.append(("Strict-Transport-Security", HSTS))
    return out


class SecurityHeadersMiddleware:
    """ASGI middleware adding :func:`headers_for` to every HTTP response and fixing ``Allow``.

    Args:
        app: the wrapped ASGI application.
        production: send HSTS.
        page_policy: the Content-Security-Policy of browser pages (:func:`page_csp`).
        allow: methods by route path template (``/api/v1/orgs/{org_slug}/patients`` →
            ``"GET, OPTIONS, POST"``), used for ``OPTIONS`` answers.
    """

    def __init__(
        self, app: ASGIApp, *, production: bool, allow: dict[str, str] | None = None, page_policy: str = PAGE_CSP
    ) -> None:
        self.app = app
        self.production = production
        self.allow = allow or {}
        self.page_policy = page_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""), production=self.production, page_policy=self.page_policy)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in extra:
                    headers[name] = value
                if scope.get("method") == "OPTIONS" and "allow" in headers:
                    methods = self.allow.get(scope.get("path_template", ""))  # type: ignore[call-overload]
                    if methods:
                        headers["Allow"] = methods
            await send(message)

        await self.app(scope, receive, send_wrapper)
