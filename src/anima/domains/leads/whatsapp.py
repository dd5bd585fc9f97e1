"""Speed to lead: a WhatsApp click-to-chat link for a lead.

``https://wa.me/<digits>?text=<greeting>`` (WhatsApp's documented click-to-chat format: the full
international number without ``+``, spaces or dashes; the text URL-encoded). The greeting is in
the organization's language (its locale: en, es, ca, it) and names the lead's first name and the
practice; it says nothing about why the person wrote (the link may be seen on a shared screen).
"""

from __future__ import annotations

from urllib.parse import quote

#: the greeting by organization locale; ``{name}`` is the lead's first name, ``{practice}`` the organization
GREETINGS = {
    "en": "Hello {name}, this is {practice}. Thank you for getting in touch! When would be a good time to talk?",
    "es": "Hola {name}, te escribimos de {practice}. ¡Gracias por contactarnos! ¿Cuándo te va bien que hablemos?",
    "ca": "Hola {name}, t'escrivim de {practice}. Gràcies per contactar-nos! Quan et va bé que parlem?",
    "it": "Ciao {name}, ti scriviamo da {practice}. Grazie per averci contattato! Quando ti va bene sentirci?",
}


def whatsapp_url(phone_e164: str | None, *, first_name: str, practice: str, locale: str) -> str | None:
    """The ``wa.me`` link for ``phone_e164`` (``+34600112233``) with the greeting in ``locale``
    (English when the locale has none); None without a phone."""
    if not phone_e164:
        return None
    digits = "".join(ch for ch in phone_e164 if ch.isdigit())
    text = GREETINGS.get(locale, GREETINGS["en"]).format(name=first_name, practice=practice)
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"
