"""SMS and WhatsApp texts: only the documented variables, rendered in the sandbox, in three languages."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.channels import sms, texts
from recobro.rendering import language_for

FACTS: dict[str, Any] = dict(
    debtor_name="Lucía Pérez",
    merchant_name="Tienda Demo",
    amount_due=2500,
    currency="EUR",
    payment_url="https://pay.example/p/abc.def",
    due_date=date(2026, 10, 1),
    support_email="ayuda@tienda.example",
)


def _vars(channel: str = "sms", locale: str = "es-ES") -> dict[str, str]:
    return texts.variables(texts.MessageFacts(locale=locale, channel=channel, **FACTS))


def test_a_merchant_template_renders_with_documented_variables():
    source = "Hola {{ debtor_first_name|upper }}, debes {{ amount_due }}: {{ payment_url }} {{ opt_out_text }}."
    text = texts.render_source(source, _vars(), texts.REQUIRED)
    assert text == "Hola LUCÍA, debes 25,00 €: https://pay.example/p/abc.def Responde BAJA para no recibir más SMS."


def test_conditions_over_documented_variables_are_allowed():
    source = "{% if due_date %}Vence {{ due_date }}{% else %}Pendiente{% endif %} {{ payment_url }} {{ opt_out_text }}"
    assert texts.problems(source, texts.REQUIRED) == []
    assert texts.render_source(source, _vars()).startswith("Vence 1 oct 2026")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ secret_key }}", "unknown variable 'secret_key'"),
        ("{{ debtor_first_name.__class__ }}", "attribute and item access are not allowed"),
        ("{{ payment_url.__class__.__mro__[1].__subclasses__() }}", "calls are not allowed"),
        ("{{ amount_due['x'] }}", "attribute and item access are not allowed"),
        ("{{ self.__init__.__globals__ }}", "attribute and item access are not allowed"),
        ("{{ self }}", "unknown variable 'self'"),
        ("{{ 'x' * 100000000 }}", "mul is not allowed"),
        ("{{ lipsum.__globals__.os }}", "attribute and item access are not allowed"),
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "calls are not allowed"),
        ("{{ range(10) }}", "calls are not allowed"),
        ("{% for c in debtor_name %}{{ c }}{% endfor %}", "for is not allowed"),
        ("{% set x = 1 %}", "assign is not allowed"),
        ("{% include 'pages/base.html.j2' %}", "include is not allowed"),
        ("{% extends 'x' %}", "extends is not allowed"),
        ("{{ debtor_name|attr('__class__') }}", "filter 'attr' is not allowed"),
        ("{{ debtor_name|format('%s') }}", "filter 'format' is not allowed"),
        ("{{ debtor_name|default(payment_url.__class__) }}", "filter arguments must be plain text"),
        ("{{ debtor_name ", "syntax error"),
    ],
)
def test_anything_beyond_the_documented_variables_is_a_validation_error(source, expected):
    found = texts.problems(source)
    assert found, source
    assert any(expected in p.message for p in found), found
    with pytest.raises(texts.TemplateInvalid):
        texts.render_source(source, _vars())


def test_problems_name_their_line():
    (problem,) = texts.problems("Hola\n{{ debtor_first_name }}\n{{ debtor.email }}")
    assert problem.line == 3


def test_a_merchant_template_must_carry_the_link_and_the_opt_out():
    found = texts.problems("Hola {{ debtor_first_name }}", texts.REQUIRED)
    assert [p.message for p in found] == [
        "the template must use {{ payment_url }}",
        "the template must use {{ opt_out_text }}",
    ]


@given(st.text(max_size=200))
def test_no_text_escapes_the_sandbox(source):
    """Whatever a merchant types either validates (and then renders) or is refused; never an exception."""
    with contextlib.suppress(texts.TemplateInvalid):
        texts.render_source(source, _vars())


@pytest.mark.parametrize("locale", ["es-ES", "en-GB", "pt-BR"])
@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_builtin_reminders_are_short_kind_and_carry_amount_link_and_opt_out(channel, locale):
    variables = _vars(channel, locale)
    source = texts.builtin_source(channel, "reminder", language_for(locale))
    assert texts.problems(source, texts.REQUIRED) == []
    text = texts.render_builtin(channel, "reminder", locale, variables)
    assert variables["amount_due"] in text and variables["payment_url"] in text
    assert variables["opt_out_text"] in text and "Lucía" in text
    stop_word = {"es-ES": "BAJA", "en-GB": "STOP", "pt-BR": "SAIR"}[locale]
    assert stop_word in text
    if channel == "sms":
        assert isinstance(sms.fit(text, 3), sms.Fitted)


@pytest.mark.parametrize("locale", ["es-ES", "en-GB", "pt-BR"])
@pytest.mark.parametrize("kind", ["opted_out", "balance", "nothing_due", "help"])
def test_builtin_replies_validate_in_every_language(kind, locale):
    source = texts.builtin_source("replies", kind, language_for(locale))
    assert texts.problems(source) == []
    assert texts.render_builtin("replies", kind, locale, _vars("sms", locale))


def test_opt_out_texts_follow_channel_and_language():
    assert _vars("sms", "es-MX")["opt_out_text"] == "Responde BAJA para no recibir más SMS"
    assert _vars("whatsapp", "pt-PT")["opt_out_text"].startswith("Responda SAIR")
    assert _vars("sms", "fr-FR")["opt_out_text"] == "Reply STOP to stop these texts"


def test_variables_are_single_lines_without_hard_spaces():
    values = _vars()
    assert values["amount_due"] == "25,00 €"
    assert all("\n" not in v and "\xa0" not in v for v in values.values())
