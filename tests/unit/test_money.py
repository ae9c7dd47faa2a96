"""Money formatting and currency rules a debtor or merchant would notice."""

from hypothesis import given
from hypothesis import strategies as st
from recobro.money import MAX_MINOR_UNITS, Money, format_money, is_currency, minor_unit_exponent


def test_euros_in_spanish_and_english():
    assert format_money(2500, "EUR", "es-ES") == "25,00\xa0€"
    assert format_money(2500, "EUR", "en-GB") == "€25.00"
    assert format_money(123456, "BRL", "pt-BR") == "R$\xa01.234,56"


def test_currencies_without_minor_units_are_not_divided():
    assert minor_unit_exponent("JPY") == 0
    assert format_money(2500, "JPY", "en-GB") == "JP¥2,500"


def test_only_currencies_in_use_are_accepted():
    assert is_currency("EUR") and is_currency("USD") and is_currency("MXN")
    for code in ("ESP", "DEM", "XXX", "eur", "EURO", ""):
        assert not is_currency(code)


@given(st.integers(min_value=0, max_value=MAX_MINOR_UNITS), st.sampled_from(["EUR", "USD", "BRL", "JPY", "KWD"]))
def test_decimal_value_round_trips_to_the_same_minor_units(amount, currency):
    value = Money(amount, currency).to_decimal()
    assert int(value.scaleb(minor_unit_exponent(currency))) == amount
