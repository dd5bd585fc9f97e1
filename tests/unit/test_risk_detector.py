"""The local risk detector (anima.ai.risk): hand-written cases in en, es, ca and it — high,
medium, low, negation, evidence spans at the right substrings — and properties: no text up to the
limit makes it fail, and every span lies within the text and quotes it exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anima.ai.risk import MAX_TEXT_BYTES, TextTooLong, detect_language, detect_risk

# (text, language given or None, expected level, expected flags, substrings the evidence must quote)
CASES: dict[str, list[tuple[str, str | None, str, set[str], list[str]]]] = {
    "en": [
        ("I want to die. Nothing matters anymore.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["want to die"]),
        ("Yesterday I cut myself again after the argument.", "en", "HIGH", {"SELF_HARM"}, ["cut myself"]),
        ("I can't stop thinking about killing myself", None, "HIGH", {"SUICIDAL_IDEATION"}, ["killing myself"]),
        ("I don't know why I want to die", None, "HIGH", {"SUICIDAL_IDEATION"}, ["want to die"]),
        ("He hits me when he's drunk every weekend.", None, "MEDIUM", {"ABUSE", "SUBSTANCE"}, ["hits me", "drunk every"]),
        ("I make myself throw up after dinner.", None, "MEDIUM", {"EATING_DISORDER"}, ["make myself throw up"]),
        ("I do not want to die, I want things to change.", None, "LOW", set(), []),
        ("Patient denies suicidal ideation. Slept well.", "en", "LOW", set(), []),
        ("Suicidal ideation: none.", None, "LOW", set(), []),
        ("A calm week; work on boundaries with her mother.", None, "LOW", set(), []),
        ("I wrote a goodbye letter and I have a plan.", None, "HIGH", {"CRISIS"}, ["goodbye letter", "I have a plan"]),
    ],
    "es": [
        ("Quiero morirme, ya no puedo más.", None, "HIGH", {"SUICIDAL_IDEATION", "CRISIS"}, ["Quiero morirme", "no puedo más"]),
        ("Ayer volví a cortarme los brazos.", "es", "HIGH", {"SELF_HARM"}, ["cortarme"]),
        ("Tiene pensamientos suicidas desde hace semanas.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["pensamientos suicidas"]),
        ("Me provoco el vómito después de cenar.", None, "MEDIUM", {"EATING_DISORDER"}, ["Me provoco el vómito"]),
        ("Mi pareja me pega cuando bebe.", None, "MEDIUM", {"ABUSE"}, ["me pega"]),
        ("No tengo ganas de morir, solo estoy cansada.", None, "LOW", set(), []),
        ("Niega ideación suicida.", "es", "LOW", set(), []),
        ("Hoy ha sido un buen día con mi familia.", None, "LOW", set(), []),
        ("No puedo dejar de pensar en matarme.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["matarme"]),
    ],
    "ca": [
        ("Tinc ganes de morir i no sé què fer.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["ganes de morir"]),
        ("No tinc ganes de morir, però estic molt trist.", None, "LOW", set(), []),
        ("Vull matar-me quan arribo a casa.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["matar-me"]),
        ("Ahir m’he tallat els braços.", "ca", "HIGH", {"SELF_HARM"}, ["m’he tallat"]),
        ("Ell em pega quan està borratxo.", None, "MEDIUM", {"ABUSE", "SUBSTANCE"}, ["em pega", "borratxo"]),
        ("Mai he pensat a matar-me.", None, "LOW", set(), []),
        ("Avui ha estat un bon dia amb els amics.", None, "LOW", set(), []),
        ("Ja no puc més amb aquesta situació.", None, "MEDIUM", {"CRISIS"}, ["no puc més"]),
    ],
    "it": [
        ("Voglio morire, non ce la faccio più.", None, "HIGH", {"SUICIDAL_IDEATION", "CRISIS"}, ["Voglio morire", "non ce la faccio più"]),
        ("Non voglio morire, voglio solo dormire.", None, "LOW", set(), []),
        ("Ieri mi sono tagliata di nuovo.", "it", "HIGH", {"SELF_HARM"}, ["mi sono tagliata"]),
        ("Ho scritto una lettera d'addio ai miei figli.", None, "HIGH", {"CRISIS"}, ["lettera d'addio"]),
        ("Mi faccio vomitare dopo ogni pasto e uso lassativi.", None, "MEDIUM", {"EATING_DISORDER"}, ["Mi faccio vomitare", "lassativi"]),
        ("Il paziente nega pensieri suicidi.", None, "LOW", set(), []),
        ("Oggi è stata una bella giornata al mare.", None, "LOW", set(), []),
        ("Ha pensieri suicidi da un mese.", None, "HIGH", {"SUICIDAL_IDEATION"}, ["pensieri suicidi"]),
    ],
}

FLAT = [(lang, *case) for lang, cases in CASES.items() for case in cases]


@pytest.mark.parametrize(("lang", "text", "given", "level", "flags", "quotes"), FLAT, ids=[f"{c[0]}:{c[1][:30]}" for c in FLAT])
def test_hand_written_cases(lang, text, given, level, flags, quotes):
    result = detect_risk(text, given)
    assert result.level == level, (result.level, [(e.text, e.flag, e.negated) for e in result.evidence + result.negated])
    assert set(result.flags) == flags
    quoted = [e.text for e in result.evidence]
    for q in quotes:
        assert q in quoted, (q, quoted)
    for e in result.evidence + result.negated:
        assert text[e.start : e.end] == e.text


def test_at_least_six_cases_per_language_with_each_level():
    for lang, cases in CASES.items():
        assert len(cases) >= 6, lang
        assert {c[2] for c in cases} >= {"HIGH", "LOW"}, lang
        assert any(c[2] == "MEDIUM" for c in cases), lang


def test_negated_mentions_are_reported_apart():
    result = detect_risk("No tinc ganes de morir.")
    assert result.level == "LOW" and not result.evidence
    assert [(e.text, e.flag, e.negated) for e in result.negated] == [("ganes de morir", "SUICIDAL_IDEATION", True)]


@pytest.mark.parametrize(
    "text",
    ["TINC GANES DE MORIR", "tinc ganes de mori\u0301r", "ｔｉｎｃ ｇａｎｅｓ ｄｅ ｍｏｒｉｒ", "tinc  ganes\tde morír", "tinc ganes de morir\u0301"],
)
def test_case_accents_width_and_spacing_do_not_hide_risk(text):
    result = detect_risk(text)
    assert result.level == "HIGH"
    (span,) = result.evidence
    assert text[span.start : span.end] == span.text
    assert span.text.lower().startswith(("ganes", "ｇａｎｅｓ"))
    assert span.end == len(text)  # a trailing decomposed accent stays inside the span


def test_a_new_line_ends_a_clause():
    assert detect_risk("No.\nVull morir").level == "HIGH"
    assert detect_risk("no\nvull morir").level == "HIGH"  # "<p>no</p><p>vull morir</p>" as text


def test_spans_point_into_the_original_text_after_expanding_characters():
    text = "ﬁne ﬁne ß — I want to die"  # ligatures and ß expand when folded
    (span,) = detect_risk(text).evidence
    assert text[span.start : span.end] == "want to die" == span.text


def test_language_detection_and_hint():
    assert detect_language("Avui he parlat amb la meva mare i estic molt cansada") == "ca"
    assert detect_language("Hoy he hablado con mi madre y estoy muy cansada") == "es"
    assert detect_language("Oggi ho parlato con mia madre e sono molto stanca") == "it"
    assert detect_language("Today I talked with my mother and I am very tired") == "en"
    assert detect_risk("hola", "ca-ES").language == "ca" and detect_risk("hola", "ca-ES").language_detected is False
    assert detect_risk("hello there", "pt-BR").language_detected is True  # unsupported hint: detected


def test_every_language_scanned_in_a_mixed_note():
    result = detect_risk("Today was fine at work. Però després: vull morir.", "en")
    assert result.level == "HIGH" and result.flags == ("SUICIDAL_IDEATION",)


def test_input_limit_is_enforced_in_utf8_bytes():
    at_limit = "a" * MAX_TEXT_BYTES
    assert detect_risk(at_limit).level == "LOW"
    with pytest.raises(TextTooLong) as caught:
        detect_risk("é" * (MAX_TEXT_BYTES // 2 + 1))
    assert caught.value.size == MAX_TEXT_BYTES + 2 and str(MAX_TEXT_BYTES) in str(caught.value)
    with pytest.raises(TypeError):
        detect_risk(b"bytes")  # type: ignore[arg-type]


def test_summary_carries_no_text():
    result = detect_risk("I want to die")
    summary = result.summary()
    assert summary["level"] == "HIGH" and summary["evidence"][0]["start"] == 2
    assert "want" not in repr(summary)


def test_full_size_text_is_screened():
    text = ("Avui he parlat amb la meva mare. No tinc ganes de morir. " * 2000)[: MAX_TEXT_BYTES - 20] + " vull morir"
    result = detect_risk(text)
    assert result.level == "HIGH" and result.evidence[-1].text == "vull morir"
    assert len(result.negated) > 1000


RISKY = st.sampled_from(["vull morir", "I want to die", "no ", "non ", "matar-me", "’", "é", "\u0301", "ﬁ", ",", "ß", "İ"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.text(max_size=40), RISKY), max_size=30).map("".join),
    st.one_of(st.none(), st.sampled_from(["en", "es", "ca", "it", "pt-BR", "", "xx-??"]), st.text(max_size=8)),
)
def test_no_input_makes_it_fail_and_spans_are_exact(text, language):
    result = detect_risk(text, language)
    assert result.level in ("LOW", "MEDIUM", "HIGH")
    assert result.language in ("en", "es", "ca", "it")
    for e in result.evidence + result.negated:
        assert 0 <= e.start < e.end <= len(text)
        assert text[e.start : e.end] == e.text
    assert (result.level == "LOW") == (not result.evidence)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(seed="é", size=MAX_TEXT_BYTES).via("the limit in two-byte characters")
@example(seed="\U0001f600", size=MAX_TEXT_BYTES - 1).via("four-byte characters cut short of the limit")
@given(st.text(min_size=1, max_size=64), st.integers(min_value=1, max_value=MAX_TEXT_BYTES))
def test_any_unicode_up_to_the_limit(seed, size):
    """Long texts of any characters, cut to at most the limit in UTF-8 bytes."""
    text = (seed * (size // max(1, len(seed.encode())) + 1)).encode()[:size].decode("utf-8", "ignore")
    assert len(text.encode()) <= MAX_TEXT_BYTES
    result = detect_risk(text)
    assert (result.level == "LOW") == (not result.evidence)
    for e in result.evidence + result.negated:
        assert text[e.start : e.end] == e.text
