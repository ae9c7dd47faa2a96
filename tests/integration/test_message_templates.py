"""Merchant message templates over HTTP on the local stack: save, replace, read, list, preview,
isolation between merchants, and strategies that may name only templates that exist."""

from __future__ import annotations

from typing import Any

import pytest
from recobro.channels import message_templates, texts

from tests.integration.conftest import MerchantClient

SMS = {
    "es": "{{ merchant_name }}: hola {{ debtor_first_name }}, debes {{ amount_due }}. "
    "{{ payment_url }} {{ opt_out_text }}",
    "en": "{{ merchant_name }}: hi {{ debtor_first_name }}, {{ amount_due }} is due. "
    "{{ payment_url }} {{ opt_out_text }}",
}
EMAIL = {
    "texts": {
        "es": "Hola {{ debtor_first_name }}:\n\nTienes {{ amount_overdue }} vencido.\nPaga aquí: {{ payment_url }}",
        "pt-BR": "Olá {{ debtor_first_name }}:\n\nVocê tem {{ amount_overdue }} vencido: {{ payment_url }}",
    },
    "subjects": {"es": "{{ merchant_name }}: tu pago pendiente", "pt-BR": "{{ merchant_name }}: seu pagamento"},
}


def put(merchant: MerchantClient, channel: str, name: str, body: dict[str, Any]) -> Any:
    return merchant.call("PUT", f"/v1/templates/{channel}/{name}", body)


def test_a_template_is_created_replaced_and_read_back(merchant: MerchantClient):
    created = put(merchant, "sms", "firm", {"texts": SMS})
    assert created.status == 201, created.text
    body = created.json()
    assert (body["object"], body["builtin"], body["version"], body["languages"]) == (
        "message_template",
        False,
        1,
        ["es", "en"],
    )
    assert body["variables_used"] == ["merchant_name", "debtor_first_name", "amount_due", "payment_url", "opt_out_text"]
    assert body["warnings"] == [] and body["subjects"] is None

    replaced = put(merchant, "sms", "firm", {"texts": {"en": SMS["en"]}})
    assert replaced.status == 200, replaced.text
    assert (replaced.json()["version"], replaced.json()["languages"]) == (2, ["en"])
    again = put(merchant, "sms", "firm", {"texts": {"en": SMS["en"]}})
    assert (again.status, again.json()["version"]) == (200, 2)  # unchanged: no new version

    got = merchant.call("GET", "/v1/templates/sms/firm").json()
    assert got["texts"] == {"en": SMS["en"]} and got["created_at"] == body["created_at"]


def test_the_list_has_the_built_ins_the_merchants_own_and_the_documented_variables(merchant: MerchantClient):
    assert put(merchant, "email", "friendly", EMAIL).status == 201
    listed = merchant.call("GET", "/v1/templates")
    assert listed.status == 200, listed.text
    body = listed.json()
    assert [(t["channel"], t["name"], t["builtin"]) for t in body["data"]] == [
        ("email", "reminder", True),
        ("sms", "reminder", True),
        ("whatsapp", "reminder", True),
        ("email", "friendly", False),
    ]
    assert {v["name"]: v["description"] for v in body["variables"]} == texts.VARIABLES
    assert body["required"] == {
        "email": ["payment_url"],
        "sms": ["payment_url", "opt_out_text"],
        "whatsapp": ["payment_url", "opt_out_text"],
    }
    builtin = merchant.call("GET", "/v1/templates/sms/reminder").json()
    assert builtin["builtin"] is True and "opt_out_text" in builtin["texts"]["es"]


def test_another_merchants_templates_are_not_found(merchant: MerchantClient, other_merchant: MerchantClient):
    assert put(merchant, "sms", "firm", {"texts": SMS}).status == 201
    assert other_merchant.call("GET", "/v1/templates/sms/firm").status == 404
    assert other_merchant.call("POST", "/v1/templates/sms/firm/preview", {}).status == 404
    names = [t["name"] for t in other_merchant.call("GET", "/v1/templates").json()["data"]]
    assert "firm" not in names
    assert message_templates.resolve(other_merchant.merchant_id, "sms", "firm", "es") is None


@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp"])
def test_built_in_names_are_reserved(merchant: MerchantClient, channel: str):
    reply = put(merchant, channel, "reminder", {"texts": SMS, "subjects": {"es": "x", "en": "x"}})
    assert reply.status == 400
    error = reply.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "name")
    assert "built-in" in error["message"]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("Hola\n{{ debtor_first_name.__class__.__mro__ }}", 2, "attribute and item access are not allowed"),
        ("Hola\n\n{{ secret_key }}", 3, "unknown variable 'secret_key'"),
        ("{% for c in debtor_name %}\n{{ c }}{% endfor %}", 1, "for is not allowed"),
    ],
)
def test_anything_but_the_documented_variables_is_refused_with_its_line(
    merchant: MerchantClient, text: str, line: int, expected: str
):
    source = f"{text} {{{{ payment_url }}}} {{{{ opt_out_text }}}}"
    reply = put(merchant, "whatsapp", "sneaky", {"texts": {"es": SMS["es"], "pt-BR": source}})
    assert reply.status == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["field"], error["line"]) == ("validation_error", "texts.pt-BR", line)
    assert expected in error["message"]
    assert merchant.call("GET", "/v1/templates/whatsapp/sneaky").status == 404


def test_bad_bodies_are_clear_400s(merchant: MerchantClient):
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("sms", "firm", {"texts": {"fr": SMS["es"]}}, "texts.fr"),
        ("sms", "firm", {"texts": {}}, "texts"),
        ("sms", "firm", {"texts": SMS, "subjects": {"es": "x"}}, "subjects"),
        ("email", "firm", {"texts": EMAIL["texts"]}, "subjects.es"),
        ("sms", "Firm!", {"texts": SMS}, "name"),
        ("fax", "firm", {"texts": SMS}, "channel"),
        ("sms", "firm", {"texts": {"es": "Hola {{ debtor_first_name }}"}}, "texts.es"),
    ]
    for channel, name, body, field in cases:
        reply = put(merchant, channel, name, body)
        assert reply.status == 400, (body, reply.text)
        assert reply.json()["error"]["field"] == field, (body, reply.json())


def test_an_sms_preview_shows_each_language_and_its_parts(merchant: MerchantClient):
    assert put(merchant, "sms", "firm", {"texts": SMS}).status == 201
    reply = merchant.call("POST", "/v1/templates/sms/firm/preview", {})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert (body["builtin"], body["draft"]) == (False, False)
    by_language = {one["language"]: one for one in body["languages"]}
    assert list(by_language) == ["es", "en"]
    es = by_language["es"]
    assert es["text"].startswith("Tienda Demo: hola Lucía, debes 120,00 €.")
    assert es["text"].endswith("Responde BAJA para no recibir más SMS")
    assert es["variables"]["payment_url"] in es["text"]
    # "í" is not GSM-7: the text travels as UCS-2 unless dropping accents makes it fit the cap
    assert es["sms"]["max_segments"] == 3 and es["sms"]["fits"] is True
    assert by_language["en"]["sms"]["encoding"] == "GSM-7" and by_language["en"]["sms"]["sent_without_accents"] is False


def test_an_sms_that_cannot_fit_the_cap_is_saved_with_a_warning(merchant: MerchantClient):
    long = "Hola {{ debtor_name }}. " * 20 + "{{ payment_url }} {{ opt_out_text }}"
    reply = put(merchant, "sms", "long", {"texts": {"es": long}})
    assert reply.status == 201, reply.text
    (warning,) = reply.json()["warnings"]
    assert warning.startswith("texts.es: with sample values it takes") and "sms_too_long" in warning
    preview = merchant.call("POST", "/v1/templates/sms/long/preview", {}).json()["languages"][0]["sms"]
    assert preview["fits"] is False and preview["segments"] > 3


def test_an_email_preview_is_our_layout_with_the_merchants_words(merchant: MerchantClient):
    assert put(merchant, "email", "friendly", EMAIL).status == 201
    body = merchant.call("POST", "/v1/templates/email/friendly/preview", {}).json()
    es, pt = body["languages"]
    assert es["subject"] == "Tienda Demo: tu pago pendiente"
    assert es["text"].startswith("Hola Lucía:\n\nTienes 40,00 € vencido.\nPaga aquí: ")
    assert "Date de baja aquí: " + es["variables"]["unsubscribe_url"] in es["text"]
    assert "<p>Hola Lucía:</p>" in es["html"] and es["variables"]["unsubscribe_url"] in es["html"]
    assert pt["language"] == "pt-BR" and "R$" in pt["text"] and "Cancele aqui" in pt["text"]


def test_a_built_in_and_a_draft_can_be_previewed(merchant: MerchantClient):
    builtin = merchant.call("POST", "/v1/templates/email/reminder/preview", {}).json()
    assert builtin["builtin"] is True and [one["language"] for one in builtin["languages"]] == ["es", "en", "pt-BR"]
    assert all(one["html"] and one["subject"] for one in builtin["languages"])
    draft = merchant.call("POST", "/v1/templates/whatsapp/new/preview", {"texts": {"en": SMS["en"]}})
    assert draft.status == 200, draft.text
    assert draft.json()["draft"] is True and "Reply STOP" in draft.json()["languages"][0]["text"]
    assert merchant.call("GET", "/v1/templates/whatsapp/new").status == 404  # a draft is not saved
    bad = merchant.call("POST", "/v1/templates/whatsapp/new/preview", {"texts": {"en": "{{ x }}"}})
    assert bad.status == 400 and bad.json()["error"]["field"] == "texts.en"


def test_the_sender_resolves_a_saved_template_in_the_debtors_language(merchant: MerchantClient):
    assert put(merchant, "sms", "firm", {"texts": SMS}).status == 201
    resolved = message_templates.resolve(merchant.merchant_id, "sms", "firm", "pt-BR")  # no pt-BR: English
    assert resolved is not None and (resolved.language, resolved.builtin, resolved.version) == ("en", False, 1)
    variables = texts.variables(
        texts.MessageFacts(
            locale="pt-BR",
            channel="sms",
            debtor_name="Ana Souza",
            merchant_name="Tienda Demo",
            amount_due=2500,
            currency="BRL",
            payment_url="https://pay.example/p/x",
        )
    )
    assert message_templates.render_text(resolved, variables).startswith("Tienda Demo: hi Ana, R$")


STRATEGY = """\
name: firm
description: Our own SMS after three days.
steps:
  - day: 3
    channel: sms
    variants:
      - {template: reminder, control: true}
      - {template: firm, weight: 2}
  - day: 7
    channel: email
    variants:
      - template: firm
        control: true
"""


def test_a_strategy_may_name_only_templates_that_exist_for_the_steps_channel(merchant: MerchantClient):
    refused = merchant.call("PUT", "/v1/strategies/firm", {"yaml": STRATEGY})
    assert refused.status == 400, refused.text
    error = refused.json()["error"]
    assert (error["field"], error["line"], error["column"]) == ("yaml", 8, 20)
    assert error["pointer"] == "/steps/0/variants/1/template"
    assert error["message"].startswith("Line 8, column 20: no sms template is named 'firm'")
    assert [(e["line"], e["column"]) for e in error["errors"]] == [(8, 20), (12, 19)]

    assert put(merchant, "sms", "firm", {"texts": SMS}).status == 201  # an SMS "firm" is not an email "firm"
    still = merchant.call("PUT", "/v1/strategies/firm", {"yaml": STRATEGY}).json()["error"]
    assert (still["line"], still["column"]) == (12, 19) and "no email template" in still["message"]

    assert put(merchant, "email", "firm", EMAIL).status == 201
    saved = merchant.call("PUT", "/v1/strategies/firm", {"yaml": STRATEGY})
    assert saved.status == 200, saved.text
    assert saved.json()["steps"][0]["templates"] == ["reminder", "firm"]
