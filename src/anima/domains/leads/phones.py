"""Phone numbers of leads in E.164 (``+34600112233``), parsed and validated by ``phonenumbers``
(Google's libphonenumber metadata).

A number written with its country code (``+34 600 11 22 33``) is read as such; a national number
(``600 11 22 33``) is read in the organization's region, derived from its locale (``es``/``ca`` →
ES, ``it`` → IT); an English-speaking organization has no default region, so its numbers need the
``+`` and country code. A number that is not a valid number of its region is refused with
:class:`~anima.problems.InvalidInput` naming the field.
"""

from __future__ import annotations

import phonenumbers

from anima.problems import InvalidInput

#: the region a national number is read in, by the organization's locale
REGION_BY_LOCALE = {"es": "ES", "ca": "ES", "it": "IT"}


def to_e164(value: str, *, locale: str | None = None, field: str = "phone") -> str:
    """``value`` as E.164 (``+`` and up to 15 digits).

    Raises:
        InvalidInput (422) on ``field``: rule ``phone`` when it cannot be read as a number, rule
        ``phone-valid`` when it is not a valid number of its region.
    """
    region = REGION_BY_LOCALE.get(locale or "")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        hint = "" if region else " with its country code (+CC …)"
        raise InvalidInput.field(field, "phone", f"not a phone number; write it{hint} in digits") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput.field(field, "phone-valid", "not a valid phone number of its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
