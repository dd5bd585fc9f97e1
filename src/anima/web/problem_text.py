"""A service's problem in the page's language: a sentence for the page and one beside each field.

Services raise :mod:`anima.problems` types in English with stable parts: the problem ``kind`` and,
for invalid input, each error's ``field`` and ``rule``. A page shows them translated: a field's
error by its rule (a known English sentence with a number is translated with the number kept),
the problem by its kind. In English the service's own words are shown unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from anima.problems import Problem
from anima.web.i18n import DEFAULT_LANGUAGE, gettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


#: field error sentences with a number, by the English text services and validation produce
_NUMBERED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^must have at most (\d+) characters$"), N_("Use at most %(n)s characters.")),
    (re.compile(r"^must have at least (\d+) characters$"), N_("Use at least %(n)s characters.")),
    (re.compile(r"^must be at most (-?\d+)$"), N_("Enter at most %(n)s.")),
    (re.compile(r"^must be at least (-?\d+)$"), N_("Enter at least %(n)s.")),
)

#: field error sentences by rule (the ``rule`` member of an error)
_BY_RULE: dict[str, str] = {
    "required": N_("This field is required."),
    "length": N_("This text is too long or too short."),
    "type": N_("This value has the wrong type."),
    "range": N_("This number is out of range."),
    "format": N_("This value does not have the accepted format."),
    "pattern": N_("This value does not have the accepted format."),
    "enum": N_("Choose one of the offered values."),
    "email": N_("Enter a valid email address."),
    "slug": N_("Use 3 to 40 lowercase letters, digits and hyphens, starting with a letter."),
    "iana": N_("Choose a time zone from the list."),
    "currency": N_("Choose a currency from the list."),
    "password-strength": N_("Choose a stronger password: longer, and not a common word or phrase."),
    "nul-character": N_("Remove the invisible control characters from this text."),
    "lone-surrogate": N_("Remove the invisible control characters from this text."),
    "unknown-field": N_("This field is not accepted here."),
}
_ANY_FIELD = N_("This value is not accepted.")

#: page-level sentences by problem kind
_BY_KIND: dict[str, str] = {
    "invalid-input": N_("Some fields need your attention."),
    "unauthorized": N_("Sign in to continue."),
    "forbidden": N_("Your role does not allow this. An owner of the organization can do it or change your role."),
    "not-found": N_("We could not find this page. It may have been removed, or you may not have access to it."),
    "conflict": N_("This conflicts with the current state. Reload the page and try again."),
    "organization-suspended": N_("This organization is suspended. Its data is kept; contact support to resume it."),
    "rate-limited": N_("Too many attempts. Wait a minute and try again."),
    "plan-limit-reached": N_("Your plan's limit is reached. Upgrade the plan to add more."),
    "payments-not-configured": N_("Online payments are not configured on this server."),
}
_ANY_KIND = N_("Something went wrong. Try again.")


@dataclass
class ProblemText:
    """What a page shows of a problem: one sentence, and a sentence per field name."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)


def field_message(message: str, rule: str, language: str) -> str:
    """One field error in ``language`` (English: the service's own sentence, capitalized)."""
    if language == DEFAULT_LANGUAGE:
        return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    for pattern, template in _NUMBERED:
        if m := pattern.match(message):
            return gettext(language, template, n=m.group(1))
    return gettext(language, _BY_RULE.get(rule, _ANY_FIELD))


def kind_message(kind: str, language: str) -> str:
    """The page sentence of a problem ``kind`` in ``language``."""
    return gettext(language, _BY_KIND.get(kind, _ANY_KIND))


def describe(problem: Problem, language: str) -> ProblemText:
    """The page sentence of ``problem`` and its per-field sentences, in ``language``."""
    fields: dict[str, str] = {}
    for error in problem.errors:
        fields.setdefault(error.get("field", ""), field_message(error.get("message", ""), error.get("rule", ""), language))
    if language == DEFAULT_LANGUAGE and problem.kind != "invalid-input":
        message = problem.detail
    else:
        message = kind_message(problem.kind, language)
    return ProblemText(message, fields)
