"""The pure rules of leads: freshness boundaries, E.164 phones, the WhatsApp link, move rules."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anima.domains.leads.phones import to_e164
from anima.domains.leads.pipeline import STAGES, Freshness, Stage, can_convert, freshness, move_error
from anima.domains.leads.whatsapp import GREETINGS, whatsapp_url
from anima.problems import InvalidInput

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
H = datetime.timedelta(hours=1)


@pytest.mark.parametrize(("age", "expected"), [
    (0 * H, Freshness.GREEN), (23.99 * H, Freshness.GREEN), (24 * H, Freshness.AMBER), (72 * H, Freshness.AMBER),
    (72.01 * H, Freshness.GRAY), (168 * H, Freshness.GRAY), (168.01 * H, Freshness.GHOST), (1000 * H, Freshness.GHOST),
])
def test_freshness_bands(age, expected):
    assert freshness("NEW", None, NOW - age, NOW) is expected
    # the last contact counts, not creation
    assert freshness("CONTACTED", NOW - age, NOW - 5000 * H, NOW) is expected


def test_terminal_leads_have_no_freshness():
    assert freshness("CONVERTED", None, NOW - 1000 * H, NOW) is None
    assert freshness("LOST", None, NOW - 1000 * H, NOW) is None


@given(st.sampled_from(STAGES), st.sampled_from(STAGES))
def test_move_rules(current, target):
    error = move_error(current, target)
    if current == target or current == Stage.CONVERTED or target == Stage.CONVERTED:
        assert error is not None
    else:  # open <-> open, open -> LOST, LOST -> open
        assert error is None
    assert can_convert(current) == (current in ("NEW", "CONTACTED", "QUALIFIED"))


@pytest.mark.parametrize(("value", "locale", "expected"), [
    ("+34 600 11 22 33", "en", "+34600112233"), ("600-11-22-33", "es", "+34600112233"), ("(0039) 06 6982 0000", "it", "+390669820000"),
    ("06 69820000", "it", "+390669820000"), ("+1 (202) 456-1111", "ca", "+12024561111"),
])
def test_e164(value, locale, expected):
    assert to_e164(value, locale=locale) == expected


@pytest.mark.parametrize(("value", "locale", "rule"), [
    ("600 11 22 33", "en", "phone"), ("hello", "es", "phone"), ("+34 100 000 000", "es", "phone-valid"), ("+999 1234567", "en", "phone"),
    ("1", "es", "phone"),
])
def test_bad_phones_name_the_field(value, locale, rule):
    with pytest.raises(InvalidInput) as caught:
        to_e164(value, locale=locale)
    assert caught.value.errors[0]["field"] == "phone" and caught.value.errors[0]["rule"] == rule


@pytest.mark.parametrize("locale", sorted(GREETINGS))
def test_whatsapp_link_in_the_organization_language(locale):
    link = whatsapp_url("+34600112233", first_name="Lía & co", practice="Casa Calma", locale=locale)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/34600112233")
    text = parse_qs(parts.query)["text"][0]
    assert text == GREETINGS[locale].format(name="Lía & co", practice="Casa Calma")
    assert "&co" not in parts.query  # encoded, not a second parameter
    assert whatsapp_url(None, first_name="x", practice="y", locale=locale) is None
