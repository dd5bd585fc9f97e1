"""The development mailbox: ``GET /dev/mailbox`` and ``GET /dev/mailbox/{id}``.

With no ``SMTP_URL`` the worker delivers the platform's emails into the local mailbox
(:mod:`anima.mail.mailbox`); these pages list its messages newest first and open one with its
links clickable, so that someone running ``anima demo`` can follow an invitation or a password
reset without a mail server. A message with an HTML part opens on it, rendered inside an
``<iframe sandbox srcdoc=…>`` (an empty ``sandbox``: no script, no form, no plugin, no popup,
no navigation of the page, an opaque origin; the HTML is escaped into the attribute), with a link to its
plain-text part (``?part=text``); its attachments (the ``.ics`` of a booking) are listed by name,
type and size. They exist only in development without ``SMTP_URL``: otherwise
(``ANIMA_ENV=production``, or mail really sent) both answer 404. Emails carry single-use links,
so every answer is ``no-store`` and ``no-referrer``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from anima.config import Settings
from anima.mail import mailbox
from anima.runtime import Runtime
from anima.web.render import public_language, render

#: the answers' headers: the messages' links are single-use secrets
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_LINK = re.compile(r"https?://[^\s<>\"']+")


def mailbox_active(settings: Settings) -> bool:
    """True when the development mailbox pages are served (development, no ``SMTP_URL``)."""
    return not settings.is_production and settings.local_mailbox


def _settings(runtime: Runtime) -> Settings:
    if not mailbox_active(runtime.settings):
        raise NotFoundException()
    return runtime.settings


def segments(body: str) -> list[tuple[str, bool]]:
    """``body`` cut into (text, is_link) pieces; links are http(s) addresses (trailing punctuation left out)."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _LINK.finditer(body):
        link = match.group(0).rstrip(".,;:!?)")
        end = match.start() + len(link)
        if match.start() > position:
            pieces.append((body[position:match.start()], False))
        pieces.append((link, True))
        position = end
    if position < len(body):
        pieces.append((body[position:], False))
    return pieces


def _private(response: Template) -> Template:
    response.headers.update(PRIVATE)
    return response


@get("/dev/mailbox", name="mail:mailbox", include_in_schema=False)
async def mailbox_page(request: Request[Any, Any, Any], runtime: Runtime) -> Template:
    """The local mailbox's messages, newest first."""
    settings = _settings(runtime)
    return _private(render(
        "mail/mailbox.html", language=public_language(request), messages=mailbox.messages(settings),
        folder=str(mailbox.directory(settings)),
    ))


@get("/dev/mailbox/{email_id:uuid}", name="mail:message", include_in_schema=False)
async def message_page(request: Request[Any, Any, Any], runtime: Runtime, email_id: uuid.UUID,
                       part: str | None = None) -> Template:
    """One message of the local mailbox: its HTML part sandboxed (``part=text``: the plain-text
    part, links clickable), its attachments listed."""
    settings = _settings(runtime)
    message = mailbox.read(settings, email_id)
    if message is None:
        raise NotFoundException()
    showing = "html" if message.html and part != "text" else "text"
    return _private(render(
        "mail/message.html", language=public_language(request), message=message, segments=segments(message.body),
        showing=showing,
    ))


PAGE_HANDLERS: list[Any] = [mailbox_page, message_page]
