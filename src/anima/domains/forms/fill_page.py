"""The public fill page: ``GET``/``POST /p/{slug}/f/{token}``, no account needed.

The token is a form's public link (22 characters) or a one-time assignment (43 characters); any
other text is never looked up or echoed. The page speaks the form's language, is built for a phone
first (one column, large targets, native inputs: ``type=email``, ``tel``, ``date``, radio groups in
``fieldset``/``legend``) and, on a validation error, shows the form again with everything typed and
a sentence beside each wrong field (``aria-invalid``, ``aria-describedby``). A used, expired or
revoked one-time link, an unknown token, an archived form or an organization that is not active
answers a page saying so (404/410), never the form.

Abuse: each POST counts against two rate limits (``form:address``, the client address, and
``form:form``, the link: a public form's token, or a one-time link's: :mod:`anima.identity.rate_limit`),
counted before the request opens its own transaction; a honeypot field (``_homepage``,
hidden from people and assistive technology) filled in gets the thank-you page and nothing is
stored; answers are limited per field and per submission (:mod:`anima.domains.forms.answers`), and
text with NUL characters or lone surrogates is refused beside its field. Every answer carries
``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer`` (the token is in the address).

Leads: the place where a public submission (no patient) will capture a lead is marked in
:func:`submit_page` — :attr:`SubmissionResult.person <anima.domains.forms.services.SubmissionResult>`
holds the mapped details, in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.forms import services as forms
from anima.domains.forms.answers import SubmissionTooLarge
from anima.domains.forms.definitions import FormDefinition
from anima.domains.leads import services as leads
from anima.http.access import client_address
from anima.logs import get_logger
from anima.problems import InvalidInput, Problem, TooManyRequests
from anima.runtime import Runtime
from anima.tenancy.scope import enter_by_slug
from anima.web.forms import FormState, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import public_language, render

log = get_logger(__name__)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22}$|^[A-Za-z0-9_-]{43}$")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
HONEYPOT = "_homepage"
VERSION_FIELD = "_version"

#: the sentence beside a field for each rule of :mod:`anima.domains.forms.answers`
RULE_TEXT = {
    "required": N_("Please answer this question."),
    "max-length": N_("This answer is too long."),
    "type": N_("This answer is not valid."),
    "email": N_("Enter an email address like name@example.com."),
    "phone": N_("Enter a phone number with its country code, like +34 600 000 000."),
    "date": N_("Enter a date."),
    "date-range": N_("Enter a date between 1900 and 2100."),
    "choice": N_("Choose one of the options offered."),
    "unique": N_("Choose each option once."),
    "range": N_("Choose a value on the scale."),
    "one-line": N_("Write this answer on one line."),
    "unknown-field": N_("This form has no such question."),
    "nul-character": N_("This answer contains a character that is not allowed."),
    "lone-surrogate": N_("This answer contains a character that is not allowed."),
}


def _private(response: Template) -> Template:
    response.headers.update(PRIVATE)
    return response


def _unusable(request: Request[Any, Any, Any], state: str, language: str | None = None) -> Template:
    """The page of a link that shows no form (410 used/expired/revoked, 404 unknown), in the form's
    language when known, else the visitor's."""
    status = 410 if state in ("used", "expired", "revoked") else 404
    return _private(render(
        "forms/link_unusable.html", language=language or public_language(request), state=state, status=status, picker_next="/",
    ))


def _fill(shown: tuple[FormDefinition, int], form: FormState, org_name: str, status: int = 200) -> Template:
    """The form page of ``shown`` (definition, version number: read before any rollback expires the rows)."""
    d, version = shown
    return _private(render(
        "forms/fill.html", language=d.language, definition=d, form=form, org_name=org_name, status=status,
        version=version, honeypot=HONEYPOT, version_field=VERSION_FIELD, preview=False,
    ))


async def _enter(db_session: AsyncSession, runtime: Runtime, slug: str, token: str) -> tuple[Any, forms.FillTarget, FieldCipher]:
    tenant = await enter_by_slug(db_session, slug)
    if tenant is None or not tenant.active:
        raise forms.LinkUnusable("unknown")
    target = await forms.open_link(db_session, token)
    return tenant, target, FieldCipher(runtime.keyring, db_session, tenant.id)


@get("/p/{slug:str}/f/{token:str}", name="forms:fill", include_in_schema=False)
async def fill_page(request: Request[Any, Any, Any], db_session: AsyncSession, runtime: Runtime, slug: str, token: str) -> Template:
    """The form of a public or one-time link, or the page saying the link cannot be used."""
    if not TOKEN_SHAPE.fullmatch(token):
        return _unusable(request, "unknown")
    try:
        tenant, target, _ = await _enter(db_session, runtime, slug, token)
        response = _fill((target.definition, target.version.version), FormState(), tenant.name)
    except forms.LinkUnusable as unusable:
        response = _unusable(request, unusable.state, unusable.language)
    await db_session.rollback()
    return response


def _field_errors(definition: FormDefinition, problem: Problem, language: str) -> FormState:
    state = FormState()
    keys = {f.key for f in definition.fields}
    for error in problem.errors:
        name = error.get("field", "").removeprefix("answers.")
        sentence = RULE_TEXT.get(error.get("rule", ""), N_("This answer is not valid."))
        if name in keys:
            state.errors.setdefault(name, gettext(language, sentence))
    state.message = gettext(language, N_("Some answers need a change. They are marked below."))
    if isinstance(problem, SubmissionTooLarge):
        state.message = gettext(language, N_("Your answers are too long together. Please shorten them."))
    return state


async def _pick_version(db_session: AsyncSession, target: forms.FillTarget, raw: Any) -> forms.FillTarget:
    """A public link's form as the version the page showed (when it is one of the form's)."""
    if target.assignment is not None or not isinstance(raw, str) or not raw.isdigit() or len(raw) > 6:
        return target
    if int(raw) == target.version.version:
        return target
    try:
        version, definition = await forms.version_of(db_session, target.form, int(raw))
    except Problem:
        return target
    return forms.FillTarget(target.form, version, definition, None)


async def capture_lead(session: AsyncSession, cipher: FieldCipher, result: forms.SubmissionResult, actor: Actor) -> None:
    """A public submission naming a person (a mapped first name) becomes a lead in NEW, source
    PUBLIC_FORM, pointing at the form and the submission, in the submission's transaction. The
    capture runs in a savepoint: a lead refused (e.g. a contact detail the leads' rules refuse)
    is logged by its rule and the submission is kept all the same. A form mapping no name (a
    public PHQ-9) captures no lead."""
    person = result.person
    if not person.first_name:
        return
    try:
        async with session.begin_nested():
            await leads.capture(
                session, cipher, first_name=person.first_name, last_name=person.last_name or "",
                email=person.email, phone=person.phone, language=person.language, source="PUBLIC_FORM",
                form_template_id=result.form_id, submission_id=result.submission_id, actor=actor,
            )
    except Problem as refused:
        log.warning("forms.lead_not_captured", submission_id=str(result.submission_id), problem=type(refused).__name__,
                    status=refused.status)


@post("/p/{slug:str}/f/{token:str}", name="forms:submit", include_in_schema=False)
async def submit_page(request: Request[Any, Any, Any], db_session: AsyncSession, runtime: Runtime, slug: str, token: str) -> Template:
    """Submit the answers; the thank-you page, the form again with its errors, or the link's state."""
    if not TOKEN_SHAPE.fullmatch(token):
        return _unusable(request, "unknown")
    # counted before the request takes a connection of its own (each hit is a short transaction
    # of the limiter's): many concurrent posts never wait for the pool while holding a connection
    limited = False
    try:
        await runtime.rate_limiter.hit("form", "address", client_address(request))
        await runtime.rate_limiter.hit("form", "form", f"{slug}:{token[:22]}")
    except TooManyRequests:
        limited = True
    try:
        tenant, target, cipher = await _enter(db_session, runtime, slug, token)
    except forms.LinkUnusable as unusable:
        await db_session.rollback()
        return _unusable(request, unusable.state, unusable.language)
    language = target.definition.language
    shown_version = (target.definition, target.version.version)
    multiple = tuple(f.key for f in target.definition.fields if f.type == "multiple_choice")
    try:
        values = await read_form(request, lists=multiple)
    except InvalidInput:
        await db_session.rollback()
        state = FormState(message=gettext(language, N_("The answers could not be read. Please try again.")))
        return _fill(shown_version, state, tenant.name, status=400)
    trap = values.pop(HONEYPOT, "")
    target = await _pick_version(db_session, target, values.pop(VERSION_FIELD, None))
    shown_version = (target.definition, target.version.version)
    multiple = tuple(f.key for f in target.definition.fields if f.type == "multiple_choice")
    shown = FormState(values=values)
    if limited:
        await db_session.rollback()
        shown.message = gettext(language, N_("Too many forms were sent from here. Please wait a few minutes and send it again."))
        return _fill(shown_version, shown, tenant.name, status=429)
    if trap:
        await db_session.rollback()  # a bot: it learns nothing, nothing is stored
        return _private(render("forms/thanks.html", language=language, org_name=tenant.name, picker_next="/"))
    actor = Actor(None, "public", request.headers.get("x-request-id"), client_address(request))
    try:
        result = await forms.submit(db_session, cipher, target, values, actor=actor)
        if result.patient_id is None:
            await capture_lead(db_session, cipher, result, actor)
    except forms.LinkUnusable as unusable:
        await db_session.rollback()
        return _unusable(request, unusable.state, unusable.language or language)
    except (InvalidInput, SubmissionTooLarge) as problem:
        await db_session.rollback()
        errors = _field_errors(target.definition, problem, language)
        shown.errors, shown.message = errors.errors, errors.message
        return _fill(shown_version, shown, tenant.name, status=problem.status)
    await db_session.commit()
    return _private(render("forms/thanks.html", language=language, org_name=tenant.name, picker_next="/"))


PAGE_HANDLERS = [fill_page, submit_page]
