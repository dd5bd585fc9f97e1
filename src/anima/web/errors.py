"""How pages answer errors: the login page when signed out, an error page in the page's language.

Installed on the page router (:mod:`anima.site.router`), these replace the API's problem+json
handlers for page routes only. A problem's page shows its status and a translated sentence
(:mod:`anima.web.problem_text`), never a stack trace; HTMX requests are redirected with
``HX-Redirect``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect

from anima.logs import get_logger
from anima.problems import Problem, TenantUnavailable, Unauthorized
from anima.web.render import is_htmx, public_language, render
from anima.web.problem_text import describe, kind_message
from anima.web.i18n import gettext

log = get_logger(__name__)


def _login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login?next=" + quote(target, safe="/")
    if is_htmx(request):
        return Response(b"", status_code=401, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def _language(request: Request[Any, Any, Any]) -> str:
    return request.scope.get("state", {}).get("page_language") or public_language(request)


def _error_page(request: Request[Any, Any, Any], status: int, kind: str, message: str) -> Response[Any]:
    language = _language(request)
    return render("web/error.html", language=language, status=status, kind=kind, message=message, code=status)  # type: ignore[return-value]


def handle_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[Any]:
    """A problem raised by a page or its dependencies: login for 401, else the error page.

    (A 404 caused by an ended session is turned into the login page by
    :class:`anima.web.browser_session.BrowserSessionMiddleware`.)
    """
    if isinstance(exc, Unauthorized):
        return _login_redirect(request)
    if isinstance(exc, TenantUnavailable) and exc.extra.get("state", "suspended") == "suspended":
        # its own page: what happened, that the data is kept, whom to contact (anima.tenancy templates)
        return render("tenancy/suspended.html", language=_language(request), status=exc.status, code=exc.status)  # type: ignore[return-value]
    return _error_page(request, exc.status, exc.kind, describe(exc, _language(request)).message)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors on pages (404, 405, the CSRF refusal)."""
    if isinstance(exc, NotAuthorizedException):
        return _login_redirect(request)
    language = _language(request)
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        message = gettext(language, "This form has expired. Go back, reload the page and send it again.")
        return _error_page(request, 403, "csrf", message)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
    return _error_page(request, exc.status_code, kind, kind_message(kind, language))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else: logged with its traceback, answered with a plain 500 page."""
    log.exception("page failed", path=request.url.path, error=type(exc).__name__)
    message = gettext(_language(request), "Something went wrong on our side. Try again in a moment.")
    return _error_page(request, 500, "server-error", message)


def handle_undecodable(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    """A multipart form whose text part is not valid UTF-8 (Litestar decodes the parts strictly, and
    the CSRF check reads the form before any page does): 422, like a URL-encoded form's; anything
    else undecodable is a server error."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return handle_unexpected(request, exc)
    log.info("page form refused", path=request.url.path, rule="utf-8")
    message = gettext(_language(request), "The form could not be read: part of it is not valid UTF-8. Reload the page and send it again.")
    return _error_page(request, 422, "invalid-input", message)


PAGE_EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: handle_problem,
    UnicodeDecodeError: handle_undecodable,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
