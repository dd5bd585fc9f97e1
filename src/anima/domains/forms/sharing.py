"""Sharing a form: its address, a QR code of it (segno, SVG or PNG) and a WhatsApp link.

* :func:`fill_url` — ``{public_url}/p/{org_slug}/f/{token}``, the public page of a public link or
  of a one-time assignment.
* :func:`qr_svg` / :func:`qr_png` — the address as a QR code (error correction M, 4 px modules
  and a quiet zone of 4 modules, so a phone camera reads it from a printed sheet).
* :func:`whatsapp_url` — ``https://wa.me/<number>?text=<text>`` (WhatsApp's click-to-chat: the
  number in international format, digits only; without a number WhatsApp asks whom to send it
  to) with a prefilled :func:`share_text` in the organization's language.
"""

from __future__ import annotations

import io
import re
import urllib.parse

import segno

#: the invitation sentence of a shared link, per language (the organization's): title, address
SHARE_TEXT = {
    "en": "Hello! Please fill in “{title}” here: {url}",
    "es": "¡Hola! Por favor, rellena «{title}» aquí: {url}",
    "ca": "Hola! Si us plau, omple «{title}» aquí: {url}",
    "it": "Ciao! Per favore compila «{title}» qui: {url}",
}


def fill_url(public_url: str, org_slug: str, token: str) -> str:
    """The address of the fill page of ``token`` in organization ``org_slug``."""
    return f"{public_url.rstrip('/')}/p/{org_slug}/f/{token}"


def share_text(language: str, title: str, url: str) -> str:
    """The prefilled message in ``language`` (English for a language Anima does not speak)."""
    return SHARE_TEXT.get(language, SHARE_TEXT["en"]).format(title=title, url=url)


def whatsapp_url(text: str, number: str | None = None) -> str:
    """WhatsApp's click-to-chat link with ``text`` prefilled; ``number`` (any punctuation, with its
    country code) keeps its digits only; none opens WhatsApp's own choice of chat."""
    digits = re.sub(r"\D", "", number or "")
    return f"https://wa.me/{digits}?text={urllib.parse.quote(text, safe='')}"


def _qr(url: str) -> segno.QRCode:
    return segno.make_qr(url, error="m")


def qr_svg(url: str, *, title: str | None = None) -> bytes:
    """The QR code of ``url`` as an SVG document (``title`` becomes its accessible name)."""
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", scale=4, border=4, title=title, xmldecl=True, svgns=True)
    return out.getvalue()


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """The QR code of ``url`` as a PNG image (``scale`` pixels per module)."""
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
