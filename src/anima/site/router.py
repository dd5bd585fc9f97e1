"""The page router: every page handler, their session cookies, their providers and error pages.

Collected, not listed: the ``PAGE_HANDLERS`` of this package's modules and every
``anima.domains.<name>.pages.PAGE_HANDLERS``. On these routes ``claims`` comes from the session
cookies (:func:`anima.web.browser_session.provide_browser_claims`) instead of a bearer token, so
``tenant``, ``member``, ``viewer``, ``actor``, ``cipher`` and ``operator`` authorize a page exactly
as they authorize the API; ``ws`` adds the workspace frame. Pages are left out of the OpenAPI
document (it describes the JSON API).
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from anima.domains import import_domain_modules
from anima.site import dashboard, public_pages
from anima.site.frame import provide_workspace
from anima.web.browser_session import BrowserSessionMiddleware, provide_browser_claims
from anima.web.errors import PAGE_EXCEPTION_HANDLERS
from anima.web.templating import STATIC_PREFIX, STATIC_ROOT

#: modules of this package that bring pages (the domains' and other packages' are discovered)
_WEB_PAGE_MODULES = (public_pages, dashboard)


def page_handlers() -> list[Any]:
    """Every page handler: the web layer's, then each domain's ``pages.PAGE_HANDLERS`` in name order."""
    handlers = [h for module in _WEB_PAGE_MODULES for h in module.PAGE_HANDLERS]
    for module in import_domain_modules("pages"):
        handlers += getattr(module, "PAGE_HANDLERS", [])
    for module in _extra_page_modules():
        handlers += module.PAGE_HANDLERS
    return handlers


def _extra_page_modules() -> list[Any]:
    """Page modules of packages outside ``domains`` (identity, billing, tenancy, jobs, mail): ``<package>.pages``,
    and of identity's account sub-area (signup, email verification, password reset)."""
    import importlib

    found = []
    for package in ("identity", "identity.account", "billing", "tenancy", "jobs", "mail"):
        try:
            found.append(importlib.import_module(f"anima.{package}.pages"))
        except ModuleNotFoundError as exc:
            if exc.name != f"anima.{package}.pages":
                raise
    return found


def page_router() -> Router:
    """The router of every page (see the module docstring)."""
    return Router(
        path="/",
        route_handlers=page_handlers(),
        dependencies={
            "claims": Provide(provide_browser_claims),
            "ws": Provide(provide_workspace),
        },
        middleware=[BrowserSessionMiddleware],
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


def static_router() -> Router:
    """``/static``: the stylesheet, our small scripts and the vendored libraries (versioned URLs)."""
    return create_static_files_router(path=STATIC_PREFIX, directories=[STATIC_ROOT], include_in_schema=False, name="static")
