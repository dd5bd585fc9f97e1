"""How far a negation reaches in the risk detector, and what stops it, in en, es, ca and it.

A negation cue cancels a match when it is at most ``NEGATION_WINDOW`` (4) words before it in the
same clause: the 4th word before cancels, the 5th does not. A wider reach would hide real risk
("no sé, la verdad, últimamente pienso en matarme"), a narrower one would flag denials. Each cue
of every language's lexicon is tried at both distances, and every kind of breaker — the scope
breakers of the language ("can't *stop* …"), the clause-ending words ("but", "pero", "però", "ma")
and the clause-ending punctuation — is put between a cue and a match and must let the risk through.
"""

from __future__ import annotations

import pytest

from anima.ai import lexicons as lx
from anima.ai import risk
from anima.ai.risk import NEGATION_WINDOW, detect_risk

#: the documented reach, written out: the tests must not follow a changed constant
REACH = 4

#: a high-severity match of each language that is one pattern starting at its first word
RISK = {"en": "kill myself", "es": "matarme", "ca": "matar-me", "it": "uccidermi"}
#: words that neither negate, nor break a scope or a clause, nor match anything, in any language
FILLERS = {
    "en": ("really", "quite", "often", "lately", "again", "deeply"),
    "es": ("realmente", "bastante", "siempre", "todavía", "muchas", "veces"),
    "ca": ("realment", "força", "sovint", "encara", "molt", "sempre"),
    "it": ("davvero", "spesso", "ancora", "molto", "proprio", "sempre"),
}


def level(text: str, language: str) -> str:
    return detect_risk(text, language).level


def test_the_window_is_four_words():
    assert NEGATION_WINDOW == REACH


@pytest.mark.parametrize("language", lx.LANGUAGES)
def test_the_fixtures_are_neutral(language):
    """Without a cue the sentences are HIGH, and no filler word is a cue or breaker anywhere."""
    special = set(lx.CLAUSE_BREAKERS).union(*lx.NEGATIONS.values(), *lx.POST_NEGATIONS.values(), *lx.SCOPE_BREAKERS.values())
    assert not set(FILLERS[language]) & special
    for n in range(len(FILLERS[language]) + 1):
        result = detect_risk(" ".join([*FILLERS[language][:n], RISK[language]]), language)
        assert (result.level, result.negated) == ("HIGH", ()), n


@pytest.mark.parametrize("language", lx.LANGUAGES)
def test_a_cue_four_words_before_cancels_five_words_before_does_not(language):
    fillers, match = FILLERS[language], RISK[language]
    for cue in sorted(lx.NEGATIONS[language] - lx.SCOPE_BREAKERS[language]):
        for distance in range(1, REACH + 1):  # the cue is the distance-th word before the match
            text = " ".join([cue, *fillers[: distance - 1], match])
            assert level(text, language) == "LOW", (text, "a cue within the window cancels")
        text = " ".join([cue, *fillers[:REACH], match])
        assert level(text, language) == "HIGH", (text, "the 5th word before is out of reach")
        text = " ".join([cue, *fillers[: REACH + 1], match])
        assert level(text, language) == "HIGH", (text, "the 6th word before is out of reach")


def test_a_word_that_is_both_cue_and_scope_breaker_acts_as_a_breaker():
    """English "deny" is both ("I can't deny I want to die" must flag): the breaker wins, so as a
    cue it never cancels; "denies"/"denied" are the cues that do."""
    assert lx.NEGATIONS["en"] & lx.SCOPE_BREAKERS["en"] == {"deny"}
    assert level("I deny I want to kill myself", "en") == "HIGH"
    assert level("can't deny I want to kill myself", "en") == "HIGH"
    assert level("Patient denied wanting to kill myself", "en") == "LOW"


def _breaks(language: str, breaker: str) -> None:
    cue = "no" if "no" in lx.NEGATIONS[language] else "non"
    match, filler = RISK[language], FILLERS[language][0]
    cancelled = f"{cue} {filler} {match}"
    assert level(cancelled, language) == "LOW", cancelled  # the same distance without the breaker
    for text in (f"{cue} {breaker} {match}", f"{cue} {breaker} {filler} {match}", f"{cue} {filler} {breaker} {match}"):
        assert level(text, language) == "HIGH", (text, f"{breaker!r} stops the negation")


@pytest.mark.parametrize("language", lx.LANGUAGES)
def test_scope_breakers_of_the_language_stop_the_negation(language):
    assert lx.SCOPE_BREAKERS[language]
    for breaker in sorted(lx.SCOPE_BREAKERS[language]):
        _breaks(language, breaker)


@pytest.mark.parametrize("language", lx.LANGUAGES)
def test_clause_ending_words_stop_the_negation(language):
    """"but/pero/però/ma" end a clause in any language's text (bilingual notes mix them)."""
    for breaker in sorted(lx.CLAUSE_BREAKERS):
        _breaks(language, breaker)


@pytest.mark.parametrize("language", lx.LANGUAGES)
def test_clause_ending_punctuation_stops_the_negation(language):
    assert {".", ",", ";", "!", "?", "\n"} <= risk._BREAK_CHARS
    for mark in sorted(risk._BREAK_CHARS):
        _breaks(language, mark)
