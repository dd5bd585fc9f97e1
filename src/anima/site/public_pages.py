"""Public pages and signing in: the plans, login, logout (here and everywhere), language, workspaces.

The plans page reads the plan catalog (:mod:`anima.billing.plans`), never restating a limit. Login
runs the API's :func:`anima.identity.sessions.login` under the same rate limits and puts the token
pair in the session cookies (:mod:`anima.web.browser_session`).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.params import Parameter
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import CATALOG, LIMIT_LABELS
from anima.identity import sessions
from anima.identity.schemas import LoginRequest
from anima.identity.tokens import AccessClaims
from anima.http.access import client_address
from anima.problems import Problem
from anima.runtime import Runtime
from anima.web import i18n
from anima.web.browser_session import browser_claims, session_cookies
from anima.web.forms import FormState, parse, read_form
from anima.web.render import public_language, render, safe_next, see_other


def _plans() -> list[Any]:
    return sorted(CATALOG.values(), key=lambda plan: plan.rank)


@get("/", name="web:home", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Template:
    """The landing page: what Anima is and the three plans, from the catalog."""
    return render(
        "web/home.html", language=public_language(request), plans=_plans(), limit_names=list(LIMIT_LABELS),
        signed_in=browser_claims(request) is not None,
    )


@get("/login", name="web:login", sync_to_thread=False)
def login_page(request: Request[Any, Any, Any], next_: Annotated[str | None, Parameter(query="next", max_length=2048)] = None) -> Template:
    """The login form (``?next=`` is where to go after, same site only)."""
    return render("web/login.html", language=public_language(request), form=FormState(), next=safe_next(next_, ""))


@post("/login", name="web:login-submit")
async def login_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> Response[Any]:
    """Verify the credentials like the API does, open the session and set its cookies."""
    language = public_language(request)
    values = await read_form(request)
    target = safe_next(values.pop("next", None), "")
    body, form = parse(LoginRequest, values, language=language, keep_empty=("password",))
    form.values.pop("password", None)  # never sent back to the page
    status = 422
    if body is not None:
        try:
            address = client_address(request)
            await runtime.rate_limiter.hit("login", "address", address)
            await runtime.rate_limiter.hit("login", "account", sessions.normalize_email(body.email))
            pair = await sessions.login(
                db_session, email=body.email, password=body.password, secret=runtime.settings.secret_key,
                client_address=address, user_agent=request.headers.get("user-agent"),
            )
        except Problem as problem:
            form.show(problem, language)
            status = problem.status
        else:
            response = see_other(request, target or "/workspaces")
            response.cookies.extend(session_cookies(pair, production=runtime.settings.is_production))
            return response
    return render("web/login.html", language=language, form=form, next=target, status=status)


@post("/logout", name="web:logout")
async def logout(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> Response[Any]:
    """End this browser's session (idempotent) and clear its cookies."""
    claims = browser_claims(request)
    if claims is not None:
        await sessions.logout(db_session, session_id=claims.session_id, user_id=claims.user_id)
    response = see_other(request, "/login")
    response.cookies.extend(session_cookies(None, production=runtime.settings.is_production))
    return response


@post("/logout/everywhere", name="web:logout-everywhere")
async def logout_everywhere(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> Response[Any]:
    """End every session of the signed-in user: every browser and API client."""
    claims = browser_claims(request)
    if claims is not None:
        await sessions.logout_everywhere(db_session, user_id=claims.user_id)
    response = see_other(request, "/login")
    response.cookies.extend(session_cookies(None, production=runtime.settings.is_production))
    return response


@get("/language/{language:str}", name="web:language", sync_to_thread=False)
def choose_language(request: Request[Any, Any, Any], language: str, next_: Annotated[str | None, Parameter(query="next", max_length=2048)] = None) -> Redirect:
    """Remember the public pages' language in a cookie and go back (unknown languages: English)."""
    chosen = i18n.pick_language(language)
    response = Redirect(safe_next(next_, "/"), status_code=303)
    response.cookies.append(
        Cookie(key=i18n.LANGUAGE_COOKIE, value=chosen, path="/", max_age=365 * 86400, httponly=True, samesite="lax")
    )
    return response


@get("/workspaces", name="web:workspaces")
async def workspaces(
    request: Request[Any, Any, Any], db_session: AsyncSession, claims: AccessClaims
) -> Response[Any]:
    """Where a signed-in person goes: straight to their only organization, else a chooser."""
    user = await sessions.live_user(db_session, user_id=claims.user_id, session_id=claims.session_id)
    memberships = await sessions.memberships_of(db_session, user.id)
    if len(memberships) == 1 and not user.is_operator:
        return Redirect(f"/o/{memberships[0].organization_slug}/", status_code=303)
    language = i18n.pick_language(user.language, public_language(request))
    return render("web/workspaces.html", language=language, user=user, memberships=memberships)


PAGE_HANDLERS = [home, login_page, login_submit, logout, logout_everywhere, choose_language, workspaces]
