"""``POST /api/v1/unsubscribe/{token}``: the one-click unsubscribe of RFC 8058.

A marketing email's ``List-Unsubscribe`` names this address and its ``List-Unsubscribe-Post``
says ``List-Unsubscribe=One-Click``: a mail client then POSTs that form body here, without
cookies or a token of ours; the signed link alone is the authority. Public (no bearer token). A
``GET`` of the same address — a person pasting it — is redirected to the page that asks first,
because RFC 8058 forbids unsubscribing on a GET.
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.reach import services
from anima.domains.reach.schemas import UnsubscribeOut
from anima.http.openapi import answers
from anima.mail.unsubscribe import PAGE_PATH, TOKEN_SHAPE
from anima.problems import NotFound
from anima.runtime import Runtime


class UnsubscribeController(Controller):
    """One-click unsubscribe from an organization's marketing emails."""

    path = "/api/v1/unsubscribe"
    tags = ["reach"]

    @post("/{token:str}", opt=answers(404), status_code=HTTP_200_OK, summary="Unsubscribe from marketing emails (RFC 8058 one-click)")
    async def one_click(self, runtime: Runtime, db_session: AsyncSession, token: str) -> UnsubscribeOut:
        """Record the opt-out the signed link names; repeating it changes nothing. 404 for a link
        that is not ours or whose organization is not active."""
        organization, recorded = await services.unsubscribe(db_session, runtime.settings.secret_key, token, "one-click")
        return UnsubscribeOut(organization=organization, recorded=recorded)

    @get("/{token:str}", opt=answers(404), status_code=HTTP_303_SEE_OTHER, summary="Open the unsubscribe page of a link")
    async def open_page(self, token: str) -> Redirect:
        """Redirect to the page that asks before unsubscribing (a GET never unsubscribes)."""
        if not TOKEN_SHAPE.fullmatch(token):
            raise NotFound("this unsubscribe link is not valid")
        return Redirect(f"{PAGE_PATH}/{token}", status_code=HTTP_303_SEE_OTHER)


ROUTE_HANDLERS = [UnsubscribeController]
