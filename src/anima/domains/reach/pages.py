"""The unsubscribe page a marketing email's footer links to: ``/unsubscribe/{token}``.

``GET`` names the organization and asks (a link opened by a mail scanner must not unsubscribe
anyone); ``POST`` (the page's form, CSRF-checked) records the opt-out
(:func:`anima.domains.reach.services.unsubscribe`) and says so. A link that is not ours, or whose
organization is not active, gets a "not valid" page (404) and is never echoed. The page speaks
the visitor's language (picker, then browser). Answers are ``no-store`` and ``no-referrer``: the
link identifies a recipient.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.reach import services
from anima.problems import NotFound
from anima.runtime import Runtime
from anima.web.render import public_language, render

#: the answers' headers: the link in the address identifies a recipient
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _private(response: Template) -> Template:
    response.headers.update(PRIVATE)
    return response


def _invalid(request: Request[Any, Any, Any]) -> Template:
    return _private(render("reach/unsubscribe.html", language=public_language(request), state="invalid",
                           organization=None, picker_next="/", status=404))


@get("/unsubscribe/{token:str}", name="reach:unsubscribe", include_in_schema=False)
async def unsubscribe_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str) -> Template:
    """Ask whether to stop the organization's marketing emails."""
    try:
        organization = await services.organization_of(db_session, runtime.settings.secret_key, token)
    except NotFound:
        return _invalid(request)
    return _private(render("reach/unsubscribe.html", language=public_language(request), state="ask",
                           organization=organization, token=token))


@post("/unsubscribe/{token:str}", name="reach:unsubscribe-submit", include_in_schema=False)
async def unsubscribe_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str) -> Template:
    """Record the opt-out and confirm it."""
    try:
        organization, _ = await services.unsubscribe(db_session, runtime.settings.secret_key, token, "page")
    except NotFound:
        await db_session.rollback()
        return _invalid(request)
    await db_session.commit()
    return _private(render("reach/unsubscribe.html", language=public_language(request), state="done",
                           organization=organization, token=token))


PAGE_HANDLERS: list[Any] = [unsubscribe_page, unsubscribe_submit]
