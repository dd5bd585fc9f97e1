"""Languages of the browser workspace: gettext catalogs (Babel) for en, es, ca and it.

Messages are English source strings (``msgid``); every package that renders text keeps its own
translations in ``locales/<lang>.po`` beside its templates (``anima/web/locales``,
``anima/domains/<name>/locales``). At start the ``.po`` files of a language are read with Babel and
merged into one :class:`babel.support.Translations` — compiled in memory, so running Anima needs no
build step and no compiled ``.mo`` file is kept in the repository. English needs no catalog: a
message is its own English text. A test extracts every message from the code and templates and
fails when one lacks a translation in any language.

The page language is, in order: the viewer's own language, the organization's language, the
``anima_lang`` cookie a public page's language picker sets, the browser's ``Accept-Language``,
English.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: the languages Anima speaks, in the order the language pickers list them
LANGUAGES: tuple[str, ...] = ("en", "es", "ca", "it")
DEFAULT_LANGUAGE = "en"
#: the cookie a public page's language picker sets (not a secret; readable by pages only)
LANGUAGE_COOKIE = "anima_lang"

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def catalog_files(language: str) -> list[Path]:
    """Every ``locales/<language>.po`` of the package, sorted (web first, then domains by name)."""
    return sorted(PACKAGE_ROOT.glob(f"**/locales/{language}.po"))


@functools.cache
def translations(language: str) -> NullTranslations:
    """The merged translations of ``language`` (English and unknown languages: the identity)."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return NullTranslations()
    merged: Translations | None = None
    for path in catalog_files(language):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        loaded = Translations(buffer)
        if merged is None:
            merged = loaded
        else:
            merged.merge(loaded)
    return merged or NullTranslations()


def gettext(language: str, message: str, **variables: object) -> str:
    """``message`` in ``language``, with ``%(name)s`` placeholders filled from ``variables``."""
    text = translations(language).gettext(message)
    return text % variables if variables else text


def ngettext(language: str, singular: str, plural: str, n: int, **variables: object) -> str:
    """The plural form of ``language`` for ``n`` (``%(num)s`` is ``n``), placeholders filled."""
    text = translations(language).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def supported(language: str | None) -> str | None:
    """``language`` when Anima speaks it (``es-ES`` → ``es``), else None."""
    if not language:
        return None
    base = language.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header (RFC 9110 §12.5.4) that Anima speaks."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if (language := supported(tag)) and weight > 0:
            ranked.append((-weight, index, language))
    return min(ranked)[2] if ranked else None


def pick_language(*candidates: str | None) -> str:
    """The first of ``candidates`` Anima speaks; English otherwise."""
    for candidate in candidates:
        if language := supported(candidate):
            return language
    return DEFAULT_LANGUAGE


def language_name(language: str) -> str:
    """A language's own name, as its speakers write it (``ca`` → ``català``)."""
    return Locale.parse(language).get_display_name(language) or language
