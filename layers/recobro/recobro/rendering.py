"""Jinja2 rendering for messages and pages, in the debtor's language.

Strings are English in the templates and translated through small JSON catalogues
(templates/locales/<lang>.json) through a `_()` callable; money and dates go through Babel's
CLDR data. Unknown languages fall back to English; formats still follow the full locale.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import get_decimal_symbol
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from recobro import config
from recobro.money import babel_locale, format_date, format_money, minor_unit_exponent

SUPPORTED_LANGUAGES = ("es", "en", "pt-BR")
DEFAULT_LANGUAGE = "en"


def language_for(locale: str) -> str:
    """The catalogue for a BCP 47 locale: pt-BR, es-MX -> es, fr-FR -> en."""
    if locale in SUPPORTED_LANGUAGES:
        return locale
    base = locale.split("-")[0]
    if base == "pt":
        return "pt-BR"
    return base if base in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


@functools.lru_cache(maxsize=8)
def catalogue(language: str) -> dict[str, str]:
    path = config.templates_dir() / "locales" / f"{language}.json"
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(config.templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(template_name: str, locale: str, **context: Any) -> str:
    """Render one template for a debtor whose locale is `locale`."""
    strings = catalogue(language_for(locale))

    def gettext(message: str, **variables: Any) -> str:
        text = strings.get(message) or message
        return str(text % variables) if variables else str(text)

    def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
        chosen = singular if n == 1 else plural
        return str(gettext(chosen, n=n, **variables))

    def money(amount: int, currency: str) -> str:
        return format_money(amount, currency, locale)

    def money_plain(amount: int, currency: str) -> str:
        """The amount as a person would type it here: "12,50" in Spanish, "12.50" in English."""
        exponent = minor_unit_exponent(currency)
        text = f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"
        return text.replace(".", get_decimal_symbol(babel_locale(locale)))

    def day(value: date | str) -> str:
        return format_date(date.fromisoformat(value) if isinstance(value, str) else value, locale)

    template = environment().get_template(template_name)
    return template.render(
        _=gettext,
        gettext=gettext,
        ngettext=ngettext,
        money=money,
        money_plain=money_plain,
        day=day,
        lang=language_for(locale).split("-")[0],
        **context,
    )
