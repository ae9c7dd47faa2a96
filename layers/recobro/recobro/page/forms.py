"""Reading what a debtor typed: amounts in major units, dates, choices and free text.

Forms are plain url-encoded HTML forms (the page works without JavaScript), so every value
arrives as text; these turn it into minor units, dates and known choices, or None.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from recobro.money import minor_unit_exponent

MAX_AMOUNT_TEXT = 20
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def amount_in_minor_units(text: str | None, currency: str) -> int | None:
    """ "12,50", "12.50", "1.234,56" or "1,234.56" -> minor units; None if it is not an amount."""
    if text is None:
        return None
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if not cleaned or len(cleaned) > MAX_AMOUNT_TEXT or not re.fullmatch(r"[0-9.,]+", cleaned):
        return None
    separators = [i for i, ch in enumerate(cleaned) if ch in ".,"]
    if separators:
        last = separators[-1]
        whole, fraction = cleaned[:last], cleaned[last + 1 :]
        if len(separators) == 1 and cleaned[last] == "," and len(fraction) == 3:
            whole, fraction = cleaned.replace(",", ""), ""  # "1,234": a thousands separator
        whole = whole.replace(".", "").replace(",", "")
        cleaned = f"{whole}.{fraction}" if fraction else whole
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    exponent = minor_unit_exponent(currency)
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        return None  # more decimals than the currency has
    return int(minor)


def iso_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()) if text and len(text) <= 10 else None
    except ValueError:
        return None


def whole_number(text: str | None, low: int, high: int) -> int | None:
    if text is None or not text.strip().isdigit() or len(text.strip()) > 4:
        return None
    value = int(text.strip())
    return value if low <= value <= high else None


def plain_text(text: str | None, limit: int) -> str | None:
    """Free text without control or invisible characters, at most `limit` characters."""
    value = _CONTROL.sub("", (text or "").replace("\r\n", "\n")).strip()
    return value if len(value) <= limit else None
