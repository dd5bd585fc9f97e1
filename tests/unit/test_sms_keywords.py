"""The STOP/START keywords of SMS replies: whole message, any case or accent, en/es/ca/it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.reach.keywords import START_KEYWORDS, STOP_KEYWORDS, keyword


def test_the_lists_do_not_overlap_and_name_each_language():
    assert not STOP_KEYWORDS & START_KEYWORDS
    for word in ("STOP", "BAJA", "PARAR", "ALTO", "PROU", "DESCONNECTA", "ANNULLA", "BASTA"):
        assert keyword(word) == "stop", word
    for word in ("START", "UNSTOP", "ALTA", "COMENÇA", "INIZIA"):
        assert keyword(word) == "start", word


def test_case_accents_spaces_and_a_final_mark_do_not_matter_but_other_words_do():
    for body in ("stop", " Stop ", "STOP.", "baja!", "no  más", "NO MAS", "Cancel·la", "comença", "Àlta"):
        assert keyword(body) is not None, body
    for body in ("stop it", "please stop", "sí", "yes", "", "S T O P", "stopp", "\x00STOP"):
        assert keyword(body) is None, body


@given(st.sampled_from(sorted(STOP_KEYWORDS | START_KEYWORDS)), st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8))
def test_a_keyword_with_another_word_is_no_keyword(word, extra):
    assert keyword(f"{word} {extra}") is None or f"{word} {extra}".upper() in STOP_KEYWORDS | START_KEYWORDS
