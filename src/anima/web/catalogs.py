"""Extracting the messages of each package and keeping its ``locales/<lang>.po`` in step.

An *area* is a package folder that renders text and keeps translations beside it: ``anima/web``,
``anima/identity``, ``anima/domains/<name>`` … — any folder holding ``locales/``. Its messages are
extracted (Babel) from its own Python files — ``_()``/``N_()``, ``gettext(language, …)`` and
``plural(language, singular, plural, n)`` — and templates (``templates/**.html``: ``_()`` and
``ngettext()``). ``anima catalogs`` (:func:`update_area`) adds new messages to every language's
catalog with an empty translation and drops messages no longer used, keeping every existing
translation; a test fails while any is empty (:func:`missing_translations`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from anima.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, PACKAGE_ROOT

PY_KEYWORDS = {"_": None, "N_": None, "gettext": (2,), "plural": (2, 3)}
TEMPLATE_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
#: languages whose catalogs must be complete (English is the source text)
TRANSLATED = tuple(language for language in LANGUAGES if language != DEFAULT_LANGUAGE)


#: catalog header dates are fixed so that an update changes only messages
_FIXED = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Message:
    """One extracted message: its id (a string, or (singular, plural)) and where it is used."""

    id: str | tuple[str, str]
    locations: tuple[tuple[str, int], ...]


def areas(root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every package folder with a ``locales/`` folder, sorted."""
    return sorted(p.parent for p in root.glob("**/locales") if p.is_dir() and "static" not in p.parts)


def _not_nested_area(area: Path, filename: str) -> bool:
    """Files of ``area`` itself: not of a nested area (a domain inside ``domains``)."""
    parts = Path(filename).parts
    for index in range(1, len(parts)):
        if (area.joinpath(*parts[:index]) / "locales").is_dir():
            return False
    return "static" not in parts


def extract(area: Path) -> dict[str | tuple[str, str], Message]:
    """The messages of ``area`` by id, from its Python files and its templates."""
    found: dict[str | tuple[str, str], list[tuple[str, int]]] = {}
    passes = (
        ([("**.py", "python")], PY_KEYWORDS, {}),
        ([("**/templates/**.html", "jinja2")], TEMPLATE_KEYWORDS, {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}),
    )
    for method_map, keywords, options in passes:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(area), method_map=method_map, options_map=options, keywords=keywords,
            comment_tags=(), strip_comment_tags=True,
        ):
            if not _not_nested_area(area, filename):
                continue
            key = tuple(message) if isinstance(message, (tuple, list)) else message
            if isinstance(key, tuple):
                key = (key[0], key[1])
            if not key or (isinstance(key, tuple) and not all(key)):
                continue
            found.setdefault(key, []).append((filename, lineno))
    return {k: Message(k, tuple(v)) for k, v in found.items()}


def catalog_path(area: Path, language: str) -> Path:
    return area / "locales" / f"{language}.po"


def read_catalog(area: Path, language: str) -> Catalog:
    path = catalog_path(area, language)
    if not path.exists():
        return Catalog(locale=language, project="Anima")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update_area(area: Path) -> dict[str, int]:
    """Bring every language's catalog of ``area`` in step with its code; returns empty translations by language."""
    messages = extract(area)
    missing: dict[str, int] = {}
    for language in TRANSLATED:
        old = read_catalog(area, language)
        new = Catalog(
            locale=language, project="Anima", version="1", fuzzy=False, creation_date=_FIXED, revision_date=_FIXED,
            header_comment=f"# Anima: {language} messages of {area.relative_to(PACKAGE_ROOT)} (anima catalogs keeps them in step).",
            copyright_holder="Anima",
        )
        for key, message in sorted(messages.items(), key=lambda kv: str(kv[0])):
            previous = old.get(key if isinstance(key, str) else key[0])
            string = previous.string if previous is not None else ("" if isinstance(key, str) else ("", ""))
            flags = ("python-format",) if _has_placeholder(key) else ()
            new.add(key, string, locations=[(str(Path(f)), n) for f, n in message.locations], flags=flags)
        catalog_path(area, language).parent.mkdir(parents=True, exist_ok=True)
        with catalog_path(area, language).open("wb") as handle:
            write_po(handle, new, width=100, omit_header=False, sort_output=True, include_previous=False)
        missing[language] = sum(1 for m in new if m.id and not _complete(m.string))
    return missing


def _has_placeholder(key: str | tuple[str, str]) -> bool:
    text = key if isinstance(key, str) else " ".join(key)
    return "%(" in text


def _complete(string: str | tuple[str, ...] | list[str]) -> bool:
    if isinstance(string, str):
        return bool(string.strip())
    return all(s and s.strip() for s in string)


def missing_translations(area: Path) -> list[str]:
    """``"<lang>: <message>"`` for every message of ``area``'s code lacking a translation."""
    messages = extract(area)
    problems: list[str] = []
    for language in TRANSLATED:
        catalog = read_catalog(area, language)
        for key in messages:
            entry = catalog.get(key if isinstance(key, str) else key[0])
            if entry is None or not _complete(entry.string):
                problems.append(f"{language}: {key!r} ({area.relative_to(PACKAGE_ROOT)})")
        for entry in catalog:
            if entry.id and _complete(entry.string) and _has_placeholder(entry.id):
                for error in entry.check(catalog):
                    problems.append(f"{language}: {entry.id!r}: {error}")
    return problems
