"""Rendering an email: subject, plain text and HTML from one Jinja2 template, in a language.

Each kind of email is one template ``mail/email/<name>.html`` extending ``mail/email/layout.html``
with three blocks: ``subject`` (one line), ``text`` (the plain-text part) and ``content`` (the
HTML part's body, inside the layout that names the organization). Every string goes through the
gettext of :mod:`anima.web.i18n` (catalogs in ``anima/mail/locales/<lang>.po``), so one template
serves en, es, ca and it. The HTML part is rendered with autoescaping; the subject and the text
part by a second environment over the same files without autoescaping (a plain-text part holds
``&`` as ``&``, never ``&amp;``).

:func:`from_header` is the From of a message: the organization's name as display name and the
organization's own address when it set one, else the address of ``ANIMA_MAIL_FROM``; a message
that belongs to no organization is from ``ANIMA_MAIL_FROM`` itself.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import formataddr, parseaddr
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from anima.web import i18n, templating

#: the email templates' folder inside the template search path
TEMPLATE_DIR = "mail/email"


@dataclass(frozen=True)
class Composed:
    """A rendered email: ``subject`` (one line), ``text`` (plain-text part), ``html`` (HTML part),
    and the ``language`` it was rendered in."""

    subject: str
    text: str
    html: str
    language: str


@functools.cache
def _html_env() -> Environment:
    return templating.build_environment()


@functools.cache
def _text_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(p) for p in templating.template_folders()]),
        autoescape=False,  # noqa: S701 - the plain-text part and the subject are not HTML
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(templating._gettext, templating._ngettext, newstyle=True)  # type: ignore[attr-defined]  # noqa: SLF001
    env.filters.update(_html_env().filters)
    return env


_BLANKS = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)) + "\n"


def render(template: str, language: str | None, **context: Any) -> Composed:
    """Render template ``mail/email/<template>.html`` in ``language`` (en when not spoken).

    ``context`` holds the template's variables; ``org_name`` (the organization's name, or None for
    a platform message) is always defined for the layout.

    Raises:
        jinja2.TemplateNotFound: no such email template.
        jinja2.UndefinedError: a variable the template uses is missing.
    """
    language = i18n.pick_language(language)
    variables = {"org_name": None, **context, "language": language}
    path = f"{TEMPLATE_DIR}/{template}.html"
    text_template = _text_env().get_template(path)
    text_context = text_template.new_context(dict(variables))
    subject = " ".join("".join(text_template.blocks["subject"](text_context)).split())
    text = _tidy_text("".join(text_template.blocks["text"](text_context)))
    html = _html_env().get_template(path).render(variables, subject=subject)
    return Composed(subject=subject[:255], text=text, html=html, language=language)


#: the SMS templates' folder (one ``text`` block each)
SMS_DIR = "mail/sms"


def render_sms(template: str, language: str | None, **context: Any) -> str:
    """The text of SMS template ``mail/sms/<template>.html`` in ``language``, on one or a few lines
    (no HTML, not escaped). Raises as :func:`render`."""
    language = i18n.pick_language(language)
    tpl = _text_env().get_template(f"{SMS_DIR}/{template}.html")
    return _tidy_text("".join(tpl.blocks["text"](tpl.new_context({"org_name": None, **context, "language": language})))).strip()


def footer(template: str, language: str | None, **context: Any) -> tuple[str, str]:
    """The ``text`` and ``content`` blocks of ``mail/email/<template>.html`` alone: a (plain text,
    HTML fragment) pair to add to a message already rendered (an unsubscribe footer)."""
    language = i18n.pick_language(language)
    variables = {"org_name": None, **context, "language": language}
    path = f"{TEMPLATE_DIR}/{template}.html"
    text_template = _text_env().get_template(path)
    text = _tidy_text("".join(text_template.blocks["text"](text_template.new_context(dict(variables)))))
    html_template = _html_env().get_template(path)
    html = "".join(html_template.blocks["content"](html_template.new_context(dict(variables))))
    return text, html


#: where the layout leaves room for a footer added at sending time
FOOTER_MARK = "<!--anima:footer-->"


def with_footer(text: str, html: str, footer_text: str, footer_html: str) -> tuple[str, str]:
    """``text`` and ``html`` with a footer appended (in the HTML: at the layout's footer mark)."""
    html = html.replace(FOOTER_MARK, footer_html + FOOTER_MARK, 1) if FOOTER_MARK in html else html + footer_html
    return text.rstrip("\n") + "\n\n" + footer_text, html


def from_header(mail_from: str, org_name: str | None = None, org_address: str | None = None) -> str:
    """The From header (RFC 5322 ``display-name <address>``) of a message.

    Args:
        mail_from: ``ANIMA_MAIL_FROM`` (the platform default, ``Name <address>`` or an address).
        org_name: the organization the message belongs to (its display name), or None.
        org_address: the organization's own sending address, when it set one.
    """
    if org_name is None:
        return mail_from
    address = org_address or parseaddr(mail_from)[1]
    return str(Address(display_name=" ".join(org_name.split())[:120], addr_spec=address)) if address.isascii() \
        else formataddr((org_name, address))


__all__ = ["FOOTER_MARK", "Composed", "footer", "from_header", "render", "render_sms", "with_footer"]
