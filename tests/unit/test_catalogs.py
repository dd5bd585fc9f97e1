"""Every message of every page is translated in es, ca and it, with the same placeholders."""

from __future__ import annotations

from anima.web import i18n
from anima.web.catalogs import areas, extract, missing_translations


def test_every_page_message_is_translated_in_every_language():
    found = areas()
    assert found, "the web layer keeps catalogs"
    problems = [problem for area in found for problem in missing_translations(area)]
    assert not problems, "untranslated or broken messages:\n" + "\n".join(problems[:60])


def test_extraction_sees_templates_and_python():
    web = next(a for a in areas() if a.name == "web")
    messages = extract(web)
    assert "Log in" in messages  # a template
    assert "This field is required." in messages  # N_() in Python
    assert "This form has expired. Go back, reload the page and send it again." in messages  # gettext(language, …)


def test_translations_are_served_and_placeholders_filled():
    assert i18n.gettext("ca", "Log in") == "Inicia la sessió"
    assert i18n.gettext("es", "Error %(code)s", code=404) == "Error 404"
    assert i18n.gettext("en", "Log in") == "Log in"
    assert i18n.gettext("xx", "Log in") == "Log in"


def test_language_negotiation():
    assert i18n.from_accept_language("fr-FR, ca;q=0.8, es;q=0.9") == "es"
    assert i18n.from_accept_language("de, it-IT;q=0.1") == "it"
    assert i18n.from_accept_language("de, fr") is None
    assert i18n.from_accept_language("es;q=abc, ca") == "ca"
    assert i18n.pick_language(None, "", "pt", "CA_es") == "ca"
    assert i18n.pick_language() == "en"


def test_templates_import_macros_with_the_page_context():
    """A macro imported without context would not know the page language and would speak English."""
    import re

    from anima.web.templating import template_folders

    bad = []
    for folder in template_folders():
        for template in folder.glob("**/*.html"):
            for line in template.read_text().splitlines():
                if re.search(r"\{%-?\s*(from|import)\s", line) and "with context" not in line:
                    bad.append(f"{template.relative_to(folder)}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_one_message_has_one_translation_across_packages():
    """The catalogs of a language are merged into one: a message translated two ways would show
    the other package's words (one name, one meaning — give a different sense its own message)."""
    from anima.web.catalogs import TRANSLATED, read_catalog

    clashes = []
    for language in TRANSLATED:
        seen: dict[str, tuple[str, str]] = {}
        for area in areas():
            for entry in read_catalog(area, language):
                if not entry.id or not isinstance(entry.id, str) or not entry.string:
                    continue
                first = seen.setdefault(entry.id, (str(entry.string), area.name))
                if first[0] != entry.string:
                    clashes.append(f"{language}: {entry.id!r}: {first[0]!r} ({first[1]}) vs {entry.string!r} ({area.name})")
    assert not clashes, "\n".join(clashes)
