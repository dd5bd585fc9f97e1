"""The form builder: owners make and edit an organization template in the browser.

``/o/{slug}/forms/new`` and ``/o/{slug}/forms/{id}/edit`` show one HTML form holding the
template's title, language and introduction and its fields in order, each with its type, label,
help text, ``required``, options (one per line, ``value | label`` or just a label whose value is
derived from it), a scale's bounds and end words, and the person detail it fills. Adding, removing
and moving a field up or down are submit buttons of that form (``action`` = ``add``,
``remove:<i>``, ``up:<i>``, ``down:<i>``): they work from the keyboard and without script, and the
page comes back with everything typed. ``save`` turns the fields into a
:class:`~anima.domains.forms.definitions.FormDefinition` and calls the forms' service
(:func:`~anima.domains.forms.services.create_form` or
:func:`~anima.domains.forms.services.update_definition`): each version is immutable and the
history is listed. A refusal of :mod:`anima.domains.forms.definitions` (``fields[2].options``) is
shown beside that field's input (``f2.options``), in the page's language.

The preview beside the builder is rendered by the server from the same fields with the template
the public fill page uses (``forms/fields.html``), so the owner sees what a client gets; HTMX posts
the builder's fields to ``…/forms/builder/preview`` as they change and swaps the preview in.

Plans: owners of a plan without ``custom_forms`` (BUILDER) see what the feature needs and the
system templates they may use instead; posting anyway answers 403 like the API.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.response import Response, Template

from anima.domains.audit.services import Actor
from anima.domains.forms import services as forms
from anima.domains.forms.definitions import FIELD_TYPES, MAX_FIELDS, MAPPABLE, FormDefinition, to_json
from anima.domains.forms.models import FormVersion
from anima.domains.forms.system import LANGUAGES, system_templates
from anima.domains.staff.models import StaffMember
from anima.http.access import OWNERS, TenantContext
from anima.http.validation import string_errors, validate_value
from anima.problems import Conflict, Forbidden, InvalidInput
from anima.web.forms import FormState, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_, field_message, kind_message
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: the per-field inputs of the builder form: ``f<i>.<name>``
FIELD_INPUTS = ("key", "type", "label", "help", "required", "options", "scale_min", "scale_max", "scale_low", "scale_high", "maps_to")
_INPUT = re.compile(r"^f(\d{1,3})\.(" + "|".join(FIELD_INPUTS) + r")$")
_PATH = re.compile(r"^fields\[(\d+)\]\.?(\w*)")
_INTEGER = re.compile(r"^[+-]?\d{1,4}$")

#: a sentence per rule of :mod:`anima.domains.forms.definitions`, for the pages in es/ca/it
RULE_TEXT = {
    "unique": N_("This is already used by an earlier field or option: choose another."),
    "section-not-answered": N_("A section heading is not answered: it cannot be required or fill a detail."),
    "min-options": N_("Give at least 2 options, one per line."),
    "choices-only": N_("Only a choice field has options."),
    "greater-than-min": N_("The highest value must be greater than the lowest."),
    "max-steps": N_("A scale has at most 100 steps."),
    "scale-only": N_("Only a scale has end words."),
    "type": N_("This detail cannot be filled from this type of field."),
    "languages": N_("A language field offers en, es, ca or it as values (one per line: en | English)."),
    "one-answer": N_("A form needs at least one question that is answered."),
    "reserved": N_("This name belongs to Anima's templates: choose another title."),
    "pattern": N_("Use lowercase letters, digits and _, starting with a letter."),
}


def slug(text: str, fallback: str, limit: int = 40) -> str:
    """``text`` as lowercase ASCII letters, digits and ``_`` (accents dropped), at most ``limit``
    characters, starting with a letter; ``fallback`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:limit].strip("_")
    if not out or not out[0].isalpha():
        return fallback
    return out


@dataclass
class Builder:
    """The builder form as typed: form-level ``values`` and one dict of raw strings per field."""

    values: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    focus: str | None = None

    def value(self, name: str) -> str:
        return self.values.get(name, "").replace("\x00", "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)


def _option_lines(options: list[dict[str, str]]) -> str:
    lines = []
    for o in options:
        same = slug(o["label"], "") == o["value"]
        lines.append(o["label"] if same else f"{o['value']} | {o['label']}")
    return "\n".join(lines)


def builder_of(definition: FormDefinition) -> Builder:
    """A stored definition as the builder shows it."""
    doc = to_json(definition)
    rows = []
    for f in doc["fields"]:
        labels = (f.get("scale_labels") or []) + ["", ""]
        rows.append({
            "key": f["key"], "type": f["type"], "label": f["label"], "help": f.get("help", ""),
            "required": "yes" if f.get("required") else "", "options": _option_lines(f.get("options", [])),
            "scale_min": str(f.get("scale_min", 0)), "scale_max": str(f.get("scale_max", 10)),
            "scale_low": labels[0], "scale_high": labels[1], "maps_to": f.get("maps_to") or "",
        })
    return Builder(values={"title": doc["title"], "language": doc["language"], "intro": doc.get("intro", "")}, rows=rows)


def read_builder(values: dict[str, Any]) -> Builder:
    """The builder form posted (``values`` from :func:`~anima.web.forms.read_form`), fields in index order."""
    indexed: dict[int, dict[str, str]] = {}
    form_values: dict[str, str] = {}
    for name, value in values.items():
        text = value if isinstance(value, str) else ""
        if m := _INPUT.match(name):
            indexed.setdefault(int(m.group(1)), {})[m.group(2)] = text
        elif name in ("title", "language", "intro", "new_type"):
            form_values[name] = text
    rows = [indexed[i] for i in sorted(indexed)][: MAX_FIELDS + 1]
    return Builder(values=form_values, rows=rows)


def _new_key(rows: list[dict[str, str]]) -> str:
    taken = {r.get("key") for r in rows}
    n = len(rows) + 1
    while f"q{n}" in taken:
        n += 1
    return f"q{n}"


def apply_action(b: Builder, action: str) -> Builder:
    """Add (type ``new_type``), remove or move a field; the moved field's same button gets the focus."""
    verb, _, at = action.partition(":")
    if verb == "add":
        kind = b.values.get("new_type", "short_text")
        kind = kind if kind in FIELD_TYPES else "short_text"
        if len(b.rows) < MAX_FIELDS:
            b.rows.append({"key": _new_key(b.rows), "type": kind, "label": "", "scale_min": "0", "scale_max": "10"})
            b.focus = f"f{len(b.rows) - 1}.label"
        return b
    if not at.isdigit() or int(at) >= len(b.rows):
        return b
    i = int(at)
    if verb == "remove":
        b.rows.pop(i)
        b.focus = "new_type"
    elif verb == "up" and i > 0:
        b.rows[i - 1], b.rows[i] = b.rows[i], b.rows[i - 1]
        b.focus = f"up:{i - 1}" if i - 1 > 0 else f"down:{i - 1}"
    elif verb == "down" and i < len(b.rows) - 1:
        b.rows[i + 1], b.rows[i] = b.rows[i], b.rows[i + 1]
        b.focus = f"down:{i + 1}" if i + 1 < len(b.rows) - 1 else f"up:{i + 1}"
    return b


def _options(text: str) -> list[dict[str, str]]:
    out = []
    for n, line in enumerate(x.strip() for x in text.replace("\r", "").split("\n")):
        if not line:
            continue
        value, sep, label = line.partition("|")
        if sep:
            out.append({"value": value.strip(), "label": label.strip()})
        else:
            out.append({"value": slug(line, f"option_{n + 1}"), "label": line})
    return out


def document(b: Builder) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The builder's fields as a definition document (not yet validated) and the errors of its
    own conversions (a bound that is not a whole number, NUL characters), by builder input name."""
    errors: list[dict[str, str]] = []
    for name, value in b.values.items():
        errors += string_errors(value, name)[:1]
    fields = []
    for i, r in enumerate(b.rows):
        for name, value in r.items():
            errors += string_errors(value, f"f{i}.{name}")[:1]
        kind = r.get("type", "short_text")
        f: dict[str, Any] = {"key": r.get("key", "").strip(), "type": kind, "label": r.get("label", "").strip()}
        if r.get("help", "").strip():
            f["help"] = r["help"].strip()
        if r.get("required"):
            f["required"] = True
        if kind in ("single_choice", "multiple_choice"):
            f["options"] = _options(r.get("options", ""))
        if kind == "scale":
            for bound in ("scale_min", "scale_max"):
                raw = r.get(bound, "").strip()
                if _INTEGER.match(raw):
                    f[bound] = int(raw)
                else:
                    errors.append({"field": f"f{i}.{bound}", "rule": "type", "message": "must be a whole number"})
            ends = [r.get("scale_low", "").strip(), r.get("scale_high", "").strip()]
            if any(ends):
                f["scale_labels"] = ends
        if r.get("maps_to"):
            f["maps_to"] = r["maps_to"]
        fields.append(f)
    doc = {"title": b.value("title").strip(), "language": b.value("language"), "fields": fields}
    if b.value("intro").strip():
        doc["intro"] = b.value("intro").strip()
    return doc, errors


def preview_of(b: Builder) -> SimpleNamespace:
    """What the preview shows: the fields as typed, made safe to render (never validated: the
    preview shows what is there, the save tells what is wrong)."""
    doc, _ = document(b)
    fields = []
    for i, f in enumerate(doc["fields"]):
        lo, hi = f.get("scale_min", 0), f.get("scale_max", 10)
        if not (-100 <= lo < hi <= 100 and hi - lo <= 100):
            lo, hi = 0, 10
        fields.append(SimpleNamespace(
            key=slug(f["key"], f"q{i + 1}") + f"_{i}", type=f["type"] if f["type"] in FIELD_TYPES else "short_text",
            label=f["label"] or "…", help=f.get("help", ""), required=bool(f.get("required")),
            options=[SimpleNamespace(value=o["value"] or str(n), label=o["label"] or "…") for n, o in enumerate(f.get("options", []))],
            scale_min=lo, scale_max=hi, scale_labels=f.get("scale_labels", []), maps_to=f.get("maps_to"),
        ))
    language = doc["language"] if doc["language"] in LANGUAGES else "en"
    return SimpleNamespace(title=doc["title"] or "…", intro=doc.get("intro", ""), language=language, fields=fields)


def _input_name(path: str) -> str:
    if m := _PATH.match(path):
        return f"f{m.group(1)}.{m.group(2) or 'label'}"
    return path.split(".")[0].split("[")[0] or "fields"


def show_errors(b: Builder, errors: list[dict[str, str]], language: str) -> Builder:
    """Put each error beside its builder input (``fields[2].options`` → ``f2.options``)."""
    for e in errors:
        name = _input_name(e.get("field", ""))
        rule, message = e.get("rule", ""), e.get("message", "")
        if rule in RULE_TEXT and (rule != "type" or name.endswith("maps_to")):
            sentence = gettext(language, RULE_TEXT[rule])
        else:
            sentence = field_message(message, rule, language)
        b.errors.setdefault(name, sentence)
    b.message = kind_message("invalid-input", language)
    return b


def has_custom_forms(tier: str) -> bool:
    """Whether the plan of ``tier`` has the ``custom_forms`` feature."""
    try:
        forms.require_custom_forms(tier)
    except Forbidden:
        return False
    return True


async def _versions(tenant: TenantContext, form_id: uuid.UUID) -> list[Any]:
    return list((await tenant.session.execute(
        sa.select(FormVersion.version, FormVersion.created_at, FormVersion.definition["title"].as_string().label("title"),
                  StaffMember.display_name.label("by"))
        .outerjoin(StaffMember, StaffMember.id == FormVersion.created_by)
        .where(FormVersion.form_id == form_id).order_by(FormVersion.version.desc())
    )).all())


async def _page(
    tenant: TenantContext, ws: Workspace, b: Builder, *, form: Any = None, status: int = 200, saved: bool = False,
) -> Template:
    ws.active = "forms"
    allowed = has_custom_forms(tenant.tenant.tier)
    upgrade_to = None
    if not allowed:
        try:
            forms.require_custom_forms(tenant.tenant.tier)
        except Forbidden as refused:
            upgrade_to = (refused.extra or {}).get("upgrade_to")
    return render(
        "forms/builder.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, b=b, form_row=form,
        allowed=allowed, upgrade_to=upgrade_to, request_saved=saved,
        builder_url=f"{ws.base}/forms/{form.id}/edit" if form is not None else f"{ws.base}/forms/new", field_types=FIELD_TYPES, details=tuple(MAPPABLE), languages=LANGUAGES,
        templates=system_templates(), shown=preview_of(b), empty_state=_empty_state(), org_name=tenant.tenant.name,
        versions=await _versions(tenant, form.id) if form is not None else [],
    )


def _empty_state() -> FormState:
    """What the preview's fill template reads as the client's answers: none yet."""
    return FormState()


def _starter(language: str) -> Builder:
    return Builder(values={"title": "", "language": language if language in LANGUAGES else "en", "intro": ""},
                   rows=[{"key": "q1", "type": "short_text", "label": "", "scale_min": "0", "scale_max": "10"}])


@get("/o/{org_slug:str}/forms/new", opt=OWNERS, name="forms:builder-new")
async def builder_new_page(tenant: TenantContext, ws: Workspace) -> Template:
    """A new organization template (or, without ``custom_forms``, what the plan needs and the system templates)."""
    return await _page(tenant, ws, _starter(ws.language))


@get("/o/{org_slug:str}/forms/{form_id:uuid}/edit", opt=OWNERS, name="forms:builder-edit")
async def builder_edit_page(tenant: TenantContext, ws: Workspace, form_id: uuid.UUID, saved: int | None = None) -> Template:
    """An organization template's current version in the builder, with its version history
    (``saved``: the version just saved, announced)."""
    form = await forms.get_form(tenant.session, form_id)
    if form.system_key is not None:
        raise Conflict("system templates are not edited; create an organization form instead")
    _, definition = await forms.version_of(tenant.session, form)
    return await _page(tenant, ws, builder_of(definition), form=form, saved=saved is not None)


async def _unique_key(tenant: TenantContext, title: str) -> str:
    base = slug(title, "form", limit=50)
    if base.split("_")[0] in ("intake", "consent", "phq9", "gad7"):
        base = f"my_{base}"[:50]
    taken = set((await tenant.session.execute(sa.select(forms.Form.key).where(forms.Form.key.like(f"{base}%")))).scalars())
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


async def _submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor, form_id: uuid.UUID | None) -> Response[Any]:
    form = await forms.get_form(tenant.session, form_id) if form_id is not None else None
    b = read_builder(await read_form(request))
    action = str((await request.form()).get("action", "save"))
    if action != "save":
        return await _page(tenant, ws, apply_action(b, action), form=form)
    forms.require_custom_forms(tenant.tenant.tier)
    doc, errors = document(b)
    if not errors:
        definition, errors = validate_value(doc, FormDefinition)
    if errors:
        return await _page(tenant, ws, show_errors(b, errors, ws.language), form=form, status=422)
    try:
        if form is None:
            saved = await forms.create_form(tenant.session, actor, tier=tenant.tenant.tier, key=await _unique_key(tenant, definition.title),
                                            definition=definition)
        else:
            saved = await forms.update_definition(tenant.session, actor, tier=tenant.tenant.tier, form_id=form.id, definition=definition)
    except InvalidInput as problem:
        return await _page(tenant, ws, show_errors(b, problem.errors, ws.language), form=form, status=422)
    except Conflict as problem:
        b.message = problem.detail if ws.language == "en" else kind_message(problem.kind, ws.language)
        return await _page(tenant, ws, b, form=form, status=409)
    return see_other(request, f"{ws.base}/forms/{saved.id}/edit?saved={saved.current_version}")


@post("/o/{org_slug:str}/forms/new", opt=OWNERS, name="forms:builder-create")
async def builder_create_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor) -> Response[Any]:
    """Add/remove/move a field (the page again) or save version 1 of a new template."""
    return await _submit(request, tenant, ws, actor, None)


@post("/o/{org_slug:str}/forms/{form_id:uuid}/edit", opt=OWNERS, name="forms:builder-update")
async def builder_update_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor, form_id: uuid.UUID,
) -> Response[Any]:
    """Add/remove/move a field (the page again) or save the template's next version."""
    return await _submit(request, tenant, ws, actor, form_id)


@post("/o/{org_slug:str}/forms/builder/preview", opt=OWNERS, name="forms:builder-preview")
async def builder_preview(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace) -> Template:
    """The preview of the builder's fields as posted: the public fill page's own field template."""
    b = read_builder(await read_form(request))
    shown = preview_of(b)
    return render("forms/builder_preview.html", language=shown.language, shown=shown, empty_state=_empty_state(), org_name=tenant.tenant.name)


PAGE_HANDLERS = [builder_new_page, builder_edit_page, builder_create_submit, builder_update_submit, builder_preview]
