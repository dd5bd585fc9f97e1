"""The keywords of an SMS reply that withdraw or give back SMS consent, in en/es/ca/it.

A reply counts only when the *whole* message is one keyword: compared after Unicode NFKD with the
accents dropped, case folded, surrounding spaces and a trailing ``.``/``!`` removed (``"  Baja."``,
``"prou!"``, ``"NO MÁS"`` match; ``"please stop calling"`` does not). The English words are the
carriers' and Twilio's standard opt-out and opt-in keywords (Twilio Advanced Opt-Out); the others
are the usual words in Spanish, Catalan and Italian. ``SI``/``YES`` are deliberately absent: a
"yes" answers a reminder, it does not subscribe anyone.
"""

from __future__ import annotations

import unicodedata

#: a reply that is one of these withdraws SMS consent
STOP_KEYWORDS = frozenset({
    # en (Twilio's opt-out list)
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
    # es
    "BAJA", "PARAR", "PARA", "ALTO", "DETENER", "CANCELAR", "ANULAR", "NO MAS",
    # ca
    "PROU", "DESCONNECTA", "ATURA", "BAIXA", "CANCEL·LA", "CANCELA",
    # it
    "ANNULLA", "BASTA", "FERMA", "FERMATI", "DISISCRIVI", "CANCELLA",
})

#: a reply that is one of these gives SMS consent back (recorded as given "by SMS reply")
START_KEYWORDS = frozenset({
    # en (Twilio's opt-in list, without YES)
    "START", "UNSTOP", "SUBSCRIBE",
    # es
    "ALTA", "EMPEZAR", "REANUDAR", "COMENZAR",
    # ca
    "COMENCA", "REPRENDRE", "ACTIVA",
    # it
    "INIZIA", "RIPRENDI", "ISCRIVI", "ISCRIVIMI",
})


def normalize(body: str) -> str:
    """``body`` as compared with the keywords: accents dropped, upper case, spaces collapsed,
    surrounding spaces and trailing ``.``/``!`` removed."""
    decomposed = unicodedata.normalize("NFKD", body or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.upper().split()).strip(" .!¡")


def keyword(body: str) -> str | None:
    """``"stop"``, ``"start"`` or None for an SMS reply ``body`` (see the module docstring)."""
    word = normalize(body)
    if len(word) > 20:
        return None
    if word in STOP_KEYWORDS:
        return "stop"
    if word in START_KEYWORDS:
        return "start"
    return None


__all__ = ["START_KEYWORDS", "STOP_KEYWORDS", "keyword", "normalize"]
