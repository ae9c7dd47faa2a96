"""What debtors read about an early-payment offer: reminders on every channel, pages' strings, receipts."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from recobro import clock, config, phones, receipts, unsubscribe
from recobro.channels import sms, texts, whatsapp
from recobro.claims.early_payment import InstallmentState, Offer, compute_offer
from recobro.reminders.compose import Reminder, compose
from recobro.rendering import language_for
from recobro.storage.models import Claim, Debtor, InstallmentMap, Merchant

DUE = date(2026, 10, 1)
NOW = datetime(2026, 9, 28, 8, 0, tzinfo=UTC)
# A click URL as long as the sender's real ones (tracking token behind an API Gateway stage URL).
LONG_URL = "https://abcdefghij.execute-api.eu-west-1.amazonaws.com/Prod/t/c/" + "Y" * 150 + "." + "c" * 22


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "unit-test-secret")
    unsubscribe._key.cache_clear()
    phones.reset()
    clock.travel_to(NOW)
    yield
    clock.reset()
    unsubscribe._key.cache_clear()
    phones.reset()


def _offer(amount: int = 2500, percent: int = 2, currency: str = "EUR") -> Offer:
    offer = compute_offer([InstallmentState(1, DUE, amount, 0)], 1, percent, "Europe/Madrid", currency, NOW)
    assert offer is not None
    return offer


def _facts(locale: str, channel: str, offer: Offer | None, **overrides: Any) -> texts.MessageFacts:
    values: dict[str, Any] = dict(
        locale=locale,
        channel=channel,
        debtor_name="Lucía Pérez",
        merchant_name="Tienda Demo",
        amount_due=5000,
        amount_overdue=2500,
        currency="EUR",
        payment_url="https://pay.example/p/abc.def",
        due_date=DUE,
        offer=offer,
    )
    return texts.MessageFacts(**{**values, **overrides})


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("es-ES", "Paga 24,50 € hasta el 1 oct 2026 y ahorra 0,50 €."),
        ("en-GB", "Pay €24.50 by 1 Oct 2026 and save €0.50."),
        ("pt-BR", "Pague € 24,50 até 1 de out. de 2026 e economize € 0,50."),
    ],
)
def test_offer_text_is_one_ready_sentence_in_the_debtors_language(locale: str, sentence: str):
    assert texts.variables(_facts(locale, "sms", _offer()))["offer_text"] == sentence
    assert texts.variables(_facts(locale, "sms", None))["offer_text"] == ""


def test_offer_text_is_a_documented_variable_merchants_may_use():
    assert "offer_text" in texts.VARIABLES
    source = "{% if offer_text %}{{ offer_text }} {% endif %}{{ payment_url }} {{ opt_out_text }}"
    assert texts.problems(source, texts.REQUIRED) == []
    assert texts.render_source(source, texts.variables(_facts("en-GB", "sms", _offer()))).startswith("Pay €24.50")


@pytest.mark.parametrize("locale", ["es-ES", "en-GB", "pt-BR"])
def test_the_sms_says_the_offer_and_still_fits_three_segments_with_long_values(locale: str):
    long_values = dict(
        debtor_name="Maximiliano Fernández",
        merchant_name="Zapaterías Hermanos Fernández",
        amount_due=99_999_999,
        amount_overdue=99_999_999,
        payment_url=LONG_URL,
    )
    offer = _offer(99_999_999, 50)
    variables = texts.variables(_facts(locale, "sms", offer, **long_values))
    text = texts.render_builtin("sms", "reminder", locale, variables)
    assert variables["offer_text"] in text and LONG_URL in text and variables["opt_out_text"] in text
    assert isinstance(sms.fit(text, 3), sms.Fitted)
    plain = texts.render_builtin("sms", "reminder", locale, texts.variables(_facts(locale, "sms", None, **long_values)))
    assert "49.999.999" not in plain and "49,999,999" not in plain  # no offer, no offer sentence
    assert isinstance(sms.fit(plain, 3), sms.Fitted)


@pytest.mark.parametrize("locale", ["es-ES", "en-GB", "pt-BR"])
def test_whatsapp_offers_go_out_as_their_own_template_with_no_empty_parameter(locale: str):
    source = texts.builtin_source("whatsapp", "reminder_offer", language_for(locale))
    assert texts.problems(source, texts.REQUIRED) == []
    assert "offer_text" in texts.variables_used(source)
    variables = texts.variables(_facts(locale, "whatsapp", _offer()))
    message = whatsapp.reminder_message("+34600111222", locale, variables, kind="reminder_offer")
    assert message["template"]["name"] == "recobro_reminder_offer"
    parameters = message["template"]["components"][0]["parameters"]
    assert all(p["text"] for p in parameters)  # WhatsApp refuses empty parameters
    preview = whatsapp.preview(message)
    assert variables["offer_text"] in preview and variables["opt_out_text"] in preview


def _reminder(locale: str, offer: Offer | None, channel_contact: str = "lucia@example.com") -> Reminder:
    claim = Claim(
        merchant_id="m-1",
        claim_id="clm_offer",
        debtor_id="dbt_1",
        currency="EUR",
        description="Zapatillas Runner X",
        status="open",
        installments=[
            InstallmentMap(number=1, due_date=DUE.isoformat(), amount=2500, amount_paid=0),
            InstallmentMap(number=2, due_date="2026-11-01", amount=2500, amount_paid=0),
        ],
        amount_total=5000,
        amount_paid=0,
        timezone="Europe/Madrid",
    )
    debtor = Debtor(
        merchant_id="m-1",
        debtor_id="dbt_1",
        name="Lucía Pérez",
        email=channel_contact,
        phone="+34600111222",
        locale=locale,
        timezone="Europe/Madrid",
    )
    merchant = Merchant(merchant_id="m-1", display_name="Tienda Demo", support_email="ayuda@tienda.example")
    return Reminder(claim, debtor, merchant, 1, "msg#1#d-3.email", 3, offer)


@pytest.mark.parametrize(
    ("locale", "subject", "sentence"),
    [
        ("es-ES", "Tienda Demo: paga 24,50\xa0€ hasta el 1 oct 2026 y ahorra 0,50\xa0€", "vence el 1 oct 2026."),
        ("en-GB", "Tienda Demo: pay €24.50 by 1 Oct 2026 and save €0.50", "is due on 1 Oct 2026."),
        ("pt-BR", "Tienda Demo: pague €\xa024,50 até 1 de out. de 2026 e economize €\xa00,50", "vence em 1 de out."),
    ],
)
def test_the_pre_due_email_makes_the_offer_in_subject_text_and_html(locale: str, subject: str, sentence: str):
    outgoing = compose(_reminder(locale, _offer()), "email", "reminder")
    assert outgoing.email is not None
    assert outgoing.email.subject == subject
    offer_sentence = texts.offer_text(_offer(), locale)
    assert offer_sentence in outgoing.email.text and sentence in outgoing.email.text
    assert offer_sentence.replace("\xa0", " ") in outgoing.email.html.replace("\xa0", " ")
    assert "2" in outgoing.email.text and "%" in outgoing.email.text  # the percent is said


def test_an_email_without_an_offer_says_none_and_an_overdue_one_still_says_overdue():
    plain = compose(_reminder("en-GB", None), "email", "reminder")
    assert plain.email is not None
    assert "save" not in plain.email.text and "save" not in plain.email.subject
    assert "is due on 1 Oct 2026." in plain.email.text and "Amount due: €25.00" in plain.email.text
    clock.travel_to(NOW + timedelta(days=10))
    late = compose(_reminder("en-GB", None), "email", "reminder")
    assert late.email is not None
    assert "was due on 1 Oct 2026 and is still open" in late.email.text and "Amount overdue" in late.email.text


def test_compose_takes_the_offer_as_a_parameter_too_and_sms_and_whatsapp_carry_it():
    offer = _offer()
    text = compose(_reminder("es-ES", None), "sms", "reminder", offer=offer)
    assert text.sms is not None and "Paga 24,50 € hasta el 1 oct 2026 y ahorra 0,50 €." in text.sms.text
    assert text.carries_opt_out()
    chat = compose(_reminder("es-ES", None), "whatsapp", "reminder", offer=offer)
    assert chat.whatsapp is not None and chat.whatsapp["template"]["name"] == "recobro_reminder_offer"
    assert chat.carries_opt_out()
    no_offer = compose(_reminder("es-ES", None), "whatsapp", "reminder")
    assert no_offer.whatsapp is not None and no_offer.whatsapp["template"]["name"] == "recobro_reminder"


def _template_strings() -> set[str]:
    found: set[str] = set()
    folder = config.templates_dir()
    for path in [*folder.glob("pages/*.j2"), *folder.glob("email/*.j2")]:
        for literal in re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8")):
            found.add(literal.replace('\\"', '"'))
    return found


@pytest.mark.parametrize("language", ["es", "pt-BR"])
def test_every_page_and_email_string_is_translated(language: str):
    catalogue = json.loads((config.templates_dir() / "locales" / f"{language}.json").read_text(encoding="utf-8"))
    strings = _template_strings()
    assert texts.OFFER_SENTENCE in strings
    assert sorted(s for s in strings if s not in catalogue) == []
    for english in strings:  # a translation keeps every placeholder of its English text
        assert sorted(re.findall(r"%\(\w+\)s", catalogue[english])) == sorted(re.findall(r"%\(\w+\)s", english))


def test_a_payment_receipt_shows_the_discount_it_earned(monkeypatch: pytest.MonkeyPatch):
    merchant = Merchant(merchant_id="m-1", display_name="Tienda Demo", support_email="ayuda@tienda.example")
    monkeypatch.setattr(receipts, "cached_merchant", lambda merchant_id: merchant)
    claim = _reminder("es-ES", None).claim
    debtor = _reminder("es-ES", None).debtor
    email = receipts.compose("payment", claim, debtor, {"amount": 2450, "balance_after": 2500, "discount": 50})
    assert "Se ha aplicado tu descuento por pronto pago de 0,50\xa0€." in email.text
    assert "0,50\xa0€" in email.html
    without = receipts.compose("payment", claim, debtor, {"amount": 2450, "balance_after": 2550})
    assert "descuento" not in without.text
