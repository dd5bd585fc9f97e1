"""Pages that write the Soul Record's journal: a new entry, signing it, amending it; an AI analysis.

They are forms of the person's page (:mod:`anima.domains.patients.pages`), posted to
``/o/{slug}/people/{patient_id}/journal…`` and answered with a 303 back to that page, or with the
page itself and the problem beside the form. Each calls the journal service (or the AI
observatory) exactly as ``…/patients/{id}/journal`` and ``…/analyses`` do, with the same
``viewer``, ``actor`` and ``cipher``; the routes are clinical (owners and therapists; a refusal is
audited like the API's).

The editor sends the note's HTML in ``html`` (the field of ``EntryCreate``) with ``format=html``;
without JavaScript the same field is a plain textarea and ``format=text``: the text is escaped and
its paragraphs and lines become ``<p>`` and ``<br>`` before the service sanitizes it as usual.
"""

from __future__ import annotations

import html as html_lib
import re
import uuid
from typing import Any

from litestar import Request, post
from litestar.response import Redirect, Template

from anima.ai import observatory
from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.journal import services as rules
from anima.domains.journal.sanitize import sanitize_html
from anima.domains.journal.schemas import AmendmentCreate, EntryCreate
from anima.domains.patients.pages import Forms, attempt, person_page
from anima.domains.patients.visibility import Viewer
from anima.http.access import CLINICIANS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.problems import NotFound
from anima.runtime import Runtime
from anima.web.forms import FormState, parse, read_form
from anima.web.render import see_other
from anima.web.workspace import Workspace

JOURNAL_PAGE = CLINICIANS | CLINICAL
_PARAGRAPHS = re.compile(r"\n\s*\n")


def text_to_html(text: str) -> str:
    """Plain text typed without the editor as HTML: escaped, blank lines between paragraphs."""
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text.replace("\r\n", "\n")) if p.strip()]
    return "".join("<p>" + html_lib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def _note_html(values: dict[str, Any]) -> dict[str, Any]:
    """The form's values with ``html`` as HTML whatever the editor (``format`` removed)."""
    data = dict(values)
    fmt = data.pop("format", "html")
    if fmt == "text" and isinstance(data.get("html"), str) and "\x00" not in data["html"]:
        data["html"] = text_to_html(data["html"])
    return data


def _shown_again(values: dict[str, Any]) -> dict[str, Any]:
    """What the form shows again after a problem: typed HTML sanitized before it reaches the page."""
    shown = dict(values)
    if isinstance(shown.get("html"), str) and shown.get("format", "html") != "text":
        shown["html"] = sanitize_html(shown["html"].replace("\x00", ""))
    return shown


def _back(ws: Workspace, patient_id: uuid.UUID, done: str, anchor: str) -> str:
    return f"{ws.base}/people/{patient_id}?done={done}{anchor}"


@post("/o/{org_slug:str}/people/{patient_id:uuid}/journal", opt=JOURNAL_PAGE, name="journal:create")
async def entry_create(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Add a note (``POST …/journal``)."""
    values = await read_form(request)
    data = _note_html(values)
    data.setdefault("kind", "note")
    body, form = parse(EntryCreate, data, language=ws.language)
    form.values = _shown_again(values)
    forms = Forms(entry=form)
    if body is None:
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=422)
    entry, problem = await attempt(
        tenant.session, lambda: rules.create_entry(tenant.session, cipher, viewer, actor, patient_id, body)
    )
    if problem is not None:
        if isinstance(problem, NotFound):
            raise problem
        form.show(problem, ws.language)
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=problem.status)
    assert entry is not None
    return see_other(request, _back(ws, patient_id, "entry", f"#entry-{entry.id}"))


@post("/o/{org_slug:str}/people/{patient_id:uuid}/journal/{entry_id:uuid}/sign", opt=JOURNAL_PAGE, name="journal:sign")
async def entry_sign(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID, entry_id: uuid.UUID,
) -> Template | Redirect:
    """Sign and lock an entry (its author; ``POST …/journal/{id}/sign``)."""
    _, problem = await attempt(
        tenant.session, lambda: rules.sign_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id)
    )
    if problem is not None:
        if isinstance(problem, NotFound):
            raise problem
        forms = Forms(message=FormState().show(problem, ws.language).message)
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=problem.status)
    return see_other(request, _back(ws, patient_id, "signed", f"#entry-{entry_id}"))


@post("/o/{org_slug:str}/people/{patient_id:uuid}/journal/{entry_id:uuid}/amend", opt=JOURNAL_PAGE, name="journal:amend")
async def entry_amend(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID, entry_id: uuid.UUID,
) -> Template | Redirect:
    """Amend a signed entry with a reason (its author; ``POST …/journal/{id}/amendments``)."""
    values = await read_form(request)
    body, form = parse(AmendmentCreate, _note_html(values), language=ws.language)
    form.values = _shown_again(values)
    forms = Forms(amend={entry_id: form})
    if body is None:
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=422)
    _, problem = await attempt(
        tenant.session, lambda: rules.amend_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id, body)
    )
    if problem is not None:
        if isinstance(problem, NotFound):
            raise problem
        form.show(problem, ws.language)
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=problem.status)
    return see_other(request, _back(ws, patient_id, "amended", f"#entry-{entry_id}"))


@post("/o/{org_slug:str}/people/{patient_id:uuid}/analyses", opt=JOURNAL_PAGE, name="journal:analyse")
async def analyse(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, runtime: Runtime, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Ask the AI observatory for an analysis of the recent journal (``POST …/analyses``)."""
    result, problem = await attempt(
        tenant.session,
        lambda: observatory.analyze_patient(
            tenant.session, cipher, runtime, viewer=viewer, actor=actor, patient_id=patient_id, tier=tenant.tenant.tier
        ),
    )
    if problem is not None:
        if isinstance(problem, NotFound):
            raise problem
        form = FormState().show(problem, ws.language)
        forms = Forms(analysis=form)
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=problem.status)
    assert result is not None
    return see_other(request, _back(ws, patient_id, "analysis", f"#entry-{result.entry.id}"))


PAGE_HANDLERS: list[Any] = [entry_create, entry_sign, entry_amend, analyse]
