"""SMS, WhatsApp, one-click unsubscribe and inbound keywords on the local stack.

Messages are built and sent with the channel modules the sender uses (the stack's handlers run
in this process, with its environment), then read back where a person would see them: moto's
SMS records and the WhatsApp stand-in, both through the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from recobro import links, settings, unsubscribe
from recobro.channels import email as email_channel
from recobro.channels import sms, texts, whatsapp
from recobro.storage.models import ClaimEvent, claim_ref

from tests.http import Reply, request
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack


def _phone() -> str:
    return "+346" + "".join(random.choice("0123456789") for _ in range(8))  # a fresh Spanish mobile per test


def _claim(merchant: MerchantClient, phone: str | None = None, **kwargs: Any) -> dict[str, Any]:
    body = claim_body(due=[date.today() - timedelta(days=3), date.today() + timedelta(days=28)], **kwargs)
    body["debtor"]["phone"] = phone or _phone()
    reply = merchant.call("POST", "/v1/claims", body)
    assert reply.status == 201, reply.text
    claim: dict[str, Any] = reply.json()
    return claim


def _facts(claim: dict[str, Any], channel: str, locale: str = "es-ES") -> texts.MessageFacts:
    return texts.MessageFacts(
        locale=locale,
        channel=channel,
        debtor_name=claim["debtor"]["name"],
        merchant_name="Tienda Demo",
        amount_due=claim["amount_due"],
        currency=claim["currency"],
        payment_url=claim["payment_url"],
        due_date=date.fromisoformat(claim["installments"][0]["due_date"]),
    )


def _events(merchant: MerchantClient, claim_id: str) -> list[ClaimEvent]:
    return list(ClaimEvent.query(claim_ref(merchant.merchant_id, claim_id), consistent_read=True))


def _debtor(merchant: MerchantClient, claim: dict[str, Any]) -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/debtors/{claim['debtor']['id']}")
    assert reply.status == 200, reply.text
    debtor: dict[str, Any] = reply.json()
    return debtor


def _outbox_to(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    return [item for item in stack.outbox() if item["recipient"] == recipient]


# ---------------------------------------------------------------- SMS


def test_an_sms_reminder_reaches_moto_within_the_merchants_segment_cap(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    text = texts.render_builtin("sms", "reminder", "es-ES", texts.variables(_facts(claim, "sms")))
    cap = settings.merchant_settings(merchant.merchant_id).max_sms_segments  # type: ignore[union-attr]
    assert cap == 3
    fitted = sms.fit(text, cap)
    assert isinstance(fitted, sms.Fitted)
    sms.send(sms.Sms(phone, fitted.text))

    (item,) = _outbox_to(stack, phone)
    assert item["channel"] == "sms"
    assert item["text"] == fitted.text
    assert "Lucía" in item["text"] or "Lucia" in item["text"]
    assert "Responde BAJA" in item["text"]
    assert item["links"] == [claim["payment_url"]]
    assert 1 <= sms.count(item["text"]).segments <= cap


def test_a_lower_cap_refuses_the_same_reminder_with_a_reason(stack: Stack, merchant: MerchantClient):
    assert merchant.call("PATCH", "/v1/settings", {"max_sms_segments": 1}).status == 200
    claim = _claim(merchant)
    text = texts.render_builtin("sms", "reminder", "es-ES", texts.variables(_facts(claim, "sms")))
    cap = settings.merchant_settings(merchant.merchant_id).max_sms_segments  # type: ignore[union-attr]
    refused = sms.fit(text, cap)
    assert isinstance(refused, sms.Refused)
    assert refused.reason == "sms_too_long" and "cap 1" in refused.detail


# ---------------------------------------------------------------- WhatsApp


def test_a_whatsapp_reminder_is_recorded_in_the_cloud_api_format_and_shown_in_the_outbox(
    stack: Stack, merchant: MerchantClient
):
    claim = _claim(merchant, locale="pt-BR", timezone="America/Sao_Paulo", currency="BRL")
    phone = claim["debtor"]["phone"]
    variables = texts.variables(_facts(claim, "whatsapp", "pt-BR"))
    callback = whatsapp.callback_data(claim["id"], "msg#001#d+1.email")
    wamid = whatsapp.send(whatsapp.reminder_message(phone, "pt-BR", variables, callback=callback))
    assert wamid.startswith("wamid.")

    assert stack.runtime.whatsapp is not None
    (recorded,) = [r for r in stack.runtime.whatsapp.recorded() if r.id == wamid]
    assert recorded.phone_number_id == os.environ["WHATSAPP_PHONE_NUMBER_ID"]
    body = recorded.body
    assert (body["messaging_product"], body["type"], body["to"]) == ("whatsapp", "template", phone.lstrip("+"))
    assert body["template"]["name"] == "recobro_reminder"
    assert body["template"]["language"]["code"] == "pt_BR"
    parameters = {p["parameter_name"]: p["text"] for p in body["template"]["components"][0]["parameters"]}
    assert parameters["payment_url"] == claim["payment_url"]
    assert parameters["amount_due"] == variables["amount_due"] and "R$" in parameters["amount_due"]

    (item,) = [i for i in stack.outbox(claim["id"]) if i["channel"] == "whatsapp"]
    assert item["id"] == wamid and item["recipient"] == phone
    assert item["message_id"] == "msg#001#d+1.email"
    assert item["text"].startswith("Olá Lucía, aqui é a Tienda Demo")
    assert "Responda SAIR" in item["text"] and item["links"] == [claim["payment_url"]]
    assert "WhatsApp" in stack.control("GET", "/outbox").text


def test_the_stand_in_refuses_a_wrong_token_like_the_cloud_api(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "not-the-token")
    whatsapp.reset()
    try:
        with pytest.raises(whatsapp.WhatsAppError) as refused:
            whatsapp.send(whatsapp.text_message("+34600111222", "hola"))
        assert refused.value.status == 401
    finally:
        monkeypatch.undo()
        whatsapp.reset()


# ---------------------------------------------------------------- one-click unsubscribe


def _raw_email_headers(stack: Stack, to: str) -> dict[str, str]:
    import email as email_lib
    import email.policy

    assert stack.runtime.outbox is not None
    raws = stack.runtime.outbox.raw_state()["ses"]["RawMessage"]
    messages = [email_lib.message_from_string(r["raw_data"], policy=email.policy.default) for r in raws]
    (message,) = [m for m in messages if str(m["To"]) == to]
    return {k: str(v) for k, v in message.items()}


def test_one_click_unsubscribe_from_the_email_headers(stack: Stack, merchant: MerchantClient):
    address = f"lucia-{uuid.uuid4().hex[:8]}@example.com"
    claim = _claim(merchant, email=address)
    url = unsubscribe.url(merchant.merchant_id, claim["debtor"]["id"], "email", claim["id"])
    email_channel.send(
        email_channel.Email(
            to=address,
            subject="Recordatorio",
            text=f"Hola\n{url}",
            html="<p>Hola</p>",
            from_name="Tienda Demo",
            headers={"X-Recobro-Claim-Id": claim["id"], **email_channel.unsubscribe_headers(url)},
        )
    )
    headers = _raw_email_headers(stack, address)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    assert link == url and link.startswith(stack.urls["pages"] + "/u/")

    shown = request("GET", link)  # a mail scanner following the link stops nothing
    assert shown.status == 200 and 'data-testid="unsubscribe"' in shown.text
    assert "¿Dejar de recibir recordatorios de Tienda Demo por Correo electrónico?" in shown.text
    assert _debtor(merchant, claim)["opted_out_channels"] == []

    def one_click() -> Reply:
        return request(
            "POST",
            link,
            body="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    done = one_click()
    assert done.status == 200 and 'data-testid="unsubscribed"' in done.text
    assert "no-store" in done.headers["cache-control"]
    assert _debtor(merchant, claim)["opted_out_channels"] == ["email"]
    assert one_click().status == 200  # a second click changes nothing
    opted = [json.loads(e.data) for e in _events(merchant, claim["id"]) if e.type == "debtor.opted_out"]
    assert opted == [{"channel": "email", "debtor_id": claim["debtor"]["id"], "source": "unsubscribe_link"}]

    token = link.rsplit("/", 1)[1]
    other_channel = unsubscribe._b64(f"{merchant.merchant_id}|{claim['debtor']['id']}|sms|".encode())
    forged = other_channel + "." + token.split(".")[1]
    assert request("POST", f"{stack.urls['pages']}/u/{forged}").status == 404
    assert request("GET", f"{stack.urls['pages']}/u/{links.issue(merchant.merchant_id, claim['id'])}").status == 404
    assert _debtor(merchant, claim)["opted_out_channels"] == ["email"]


# ---------------------------------------------------------------- inbound SMS


def _inbound_sms(stack: Stack, body: dict[str, Any], secret: str | None = None) -> Reply:
    raw = json.dumps(body).encode()
    key = (secret or os.environ["INBOUND_SMS_SECRET"]).encode()
    signature = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
    return request(
        "POST",
        f"{stack.urls['pages']}/inbound/sms",
        body=raw,
        headers={"Content-Type": "application/json", "X-Recobro-Signature": signature},
    )


def _sms_from(phone: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    return {
        "originationNumber": phone,
        "destinationNumber": "+34900000000",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": text,
        "inboundMessageId": message_id or uuid.uuid4().hex,
    }


def test_saldo_answers_the_amount_due_and_a_working_link(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    reply = _inbound_sms(stack, _sms_from(phone, " sáldo? "))
    assert reply.status == 200, reply.text
    assert reply.json() == {"intent": "balance", "status": "handled", "replied": True}

    (answer,) = _outbox_to(stack, phone)
    assert answer["channel"] == "sms"
    assert "50,00 €" in answer["text"] and "Tienda Demo" in answer["text"]
    (link,) = answer["links"]
    assert request("GET", link).status == 200  # the page's identity question
    received = [json.loads(e.data) for e in _events(merchant, claim["id"]) if e.type == "message.received"]
    assert [(r["channel"], r["intent"], r["text"]) for r in received] == [("sms", "balance", " sáldo? ")]


def test_baja_opts_out_of_sms_once_and_confirms(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    message = _sms_from(phone, "BAJA")
    assert _inbound_sms(stack, message).json()["intent"] == "opt_out"
    assert _debtor(merchant, claim)["opted_out_channels"] == ["sms"]
    (confirmation,) = _outbox_to(stack, phone)
    assert "no recibirás más mensajes por SMS" in confirmation["text"]

    again = _inbound_sms(stack, message)  # the provider redelivers the same message
    assert again.status == 200
    assert len(_outbox_to(stack, phone)) == 1
    opted = [json.loads(e.data) for e in _events(merchant, claim["id"]) if e.type == "debtor.opted_out"]
    assert [(o["channel"], o["source"]) for o in opted] == [("sms", "sms_keyword")]
    timeline = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    assert any(e["summary"] == "Debtor opted out of sms" for e in timeline)


def test_anything_else_goes_to_the_merchants_timeline_without_a_reply(stack: Stack, merchant: MerchantClient):
    older = _claim(merchant)
    phone = older["debtor"]["phone"]
    newer = _claim(merchant, phone=phone, debtor_external_id=older["debtor"]["external_id"])
    reply = _inbound_sms(stack, _sms_from(phone, "Ya pagué ayer por transferencia"))
    assert reply.json() == {"intent": "other", "status": "handled", "replied": False}
    assert _outbox_to(stack, phone) == []
    timeline = merchant.call("GET", f"/v1/claims/{newer['id']}/timeline").json()["data"]
    (entry,) = [e for e in timeline if e["type"] == "message.received"]
    assert entry["summary"] == "Debtor wrote by sms: Ya pagué ayer por transferencia"
    assert not [e for e in _events(merchant, older["id"]) if e.type == "message.received"]  # the newest open claim


def test_unsigned_and_unknown_senders(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    forged = _inbound_sms(stack, _sms_from(phone, "BAJA"), secret="guessed")
    assert forged.status == 401 and forged.json()["error"]["code"] == "invalid_signature"
    assert _debtor(merchant, claim)["opted_out_channels"] == []
    stranger = _phone()
    unknown = _inbound_sms(stack, _sms_from(stranger, "SALDO"))
    assert unknown.json() == {"intent": "balance", "status": "unknown_sender", "replied": False}
    assert _outbox_to(stack, stranger) == []


# ---------------------------------------------------------------- inbound WhatsApp


def _whatsapp_webhook(stack: Stack, wa_id: str, text: str, secret: str | None = None) -> tuple[Reply, str]:
    message_id = f"wamid.{uuid.uuid4().hex}"
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "34900000000", "phone_number_id": "1"},
                            "contacts": [{"profile": {"name": "Lucía"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": message_id,
                                    "timestamp": "1764000000",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(body).encode()
    key = (secret or os.environ["WHATSAPP_APP_SECRET"]).encode()
    signature = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
    reply = request(
        "POST",
        f"{stack.urls['pages']}/inbound/whatsapp",
        body=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    return reply, message_id


def test_the_whatsapp_verification_handshake(stack: Stack):
    base = f"{stack.urls['pages']}/inbound/whatsapp?hub.mode=subscribe&hub.challenge=1158201444"
    ok = request("GET", f"{base}&hub.verify_token={os.environ['WHATSAPP_VERIFY_TOKEN']}")
    assert (ok.status, ok.text) == (200, "1158201444")
    assert request("GET", f"{base}&hub.verify_token=wrong").status == 403


def test_ayuda_on_whatsapp_answers_with_the_help_link_in_the_conversation(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    reply, message_id = _whatsapp_webhook(stack, phone.lstrip("+"), "Ayúda")
    assert reply.status == 200, reply.text
    assert reply.json() == {"received": 1, "intents": ["help"]}
    assert stack.runtime.whatsapp is not None
    (answer,) = [r.body for r in stack.runtime.whatsapp.recorded() if r.body["to"] == phone.lstrip("+")]
    assert answer["type"] == "text" and answer["context"] == {"message_id": message_id}
    assert "/help" in answer["text"]["body"] and "Responde BAJA" in answer["text"]["body"]
    (item,) = [i for i in _outbox_to(stack, phone) if i["channel"] == "whatsapp"]
    assert any(link.endswith("/help") for link in item["links"])


def test_stop_on_whatsapp_stops_whatsapp_only(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    phone = claim["debtor"]["phone"]
    forged, _ = _whatsapp_webhook(stack, phone.lstrip("+"), "STOP", secret="not-the-app-secret")
    assert forged.status == 401
    assert _debtor(merchant, claim)["opted_out_channels"] == []
    reply, _ = _whatsapp_webhook(stack, phone.lstrip("+"), "Stop")
    assert reply.json()["intents"] == ["opt_out"]
    assert _debtor(merchant, claim)["opted_out_channels"] == ["whatsapp"]
