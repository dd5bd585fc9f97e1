"""Form definitions and answers, property-based: every valid definition renders and validates its
answers; every invalid answer gets an error naming its field; broken definitions name the field."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.domains.forms import system
from anima.domains.forms.answers import MAX_LONG, MAX_SHORT, MAX_SUBMISSION_BYTES, SubmissionTooLarge, validate_answers
from anima.domains.forms.definitions import FieldDef, FormDefinition, Option, check_definition
from anima.problems import InvalidInput
from anima.web.templating import build_environment

ENV = build_environment()
TYPES = ["short_text", "long_text", "email", "phone", "date", "single_choice", "multiple_choice", "scale", "yes_no", "consent", "section"]
label = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)
option_values = st.lists(st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True), min_size=2, max_size=6, unique=True)


@st.composite
def field_defs(draw, key: str) -> FieldDef:
    kind = draw(st.sampled_from(TYPES))
    options = []
    if kind in ("single_choice", "multiple_choice"):
        options = [Option(v, draw(label)) for v in draw(option_values)]
    lo = draw(st.integers(-5, 5))
    hi = lo + draw(st.integers(1, 20))
    required = kind != "section" and draw(st.booleans())
    return FieldDef(key=key, type=kind, label=draw(label), help=draw(st.one_of(st.just(""), label)), required=required,
                    options=options, scale_min=lo if kind == "scale" else 0, scale_max=hi if kind == "scale" else 10)


@st.composite
def definitions(draw) -> FormDefinition:
    keys = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), min_size=1, max_size=12, unique=True))
    fields = [draw(field_defs(k)) for k in keys]
    fields.append(FieldDef(key="zz_last", type="short_text", label="Last"))  # at least one answered field
    mapped = {"email": "email", "phone": "phone", "date": "birth_date"}
    taken: set[str] = set()
    for i, f in enumerate(fields):  # map some details, each once, from fitting types
        detail = mapped.get(f.type)
        if detail and detail not in taken and draw(st.booleans()):
            taken.add(detail)
            fields[i] = msgspec.structs.replace(f, maps_to=detail)
    return FormDefinition(title=draw(label), language=draw(st.sampled_from(["en", "es", "ca", "it"])), fields=fields)


def render(definition: FormDefinition, values: dict | None = None, errors: dict | None = None) -> str:
    from anima.web.forms import FormState

    return ENV.get_template("forms/fill.html").render(
        language=definition.language, time_zone="UTC", definition=definition, form=FormState(values or {}, errors or {}),
        org_name="Practice", version=1, honeypot="_homepage", version_field="_version", preview=False, csrf_input="", csrf_token=lambda: "",
        picker_next="/",
    )


def valid_answer(f: FieldDef, draw) -> object:
    return {
        "short_text": "hello", "long_text": "line one\nline two", "email": "ana@example.org", "phone": "+34 600 000 000",
        "date": "1990-05-17", "single_choice": f.options[0].value if f.options else "", "multiple_choice": [o.value for o in f.options[:2]],
        "scale": str(f.scale_min), "yes_no": "no", "consent": "yes",
    }[f.type]


def invalid_answers(f: FieldDef) -> list[object]:
    common = ["bad\x00value"]
    return common + {
        "short_text": ["two\nlines", "x" * (MAX_SHORT + 1)],
        "long_text": ["x" * (MAX_LONG + 1)],
        "email": ["not an email", "a@b"],
        "phone": ["12", "call me"],
        "date": ["2020-13-40", "17/05/1990", "1800-01-01"],
        "single_choice": ["zz-not-offered"],
        "multiple_choice": [["zz-not-offered"], [f.options[0].value, f.options[0].value] if f.options else ["x"]],
        "scale": [str(f.scale_max + 1), "1.5", "ten"],
        "yes_no": ["maybe"],
        "consent": ["maybe"],
    }[f.type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions(), st.data())
def test_every_valid_definition_renders_and_validates(definition, data):
    check_definition(definition)
    html = render(definition)
    answered = [f for f in definition.fields if f.type != "section"]
    for f in answered:
        assert f'name="{f.key}"' in html
    answers = {f.key: valid_answer(f, data.draw) for f in answered}
    typed, errors = validate_answers(definition, answers)
    assert errors == []
    assert set(typed) <= set(answers)
    # the page shows the typed values and errors back
    rerendered = render(definition, {k: v for k, v in answers.items()}, {answered[0].key: "wrong"})
    assert f'id="e-{answered[0].key}"' in rerendered


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions(), st.data())
def test_every_invalid_answer_gets_an_error_naming_its_field(definition, data):
    answered = [f for f in definition.fields if f.type != "section"]
    target = data.draw(st.sampled_from(answered))
    bad = data.draw(st.sampled_from(invalid_answers(target)))
    answers = {f.key: valid_answer(f, data.draw) for f in answered}
    answers[target.key] = bad
    _, errors = validate_answers(definition, answers)
    assert [e["field"] for e in errors] == [target.key], (target.type, bad, errors)


@settings(max_examples=40, deadline=None)
@given(definitions())
def test_required_fields_left_empty_are_named(definition):
    _, errors = validate_answers(definition, {})
    required = {f.key for f in definition.fields if f.required}
    assert {e["field"] for e in errors} == required
    assert all(e["rule"] == "required" for e in errors)


def test_unknown_answers_and_oversized_submissions():
    d = system.system_definition("intake", "en")
    _, errors = validate_answers(d, {"first_name": "Ana", "email": "ana@example.org", "tenant_id": "1"})
    assert errors == [{"field": "tenant_id", "rule": "unknown-field", "message": "this form has no such field"}]
    with pytest.raises(SubmissionTooLarge):
        validate_answers(d, {"reason": "x" * (MAX_SUBMISSION_BYTES + 1)})
    _, errors = validate_answers(d, {"first_name": "Ana", "email": "ana@example.org", "reason": "\ud800"})
    assert errors[0]["field"] == "reason" and errors[0]["rule"] == "lone-surrogate"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda fs: fs + [FieldDef(key=fs[0].key, type="short_text", label="dup")], "fields[2].key"),
        (lambda fs: [FieldDef(key="c", type="single_choice", label="c", options=[Option("a", "A")])] + fs[1:], "fields[0].options"),
        (lambda fs: [FieldDef(key="c", type="single_choice", label="c", options=[Option("a", "A"), Option("a", "B")])] + fs[1:], "fields[0].options"),
        (lambda fs: [FieldDef(key="s", type="scale", label="s", scale_min=3, scale_max=3)] + fs[1:], "fields[0].scale_max"),
        (lambda fs: [FieldDef(key="t", type="short_text", label="t", options=[Option("a", "A"), Option("b", "B")])] + fs[1:], "fields[0].options"),
        (lambda fs: [FieldDef(key="t", type="short_text", label="t", maps_to="email")] + fs[1:], "fields[0].maps_to"),
        (lambda fs: [FieldDef(key="h", type="section", label="h", required=True)] + fs[1:], "fields[0].required"),
        (lambda fs: [FieldDef(key="e1", type="email", label="e", maps_to="email"), FieldDef(key="e2", type="email", label="e", maps_to="email")], "fields[1].maps_to"),
        (lambda fs: [FieldDef(key="h", type="section", label="h")], "fields"),
    ],
)
def test_broken_definitions_name_the_field(change, field):
    base = [FieldDef(key="a", type="short_text", label="A"), FieldDef(key="b", type="long_text", label="B")]
    definition = FormDefinition(title="T", language="en", fields=change(base))
    with pytest.raises(InvalidInput) as caught:
        check_definition(definition)
    assert field in [e["field"] for e in caught.value.errors]


def test_a_measure_is_for_system_templates_only():
    phq9 = system.system_definition("phq9", "es")
    with pytest.raises(InvalidInput) as caught:
        check_definition(phq9)
    assert caught.value.errors[0]["field"] == "measure"


@pytest.mark.parametrize("key", system.SYSTEM_KEYS)
@pytest.mark.parametrize("language", system.LANGUAGES)
def test_every_system_template_renders_in_every_language(key, language):
    definition = system.system_definition(key, language)
    assert definition.language == language
    html = render(definition)
    assert f'<html lang="{language}">' in html
