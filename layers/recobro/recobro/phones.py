"""Phone numbers as lookup keys: find the debtor an inbound SMS or WhatsApp message comes from.

A phone number is PII, so the Debtors table's by_phone index is keyed by a keyed hash of it
(HMAC-SHA256 under a key derived from the link-signing secret, truncated to 128 bits), never the
number: the index is no phone book, and a leaked copy cannot be reversed by trying every number
without the secret. Inbound numbers arrive as "+34600111222" (SMS) or "34600111222" (WhatsApp's
wa_id); both normalise to the same E.164 string first.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

import phonenumbers

from recobro.secret_store import read_secret

_PURPOSE = b"recobro/phone-lookup/v1"


@functools.lru_cache(maxsize=1)
def _key() -> bytes:
    secret = read_secret("RECOBRO_LINK_SECRET", "LINK_SECRET_PARAMETER").encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def normalise(raw: str) -> str | None:
    """E.164 ("+34600111222") for anything that parses as an international number, else None."""
    digits = "".join(c for c in raw if c.isdigit())
    if not 6 <= len(digits) <= 15:
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def lookup_key(phone: str) -> str | None:
    """The by_phone index key for a number, or None when it is not a phone number."""
    normalised = normalise(phone)
    if normalised is None:
        return None
    return hmac.new(_key(), normalised.encode(), hashlib.sha256).hexdigest()[:32]


def reset() -> None:
    _key.cache_clear()
