"""Rendering a page: the template, the page language and zone, and the status.

Every page handler answers ``render(...)`` so that each template finds the same names:
``language`` and ``time_zone`` (what the gettext and formatting filters use), and, on workspace
pages, ``ws`` (:class:`anima.web.workspace.Workspace`: the organization, the viewer and the
navigation). Litestar adds ``request``, ``csrf_input`` and ``csrf_token()``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect, Template

from anima.web import i18n


def public_language(request: Request[Any, Any, Any]) -> str:
    """The language of a public page: the picker's cookie, then ``Accept-Language``, then English."""
    return i18n.pick_language(
        request.cookies.get(i18n.LANGUAGE_COOKIE), i18n.from_accept_language(request.headers.get("accept-language"))
    )


def render(template: str, *, language: str, time_zone: str | None = None, status: int = 200, **context: Any) -> Template:
    """The ``Template`` response of ``template`` in ``language`` (instants shown in ``time_zone``)."""
    return Template(
        template_name=template,
        context={"language": language, "time_zone": time_zone or "UTC", **context},
        status_code=status,
        media_type="text/html",
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """True for a request HTMX sent (it carries ``HX-Request: true``)."""
    return request.headers.get("hx-request") == "true"


def see_other(request: Request[Any, Any, Any], url: str) -> Redirect:
    """After a successful POST: 303 to ``url`` (HTMX follows ``HX-Redirect`` instead)."""
    if is_htmx(request):
        return Redirect(url, status_code=303, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after login; anything else (``//evil``, ``https://…``) gives ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 512:
        return default
    if any(ord(c) < 0x20 for c in target):
        return default
    return target
