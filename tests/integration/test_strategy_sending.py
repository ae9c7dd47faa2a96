"""Strategies driving real sends on the local stack: which step, which channel, which variant.

The default strategy (strategies/default.yaml): −3 email, +1 email, +3 SMS (if SMS is available and
the last message was not clicked), +7 email, +15 WhatsApp (unless a promise runs), +30 email.
The session clock stands at 14:00 UTC (conftest), inside every step's contact window in Madrid.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from recobro.storage.models import Claim, Message, VariantStats, claim_ref

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack


def _create(merchant: MerchantClient, days_overdue: int, **debtor: Any) -> dict[str, Any]:
    body = claim_body(due=[date.today() - timedelta(days=days_overdue)], amounts=[4200])
    body["debtor"].update(debtor)
    reply = merchant.call("POST", "/v1/claims", body)
    assert reply.status == 201, reply.text
    return reply.json()


def _send(stack: Stack) -> None:
    stack.fire_planner()
    stack.drain()


def _slots(merchant: MerchantClient, claim_id: str) -> list[Message]:
    return list(Message.query(claim_ref(merchant.merchant_id, claim_id), consistent_read=True))


def test_the_third_day_step_goes_out_by_sms_with_its_opt_out_and_a_tracked_link(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, 4)
    _send(stack)
    (sms,) = stack.outbox(claim["id"])
    assert sms["channel"] == "sms" and sms["recipient"] == "+34600111222"
    assert "Responde BAJA" in sms["text"]
    assert "42,00" in sms["text"]
    assert any("/t/c/" in url for url in sms["links"]) and any("/p/" in url for url in sms["links"])
    (slot,) = _slots(merchant, claim["id"])
    assert (slot.message_id, slot.status, slot.channel, slot.step) == ("msg#001#d+3.sms", "sent", "sms", "d+3.sms")
    stored = Claim.get(merchant.merchant_id, claim["id"], consistent_read=True)
    assert stored.last_message_id == "msg#001#d+3.sms"
    assert stored.next_action is not None and stored.next_action.endswith("d+7.email")


def test_without_a_phone_the_sms_step_gives_way_to_the_latest_email_of_its_backlog(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, 4, phone=None)
    _send(stack)
    (email,) = stack.outbox(claim["id"])
    assert email["channel"] == "email"
    (slot,) = _slots(merchant, claim["id"])
    # The job was the +3 SMS; the slot says which step really went.
    assert (slot.message_id, slot.channel, slot.step) == ("msg#001#d+3.sms", "email", "d+1.email")
    timeline = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    assert any(e["type"] == "message.sent" and "d+1.email" in e["summary"] for e in timeline)


def test_a_claim_two_weeks_overdue_gets_a_whatsapp_template_message(stack: Stack, merchant: MerchantClient) -> None:
    claim = _create(merchant, 16)
    _send(stack)
    (message,) = stack.outbox(claim["id"])
    assert message["channel"] == "whatsapp"
    assert message["recipient"] == "+34600111222"
    assert message["subject"] == "template recobro_reminder (es)"
    assert "Responde BAJA" in message["text"] and "42,00" in message["text"]
    (slot,) = _slots(merchant, claim["id"])
    assert (slot.step, slot.status) == ("d+15.whatsapp", "sent")


def test_an_sms_over_the_merchants_segment_cap_is_not_sent_and_says_why(stack: Stack, merchant: MerchantClient) -> None:
    reply = merchant.call("PATCH", "/v1/settings", {"max_sms_segments": 1})
    assert reply.status == 200, reply.text
    claim = _create(merchant, 4)
    _send(stack)
    assert stack.outbox(claim["id"]) == []
    (slot,) = _slots(merchant, claim["id"])
    assert (slot.status, slot.reason) == ("skipped", "sms_too_long")


def test_every_send_is_counted_under_its_variant_with_the_probabilities_used(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, 2)
    _send(stack)
    (slot,) = _slots(merchant, claim["id"])
    assert slot.variant == "reminder" and json.loads(str(slot.probabilities)) == {"reminder": 1.0}
    arm = VariantStats.get(str(slot.stats_key), str(slot.stats_arm), consistent_read=True)
    assert slot.stats_key == f"{merchant.merchant_id}#d+1.email#default"
    assert arm.sends >= 1


FIRM_EMAIL = {
    "texts": {
        "es": "{{ debtor_first_name }}, debes {{ amount_due }} a {{ merchant_name }}.\n\nPaga hoy: {{ payment_url }}"
    },
    "subjects": {"es": "Aviso firme de {{ merchant_name }}"},
}
SHORT_SMS = {"texts": {"es": "{{ merchant_name }}: debes {{ amount_due }}. {{ payment_url }} {{ opt_out_text }}"}}
TWO_VARIANTS = """\
name: default
steps:
  - day: 1
    channel: email
    variants:
      - {template: reminder, control: true}
      - {template: firme}
  - day: 3
    channel: sms
    hour: 12
    variants:
      - {template: corto, control: true}
"""


def test_variants_share_the_sends_and_merchant_templates_go_out_as_written(
    stack: Stack, merchant: MerchantClient
) -> None:
    for channel, name, body in (("email", "firme", FIRM_EMAIL), ("sms", "corto", SHORT_SMS)):
        reply = merchant.call("PUT", f"/v1/templates/{channel}/{name}", body)
        assert reply.status == 201, reply.text
    saved = merchant.call("PUT", "/v1/strategies/default", {"yaml": TWO_VARIANTS})
    assert saved.status in (200, 201), saved.text

    claims = [_create(merchant, 2) for _ in range(12)]
    sms_claim = _create(merchant, 4)
    _send(stack)

    variants = []
    for claim in claims:
        (email,) = stack.outbox(claim["id"])
        (slot,) = _slots(merchant, claim["id"])
        assert slot.status == "sent" and slot.template == slot.variant
        probabilities = json.loads(str(slot.probabilities))
        assert set(probabilities) <= {"reminder", "firme"} and abs(sum(probabilities.values()) - 1) < 1e-9
        variants.append(slot.variant)
        if slot.variant == "firme":
            assert email["subject"] == "Aviso firme de Tienda Demo"
            assert "Lucía, debes 42,00" in email["text"]
            assert "/u/" in email["text"]  # our unsubscribe footer, which the merchant's text cannot leave out
            assert "/t/o/" in str(email["html"])  # the open pixel
        else:
            assert "Recordatorio de pago" in email["subject"]
    # Twelve debtors, two arms with no history: Thompson sampling sends both (a 1 in 2,000 miss).
    assert set(variants) == {"reminder", "firme"}
    arms = {row.variant: int(row.sends) for row in VariantStats.query(f"{merchant.merchant_id}#d+1.email#default")}
    assert sum(arms.values()) == 12

    (sms,) = stack.outbox(sms_claim["id"])
    assert sms["text"].startswith("Tienda Demo: debes 42,00")
    # With "más" the text is UCS-2 and needs 4 parts; without the accent it fits 3 GSM-7 parts.
    assert sms["text"].endswith("Responde BAJA para no recibir mas SMS")
