"""Account pages: signup with a plan, email verification and password reset.

* ``GET/POST /signup`` — the organization, its address (slug, suggested from the name), the owner
  and a plan (``?tier=`` preselects it; the three plans are summarized from the catalog). The form
  goes through the API's :class:`~anima.identity.schemas.SignupRequest` and
  :func:`anima.identity.signup.signup` under the API's signup rate limit, then the browser is
  signed in (:func:`anima.web.browser_session.session_cookies`). A paid tier with payments
  configured goes on to Stripe Checkout (:func:`anima.billing.subscribe.start_checkout`): the
  organization stays on BUILDER until Stripe's webhook says it is paid. Without payments, a
  development server grants the picked tier, exactly as the API's signup does.
* ``GET /verify-email/{token}`` — spends an emailed verification link;
  ``POST /account/verify-email/resend`` sends a new one (the workspace's reminder offers it).
* ``GET/POST /password/reset`` — asks for a link by email; the answer is the same whether or not
  an account has that address. ``GET/POST /password/reset/{token}`` — a live link shows the form,
  a used or expired one a clear page (never the form); a new password revokes every session of the
  account and signs this browser in.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import CATALOG, LIMIT_LABELS
from anima.billing.stripe_client import gateway_for
from anima.billing.subscribe import start_checkout
from anima.billing.tiers import BASE_TIER
from anima.http.access import client_address
from anima.identity import email_verification, password_reset, sessions
from anima.web.workspace import forget_person
from anima.identity.account_tokens import TokenState
from anima.identity.schemas import Email, Password, SignupRequest
from anima.identity.signup import signup
from anima.identity.tokens import AccessClaims
from anima.problems import Problem
from anima.request_body import RequestBody
from anima.runtime import Runtime
from anima.tenancy import registry
from anima.tenancy.naming import RESERVED_SLUGS
from anima.web import i18n
from anima.web.browser_session import browser_claims, session_cookies
from anima.web.forms import FormState, parse, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import is_htmx, public_language, render, see_other

#: sentences beside a field for the rules the account services use, in every language
_FIELD_RULES: dict[tuple[str, str], str] = {
    ("email", "unique"): N_("An account with this email already exists. Log in instead, or reset your password."),
    ("slug", "unique"): N_("This address is already taken. Choose another one."),
    ("slug", "slug"): N_("Use 3 to 40 lowercase letters, digits and single hyphens; some words are reserved."),
    ("password", "length"): N_("Use 8 to 128 characters."),
    ("password", "common"): N_("This is one of the most common passwords. Choose one that is harder to guess."),
    ("password", "contains-email"): N_("The password must not contain your email address."),
}


def _explain(form: FormState, problem: Problem, language: str) -> FormState:
    """``problem`` on ``form``, with the account rules' own sentences beside their fields."""
    form.show(problem, language)
    for error in problem.errors:
        key = (error.get("field", ""), error.get("rule", ""))
        if key in _FIELD_RULES:
            form.errors[key[0]] = gettext(language, _FIELD_RULES[key])
    return form


def suggest_slug(name: str) -> str:
    """An organization address from its name: ASCII, lowercase, single hyphens, 3 to 40 characters."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    if len(slug) < 3:
        slug = (slug + "-practice").strip("-")
    if slug in RESERVED_SLUGS:
        slug = f"{slug}-practice"
    return slug


def _plans() -> list[Any]:
    return sorted(CATALOG.values(), key=lambda plan: plan.rank)


def _signup_page(request: Request[Any, Any, Any], runtime: Runtime, form: FormState, *, language: str, status: int = 200) -> Template:
    return render(
        "account/signup.html", language=language, status=status, form=form, plans=_plans(), limit_names=list(LIMIT_LABELS),
        payments_configured=runtime.settings.payments_configured,
        grants_paid_tier=not runtime.settings.is_production and not runtime.settings.payments_configured,
    )


@get("/signup", name="account:signup", sync_to_thread=False)
def signup_page(
    request: Request[Any, Any, Any], runtime: Runtime, tier: Annotated[str | None, Parameter(query="tier", max_length=16)] = None
) -> Template:
    """The signup form, the plan of ``?tier=`` chosen (BUILDER when absent or unknown)."""
    chosen = tier.upper() if tier and tier.upper() in CATALOG else BASE_TIER
    return _signup_page(request, runtime, FormState(values={"tier": chosen}), language=public_language(request))


@post("/signup", name="account:signup-submit")
async def signup_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> Response[Any]:
    """Create the organization and its owner like the API, sign in, and go to Checkout or the workspace."""
    language = public_language(request)
    settings = runtime.settings
    values = await read_form(request)
    name = values.get("organization_name")
    if isinstance(name, str) and name.strip() and not str(values.get("slug") or "").strip():
        values["slug"] = suggest_slug(name)
    body, form = parse(SignupRequest, values, language=language, keep_empty=("password",))
    form.values.pop("password", None)  # never sent back to the page
    if body is None:
        return _signup_page(request, runtime, form, language=language, status=422)
    address = client_address(request)
    try:
        await runtime.rate_limiter.hit("signup", "address", address)
        result = await signup(
            db_session, runtime.db, body, secret=settings.secret_key, client_address=address,
            user_agent=request.headers.get("user-agent"),
            grant_paid_tier=not settings.is_production and not settings.payments_configured,
            public_url=settings.public_url, log_link=not settings.is_production,
        )
        await db_session.commit()
    except Problem as problem:
        await db_session.rollback()
        _explain(form, problem, language)
        return _signup_page(request, runtime, form, language=language, status=problem.status)
    slug = result.organization.organization_slug
    target = f"/o/{slug}/"
    if result.checkout_required and settings.payments_configured:
        target = await _checkout(db_session, runtime, slug=slug, name=body.organization_name, email=body.email, tier=body.tier)
    response = see_other(request, target)
    response.cookies.extend(session_cookies(result.tokens, production=settings.is_production))
    return response


async def _checkout(db_session: AsyncSession, runtime: Runtime, *, slug: str, name: str, email: str, tier: str) -> str:
    """Where a new organization on a paid tier goes: Stripe Checkout, or its billing page if Stripe refused."""
    settings = runtime.settings
    try:
        tenant_id = await registry.id_of(db_session, slug)
        if tenant_id is None:  # pragma: no cover - signup has just committed it
            raise LookupError(slug)
        redirect = await start_checkout(
            db_session, gateway_for(settings), settings, tenant_id=tenant_id, slug=slug, name=name,
            owner_email=sessions.normalize_email(email), tier=tier,
        )
        await db_session.commit()
    except (Problem, LookupError):
        await db_session.rollback()
        return f"/o/{slug}/billing?checkout=unavailable"
    return redirect.url


# --- email verification -----------------------------------------------------------------------


@get("/verify-email/{token:str}", name="account:verify-email")
async def verify_email_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str) -> Template:
    """Confirm the address of the link's account (once); a used or expired link says so."""
    language = public_language(request)
    await runtime.rate_limiter.hit("verify", "address", client_address(request))
    found = await email_verification.verify_email(db_session, token[:128])
    if found.user is not None:
        await db_session.commit()
        forget_person(found.user.id)  # the workspace's reminder goes at once
    already = found.state is TokenState.USED and found.user is not None and found.user.email_verified_at is not None
    status = 200 if found.state is TokenState.LIVE or already else (404 if found.state is TokenState.UNKNOWN else 410)
    return render(
        "account/verified.html", language=language, status=status, state=found.state.value, already=already,
        signed_in=browser_claims(request) is not None,
    )


@post("/account/verify-email/resend", name="account:verify-email-resend")
async def resend_verification(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, claims: AccessClaims
) -> Template:
    """Send the signed-in person a new verification link (HTMX: the reminder says it is sent)."""
    user = await sessions.live_user(db_session, user_id=claims.user_id, session_id=claims.session_id)
    language = i18n.pick_language(user.language, public_language(request))
    await runtime.rate_limiter.hit("verify-resend", "user", str(user.id))
    sent = await email_verification.resend(
        db_session, user, public_url=runtime.settings.public_url, log_link=not runtime.settings.is_production
    )
    template = "account/verify_sent_banner.html" if is_htmx(request) else "account/verify_sent.html"
    return render(template, language=language, email=user.email, sent=sent)


# --- password reset ---------------------------------------------------------------------------


class ResetRequest(RequestBody):
    """The form asking for a reset link."""

    email: Email


class NewPassword(RequestBody):
    """The form choosing the new password."""

    password: Password


def _reset_page(language: str, form: FormState, *, status: int = 200) -> Template:
    return render("account/reset_request.html", language=language, form=form, status=status)


@get("/password/reset", name="account:reset", sync_to_thread=False)
def reset_request_page(request: Request[Any, Any, Any]) -> Template:
    """The form asking for a reset link by email."""
    return _reset_page(public_language(request), FormState())


@post("/password/reset", name="account:reset-submit")
async def reset_request_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> Template:
    """Email a link if an account has the address; the answer never says whether one has."""
    language = public_language(request)
    values = await read_form(request)
    body, form = parse(ResetRequest, values, language=language)
    if body is None:
        return _reset_page(language, form, status=422)
    try:
        await runtime.rate_limiter.hit("reset", "address", client_address(request))
        await runtime.rate_limiter.hit("reset", "account", sessions.normalize_email(body.email))
    except Problem as problem:
        return _reset_page(language, form.show(problem, language), status=problem.status)
    await password_reset.request_reset(
        db_session, body.email, public_url=runtime.settings.public_url, log_link=not runtime.settings.is_production
    )
    return render("account/reset_sent.html", language=language, email=sessions.normalize_email(body.email))


def _link_page(language: str, state: TokenState) -> Template:
    """The clear page of a link that cannot be used (never the form)."""
    status = 404 if state is TokenState.UNKNOWN else 410
    return render("account/reset_link.html", language=language, state=state.value, status=status)


@get("/password/reset/{token:str}", name="account:reset-link")
async def reset_link_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str) -> Template:
    """The new-password form of a live link, else a page saying the link cannot be used."""
    language = public_language(request)
    await runtime.rate_limiter.hit("reset-link", "address", client_address(request))
    found = await password_reset.check_link(db_session, token[:128])
    if found.state is not TokenState.LIVE:
        return _link_page(language, found.state)
    return render("account/reset_password.html", language=language, form=FormState(), token=token)


@post("/password/reset/{token:str}", name="account:reset-link-submit")
async def reset_link_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, token: str
) -> Response[Any]:
    """Set the new password, end every session of the account and sign this browser in."""
    language = public_language(request)
    settings = runtime.settings
    await runtime.rate_limiter.hit("reset-link", "address", client_address(request))
    values = await read_form(request)
    body, form = parse(NewPassword, values, language=language, keep_empty=("password",))
    form.values.pop("password", None)
    token = token[:128]
    if body is None:
        found = await password_reset.check_link(db_session, token)
        if found.state is not TokenState.LIVE:
            return _link_page(language, found.state)
        return render("account/reset_password.html", language=language, form=form, token=token, status=422)
    try:
        user = await password_reset.reset_password(db_session, token, body.password)
    except password_reset.LinkNotUsable as gone:
        return _link_page(language, gone.state)
    except Problem as problem:
        await db_session.rollback()
        _explain(form, problem, language)
        return render("account/reset_password.html", language=language, form=form, token=token, status=problem.status)
    pair = await sessions.start_session(
        db_session, user, secret=settings.secret_key, client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = see_other(request, "/workspaces")
    response.cookies.extend(session_cookies(pair, production=settings.is_production))
    return response


PAGE_HANDLERS: list[Any] = [
    signup_page, signup_submit, verify_email_page, resend_verification,
    reset_request_page, reset_request_submit, reset_link_page, reset_link_submit,
]
