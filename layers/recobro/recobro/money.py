"""Money as integer minor units plus an ISO 4217 code; formatting through CLDR (Babel).

Floats never hold money here. Conversion to a Decimal happens only to format for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.core import get_global
from babel.dates import format_date as _babel_format_date
from babel.numbers import format_currency, get_currency_precision

# Large enough for any consumer debt in any currency's minor units, small enough that sums of
# hundreds of installments stay far inside DynamoDB's 38-digit numbers.
MAX_MINOR_UNITS = 10**12


@lru_cache(maxsize=1)
def legal_tender_currencies() -> frozenset[str]:
    """ISO 4217 codes that some territory uses as tender today (no ESP, no DEM, no XXX)."""
    codes: set[str] = set()
    for currencies in get_global("territory_currencies").values():
        for code, _start, end, tender in currencies:
            if tender and end is None:
                codes.add(code)
    return frozenset(codes)


def is_currency(code: str) -> bool:
    return code in legal_tender_currencies()


def minor_unit_exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


@dataclass(frozen=True)
class Money:
    """An amount in minor units (cents for EUR, yen for JPY) of one currency."""

    amount: int
    currency: str

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_unit_exponent(self.currency))

    def format(self, locale: str) -> str:
        """ "25,00 €" for es-ES, "€25.00" for en-GB."""
        return str(format_currency(self.to_decimal(), self.currency, locale=babel_locale(locale)))


@lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale:
    """A Babel Locale from a BCP 47 tag such as es-ES or pt-BR."""
    return Locale.parse(tag.replace("-", "_"))


def format_money(amount: int, currency: str, locale: str) -> str:
    return Money(amount, currency).format(locale)


def format_date(day: date, locale: str) -> str:
    """A date the way a person in `locale` writes it, e.g. "1 oct 2026" for es-ES."""
    return str(_babel_format_date(day, format="medium", locale=babel_locale(locale)))
