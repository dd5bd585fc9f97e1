"""Dates, times, numbers and money for a page, by Babel in the viewer's locale and time zone.

An instant (a UTC ``datetime`` from the database) is always shown in the viewer's IANA zone with
the zone named (``30 Nov 2026, 15:00 CET``), as the README's time rules ask. Money is an integer
amount in minor units with an ISO 4217 currency; Babel knows each currency's digits.
"""

from __future__ import annotations

import datetime
import functools
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, dates, numbers
from babel.core import get_global
from babel.dates import DateTimePattern


@functools.lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``; UTC when unset or unknown (never an error on a page)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@functools.cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@functools.cache
def _pattern(language: str, kind: str, style: str) -> DateTimePattern:
    """Babel's date or time pattern of ``style`` for ``language``, parsed once per process.

    ``format_date``/``format_time`` parse the locale and the pattern on every call; a page of
    fifty rows would spend milliseconds on that alone.
    """
    locale = _locale(language)
    text = dates.get_date_format(style, locale=locale) if kind == "date" else dates.get_time_format(style, locale=locale)
    return dates.parse_pattern(text)


def instant(value: datetime.datetime | None, language: str, zone_name: str | None, *, style: str = "medium") -> str:
    """``value`` in ``zone_name`` with the zone's short name (``30 Nov 2026, 15:00 CET``); '' for None.

    Args:
        value: an aware datetime (naive values are taken as UTC).
        language: the page language (``en``, ``es``, ``ca``, ``it``).
        zone_name: the viewer's IANA zone.
        style: Babel's date style (``short``, ``medium``, ``long``).
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    local = value.astimezone(zone(zone_name))
    day = _pattern(language, "date", style).apply(local.date(), _locale(language))
    clock = _pattern(language, "time", "short").apply(local, _locale(language))
    return f"{day}, {clock} {local.tzname()}"


def day(value: datetime.date | datetime.datetime | None, language: str, zone_name: str | None = None) -> str:
    """A calendar day in the locale's medium style; an instant is first moved into ``zone_name``."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).astimezone(zone(zone_name)).date()
    return _medium_day(value, language)


@functools.lru_cache(maxsize=4096)
def _medium_day(value: datetime.date, language: str) -> str:
    """A list shows the same days again and again: each is formatted once per language."""
    return _pattern(language, "date", "medium").apply(value, _locale(language))


def money(amount_minor: int | None, currency: str, language: str) -> str:
    """``amount_minor`` (minor units, e.g. cents) of ``currency`` (ISO 4217) as the locale writes it."""
    if amount_minor is None:
        return ""
    digits = get_global("currency_fractions").get(currency, get_global("currency_fractions")["DEFAULT"])[0]
    return numbers.format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=_locale(language))


def number(value: int | float | None, language: str) -> str:
    """A number with the locale's grouping and decimal signs."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer(value, language)
    return numbers.format_decimal(value, locale=_locale(language))


@functools.lru_cache(maxsize=4096)
def _integer(value: int, language: str) -> str:
    """Counts and page positions repeat on every page: each is formatted once per language."""
    return numbers.format_decimal(value, locale=_locale(language))
