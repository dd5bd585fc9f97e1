"""The page an emailed invitation link opens: ``GET /invitations/{token}``, and accepting it.

Invitation emails link here (``{ANIMA_PUBLIC_URL}/invitations/{token}``). The page names the
organization and the role and asks, for a new account, a name and a password, or, when an account
with the invited email exists, that account's password; ``POST`` to the same address accepts
through the API's :func:`anima.identity.members.accept_invitation` under the same rate limits
(client address and invitation), shows its problems beside the fields, and on success signs the
person in exactly like the login page (:func:`anima.identity.sessions.login`, session cookies)
and opens the organization's workspace.

The token travels in the address, so every answer carries ``Cache-Control: no-store`` and
``Referrer-Policy: no-referrer`` (neither cached nor passed on to other sites), and a token that
is not of the shape Anima issues (43 URL-safe characters) is never echoed back or looked up:
it gets the same "not valid" page as an unknown, used, revoked or expired invitation. The page
speaks the language the visitor picked, else the organization's, else the browser's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.settings.services import get_settings
from anima.http.access import client_address
from anima.identity import members as members_service
from anima.identity import sessions
from anima.identity.schemas import AcceptInvitationRequest
from anima.problems import InvalidInput, NotFound, Problem, TenantUnavailable, Unauthorized
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant
from anima.web import i18n
from anima.web.browser_session import session_cookies
from anima.web.forms import FormState, parse, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import render, see_other
from anima.web.workspace import forget_person

#: the shape of an invitation token (``secrets.token_urlsafe(32)``); other text is never echoed
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: headers of every answer of this page: the token in the address stays out of caches and referrers
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

#: sentences for the password policy's rules (the service speaks English)
_PASSWORD_RULES = {
    "length": N_("Use 8 to 128 characters."),
    "common": N_("This is one of the most common passwords. Choose another one."),
    "contains-email": N_("The password must not contain your email address."),
}


@dataclass(frozen=True)
class InvitationView:
    """What the page shows of a pending invitation."""

    token: str
    email: str
    role: str
    organization: str
    organization_language: str
    account_exists: bool


async def describe_invitation(session: AsyncSession, token: str) -> InvitationView:
    """The pending invitation of ``token`` for the page (read only; the transaction is rolled back).

    Raises:
        NotFound, TenantUnavailable: as :func:`anima.identity.members.pending_invitation`.
    """
    try:
        invitation, tenant = await members_service.pending_invitation(session, token)
        email, role = invitation.email, invitation.role
        exists = await members_service.account_exists(session, email)
        await enter_tenant(session, tenant.id)  # the organization's language lives in its settings
        language = (await get_settings(session)).locale
    finally:
        await session.rollback()
    return InvitationView(token, email, role, tenant.name, language, exists)


def _language(request: Request[Any, Any, Any], organization_language: str | None) -> str:
    """The visitor's pick (cookie), else the organization's language, else the browser's."""
    return i18n.pick_language(
        request.cookies.get(i18n.LANGUAGE_COOKIE), organization_language,
        i18n.from_accept_language(request.headers.get("accept-language")),
    )


def _invalid(request: Request[Any, Any, Any], problem: Problem | None, *, shaped: bool = True) -> Template:
    """The "not valid" page (404; 403 for an organization that is not active). A link whose token
    is not of the issued shape is not echoed even in the language picker's way back."""
    language = _language(request, None)
    suspended = isinstance(problem, TenantUnavailable)
    extra = {} if shaped else {"picker_next": "/"}
    return _private(render(
        "identity/invitation_invalid.html", language=language, suspended=suspended, status=403 if suspended else 404, **extra
    ))


def _page(request: Request[Any, Any, Any], view: InvitationView, form: FormState, status: int = 200) -> Template:
    language = _language(request, view.organization_language)
    return _private(render("identity/invitation.html", language=language, invitation=view, form=form, status=status))


def _private(response: Any) -> Any:
    response.headers.update(PRIVATE)
    return response


@get("/invitations/{token:str}", name="identity:invitation", include_in_schema=False)
async def invitation_page(request: Request[Any, Any, Any], db_session: AsyncSession, token: str) -> Template:
    """The invitation: who invites, with which role, and the form to accept it."""
    if not TOKEN_SHAPE.fullmatch(token):
        return _invalid(request, None, shaped=False)
    try:
        view = await describe_invitation(db_session, token)
    except (NotFound, TenantUnavailable) as problem:
        return _invalid(request, problem)
    return _page(request, view, FormState())


def _show(form: FormState, problem: Problem, language: str) -> None:
    """``problem`` in the form, with the password policy's and the account's refusals beside the password."""
    form.show(problem, language)
    for error in problem.errors:
        sentence = _PASSWORD_RULES.get(error.get("rule", ""))
        if error.get("field") == "password" and sentence and language != i18n.DEFAULT_LANGUAGE:
            form.errors["password"] = gettext(language, sentence)
    if isinstance(problem, Unauthorized):
        form.errors["password"] = gettext(language, "This password does not match your existing Anima account.")
        form.message = gettext(language, "Enter the password of your existing account to join.")


@post("/invitations/{token:str}", name="identity:accept-invitation", include_in_schema=False)
async def accept_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str) -> Response[Any]:
    """Accept the invitation (new account or existing one), sign in and open the workspace."""
    if not TOKEN_SHAPE.fullmatch(token):
        return _invalid(request, None, shaped=False)
    try:
        view = await describe_invitation(db_session, token)
    except (NotFound, TenantUnavailable) as problem:
        return _invalid(request, problem)
    language = _language(request, view.organization_language)
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        form = FormState()
        _show(form, problem, language)
        return _page(request, view, form, status=problem.status)
    values.pop("token", None)
    values.pop("username", None)  # for password managers only
    if view.account_exists:
        values.pop("display_name", None)  # an existing account keeps its name
    body, form = parse(AcceptInvitationRequest, {**values, "token": token}, keep_empty=("password",), language=language)
    form.values.pop("password", None)  # never sent back to the page
    form.values.pop("token", None)
    if body is None:
        return _page(request, view, form, status=422)
    address = client_address(request)
    try:
        await runtime.rate_limiter.hit("accept", "address", address)
        await runtime.rate_limiter.hit("accept", "invitation", token[:16])
        accepted = await members_service.accept_invitation(
            db_session, token=body.token, password=body.password, display_name=body.display_name
        )
    except (NotFound, TenantUnavailable) as problem:
        await db_session.rollback()
        return _invalid(request, problem)
    except Problem as problem:
        await db_session.rollback()
        _show(form, problem, language)
        return _page(request, view, form, status=problem.status)
    await db_session.commit()  # the membership first; then a session like the login page opens
    forget_person(accepted.user_id)  # an existing account's organization switcher gains this one
    pair = await sessions.login(
        db_session, email=view.email, password=body.password, secret=runtime.settings.secret_key,
        client_address=address, user_agent=request.headers.get("user-agent"),
    )
    response = see_other(request, f"/o/{accepted.organization_slug}/")
    response.cookies.extend(session_cookies(pair, production=runtime.settings.is_production))
    return _private(response)


PAGE_HANDLERS = [invitation_page, accept_submit]
