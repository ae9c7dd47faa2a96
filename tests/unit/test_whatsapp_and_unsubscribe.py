"""WhatsApp's Cloud API message JSON, and the one-click unsubscribe token and headers."""

from __future__ import annotations

from datetime import date

import pytest
from recobro import phones, unsubscribe
from recobro.channels import email, texts, whatsapp


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "unit-test-secret")
    unsubscribe._key.cache_clear()
    phones.reset()
    yield
    unsubscribe._key.cache_clear()
    phones.reset()


def _variables(locale: str) -> dict[str, str]:
    facts = texts.MessageFacts(
        locale=locale,
        channel="whatsapp",
        debtor_name="Lucía Pérez",
        merchant_name="Tienda Demo",
        amount_due=2500,
        currency="EUR",
        payment_url="https://pay.example/p/abc.def",
        due_date=date(2026, 10, 1),
    )
    return texts.variables(facts)


def test_a_reminder_is_a_template_message_with_named_body_parameters():
    message = whatsapp.reminder_message("+34600111222", "es-ES", _variables("es-ES"), callback="{}")
    assert message["messaging_product"] == "whatsapp" and message["to"] == "34600111222"
    assert message["type"] == "template"
    template = message["template"]
    assert template["name"] == "recobro_reminder"
    assert template["language"] == {"policy": "deterministic", "code": "es"}
    (body,) = template["components"]
    assert body["type"] == "body"
    names = [p["parameter_name"] for p in body["parameters"]]
    assert names == ["debtor_first_name", "merchant_name", "amount_due", "due_date", "payment_url", "opt_out_text"]
    assert all(p["type"] == "text" and p["text"] and "\n" not in p["text"] for p in body["parameters"])
    assert message["biz_opaque_callback_data"] == "{}"


def test_brazilian_portuguese_uses_metas_language_code():
    message = whatsapp.reminder_message("+5511912345678", "pt-BR", _variables("pt-BR"))
    assert message["template"]["language"]["code"] == "pt_BR"


def test_the_preview_is_the_text_the_debtor_reads():
    message = whatsapp.reminder_message("+34600111222", "es-ES", _variables("es-ES"))
    text = whatsapp.preview(message)
    assert text.startswith("Hola Lucía, te escribimos de Tienda Demo: tienes 25,00 € pendiente")
    assert "https://pay.example/p/abc.def" in text and "Responde BAJA" in text
    assert whatsapp.preview(whatsapp.text_message("+34600111222", "Hecho")) == "Hecho"


def test_the_messages_url_follows_the_configuration(monkeypatch):
    monkeypatch.setenv("WHATSAPP_API_BASE", "http://127.0.0.1:9999/")
    monkeypatch.setenv("WHATSAPP_API_VERSION", "v22.0")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "123")
    assert whatsapp.messages_url() == "http://127.0.0.1:9999/v22.0/123/messages"


def test_an_unsubscribe_token_names_merchant_debtor_channel_and_claim():
    token = unsubscribe.issue("m-1", "dbt_1", "email", "clm_1")
    assert unsubscribe.verify(token) == unsubscribe.Unsubscribe("m-1", "dbt_1", "email", "clm_1")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(".")[0],
        lambda t: unsubscribe._b64(b"m-2|dbt_1|email|") + "." + t.split(".")[1],
        lambda t: t + ".x",
    ],
)
def test_a_tampered_unsubscribe_token_is_refused(tamper):
    assert unsubscribe.verify(tamper(unsubscribe.issue("m-1", "dbt_1", "email"))) is None


def test_a_payment_link_signature_is_no_unsubscribe_token():
    from recobro import links

    links._secret.cache_clear()
    assert unsubscribe.verify(links.issue("m-1", "clm_1")) is None
    links._secret.cache_clear()


def test_one_click_headers():
    headers = email.unsubscribe_headers("https://pay.example/u/abc.def")
    assert headers == {
        "List-Unsubscribe": "<https://pay.example/u/abc.def>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    mime = email.to_mime(
        email.Email("a@example.com", "s", "t", "<p>h</p>", "Shop", headers), "reminders@recobro.example"
    ).decode()
    assert "List-Unsubscribe: <https://pay.example/u/abc.def>" in mime
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mime


def test_phone_lookup_keys_agree_for_sms_and_whatsapp_spellings_and_hide_the_number():
    sms_key = phones.lookup_key("+34600111222")
    assert sms_key == phones.lookup_key("34600111222") == phones.lookup_key("+34 600 11 12 22")
    assert sms_key is not None and "600111222" not in sms_key and len(sms_key) == 32
    assert phones.lookup_key("+34600111223") != sms_key
    assert phones.lookup_key("hello") is None
