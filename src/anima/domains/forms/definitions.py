"""Form definitions: the fields of one version of a form, as msgspec structures, validated strictly.

A :class:`FormDefinition` is what one version of a template says: its title, language, an
introduction and its fields in order. A field has a ``key`` (stable name of its answer), a
``type`` (:data:`FIELD_TYPES`), a ``label``, optional ``help`` text, ``required``, ``options``
(choices), a scale's bounds, and optionally ``maps_to``: the person detail it fills (first or last
name, email, phone, birth date, language) when a lead or a patient is made from the answers.

:func:`check_definition` applies the rules msgspec's types cannot say and raises
:class:`~anima.problems.InvalidInput` naming every bad field by its path (``fields[2].options``):

* field keys are unique; a ``section`` heading carries no answer (not required, not mapped);
* ``single_choice`` and ``multiple_choice`` have 2 to 30 options with unique values; other types
  have none;
* a ``scale`` has ``scale_min < scale_max`` and at most 100 steps;
* ``maps_to`` fits the type (email → ``email``, phone → ``phone``, birth date → ``date``, names →
  ``short_text``, language → ``single_choice`` whose values are languages Anima speaks) and each
  detail is mapped at most once;
* ``measure`` (a scored instrument) is for the system templates only.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from anima.problems import InvalidInput
from anima.request_body import RequestBody

FieldType = Literal[
    "short_text", "long_text", "email", "phone", "date", "single_choice", "multiple_choice",
    "scale", "yes_no", "consent", "section",
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]
PersonDetail = Literal["first_name", "last_name", "email", "phone", "birth_date", "language"]
Language = Literal["en", "es", "ca", "it"]
Measure = Literal["phq9", "gad7"]
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice"})

#: the types each person detail may be mapped from
MAPPABLE: dict[str, frozenset[str]] = {
    "first_name": frozenset({"short_text"}),
    "last_name": frozenset({"short_text"}),
    "email": frozenset({"email"}),
    "phone": frozenset({"phone"}),
    "birth_date": frozenset({"date"}),
    "language": frozenset({"single_choice"}),
}
MAX_FIELDS = 100
MAX_OPTIONS = 30
MAX_SCALE_STEPS = 100

Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="stable name of the answer")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Help = Annotated[str, msgspec.Meta(max_length=1000)]


class Option(RequestBody):
    """One choice: ``value`` stored in the answer, ``label`` shown."""

    value: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,40}$")]
    label: Label


class FieldDef(RequestBody, omit_defaults=True):
    """One field of a form (see the module docstring)."""

    key: Key
    type: FieldType
    label: Label
    help: Help = ""
    required: bool = False
    options: Annotated[list[Option], msgspec.Meta(max_length=MAX_OPTIONS)] = []
    scale_min: Annotated[int, msgspec.Meta(ge=-100, le=100)] = 0
    scale_max: Annotated[int, msgspec.Meta(ge=-100, le=100)] = 10
    #: words shown under a scale's ends (e.g. "not at all", "extremely")
    scale_labels: Annotated[list[Annotated[str, msgspec.Meta(max_length=60)]], msgspec.Meta(max_length=2)] = []
    maps_to: PersonDetail | None = None


class FormDefinition(RequestBody, omit_defaults=True):
    """One version of a form: title, language, introduction, fields; ``measure`` for scored instruments."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    language: Language
    fields: Annotated[list[FieldDef], msgspec.Meta(min_length=1, max_length=MAX_FIELDS)]
    intro: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    measure: Measure | None = None


def _problems(definition: FormDefinition, *, system: bool) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []

    def bad(path: str, rule: str, message: str) -> None:
        errors.append({"field": path, "rule": rule, "message": message})

    if definition.measure is not None and not system:
        bad("measure", "system-only", "scored measures are the system templates (PHQ-9, GAD-7)")
    seen_keys: set[str] = set()
    mapped: set[str] = set()
    answered = 0
    for i, f in enumerate(definition.fields):
        at = f"fields[{i}]"
        if f.key in seen_keys:
            bad(f"{at}.key", "unique", f"the key {f.key!r} is used by an earlier field")
        seen_keys.add(f.key)
        if f.type == "section":
            if f.required:
                bad(f"{at}.required", "section-not-answered", "a section heading is not answered, so it cannot be required")
            if f.maps_to:
                bad(f"{at}.maps_to", "section-not-answered", "a section heading is not answered, so it maps to nothing")
        else:
            answered += 1
        if f.type in CHOICE_TYPES:
            if len(f.options) < 2:
                bad(f"{at}.options", "min-options", "a choice needs at least 2 options")
            values = [o.value for o in f.options]
            if len(set(values)) != len(values):
                bad(f"{at}.options", "unique", "option values must be unique")
        elif f.options:
            bad(f"{at}.options", "choices-only", f"a {f.type} field has no options")
        if f.type == "scale":
            if f.scale_min >= f.scale_max:
                bad(f"{at}.scale_max", "greater-than-min", "scale_max must be greater than scale_min")
            elif f.scale_max - f.scale_min > MAX_SCALE_STEPS:
                bad(f"{at}.scale_max", "max-steps", f"a scale has at most {MAX_SCALE_STEPS} steps")
        elif f.scale_labels:
            bad(f"{at}.scale_labels", "scale-only", "only a scale has end labels")
        if f.maps_to:
            if f.type not in MAPPABLE[f.maps_to]:
                bad(f"{at}.maps_to", "type", f"{f.maps_to} is filled from a {' or '.join(sorted(MAPPABLE[f.maps_to]))} field")
            elif f.maps_to == "language" and not {o.value for o in f.options} <= {"en", "es", "ca", "it"}:
                bad(f"{at}.options", "languages", "a language field offers en, es, ca or it")
            if f.maps_to in mapped:
                bad(f"{at}.maps_to", "unique", f"{f.maps_to} is already mapped by an earlier field")
            mapped.add(f.maps_to)
    if not answered:
        bad("fields", "one-answer", "a form needs at least one field that is answered")
    return errors


def check_definition(definition: FormDefinition, *, system: bool = False) -> FormDefinition:
    """Apply the rules of the module docstring; returns ``definition``.

    Raises:
        InvalidInput (422): every broken rule, each naming its field (``fields[i].key`` …).
    """
    errors = _problems(definition, system=system)
    if errors:
        raise InvalidInput.fields(errors)
    return definition


def to_json(definition: FormDefinition) -> dict:
    """The definition as the JSON document stored with a version."""
    return msgspec.to_builtins(definition)


def from_json(document: dict) -> FormDefinition:
    """A stored version's definition (as written by :func:`to_json`)."""
    return msgspec.convert(document, FormDefinition)
