"""Rules shared by every request model: one definition of a phone number, an email, a whole number.

JSON Schema calls 2500.0 an integer, so a client generated from our document may send it:
WholeNumber accepts it as 2500, and still refuses 25.5, "2500" and true.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, StrictStr


def e164_phone(value: str) -> str:
    """A dialable number in E.164 form, normalised (+34600111222)."""
    if not value.startswith("+"):
        raise ValueError("phone numbers are E.164, starting with + and the country code")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in E.164 form") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def email_address(value: str) -> str:
    """A syntactically valid address SES can send to (ASCII only), normalised."""
    try:
        return str(validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a whole number, not true or false")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a whole number (amounts are in minor units, e.g. 2500 for 25.00)")
        return int(value)
    if not isinstance(value, int):
        raise ValueError("a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(whole_number)]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("text without control characters")
    return value


# Free text that ends up in emails, SMS and pages: any language, any emoji, no control bytes.
PlainText = Annotated[StrictStr, AfterValidator(_plain_text)]
