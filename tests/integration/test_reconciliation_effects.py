"""What a reconciled Stripe event sets off: merchant webhooks, funnel counts, the debtor's receipt.

Also the two ways money reaches the ledger without a complete event: a `charge.refunded` that
does not list its refunds (the reconciler asks localstripe), and a payment whose webhook never
arrived (the nightly sweep finds it in localstripe).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
import stripe
from recobro import funnel, receipts
from recobro.payments import reconcile, stripe_api
from recobro.storage.models import Claim, Debtor

from infra.local.runtime import LocalStack
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.stripe_events import (
    create_claim,
    dispute,
    failed,
    get_claim,
    ledger,
    ledger_net,
    post,
    post_raw,
    refunded,
    sign,
    succeeded,
)
from tests.integration.test_webhooks import Receiver

MONEY_EVENTS = ["payment.succeeded", "payment.refunded", "payment.failed", "dispute.opened", "dispute.closed"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


def _subscribe(merchant: MerchantClient, url: str, events: list[str]) -> None:
    reply = merchant.call("POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": events})
    assert reply.status == 201, reply.text


def _pi() -> str:
    return f"pi_{uuid.uuid4().hex[:14]}"


def _today(merchant_id: str) -> dict[str, object]:
    rows = funnel.days(merchant_id, date.today(), date.today())
    return rows[0] if rows else {}


def _wait_until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _deliveries(receiver: Receiver, count: int) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for received in receiver.wait_for(count):
        by_type.setdefault(received.event["type"], []).append(received.event["data"]["object"])
    return by_type


# ---------------------------------------------------------------- merchant webhooks and funnel


def test_merchants_receive_payments_refunds_failures_and_disputes(
    stack: Stack, merchant: MerchantClient, receiver: Receiver
) -> None:
    _subscribe(merchant, receiver.url, MONEY_EVENTS)
    claim = create_claim(merchant, [2500, 2500])
    m, c = merchant.merchant_id, claim["id"]
    lost, won, declined = _pi(), _pi(), _pi()
    script = [
        succeeded(m, c, lost, 3000),
        refunded(lost, [(f"re_{lost}", 500)]),
        failed(m, c, declined, 1200),
        dispute("charge.dispute.created", lost, f"dp_{lost}", 2500, "needs_response"),
        dispute("charge.dispute.closed", lost, f"dp_{lost}", 2500, "lost"),
        succeeded(m, c, won, 1000),
        dispute("charge.dispute.created", won, f"dp_{won}", 1000, "needs_response"),
        dispute("charge.dispute.closed", won, f"dp_{won}", 1000, "won"),
    ]
    for e in script:
        assert post(stack, e).status == 200
        stack.drain()  # in order, so each event applies at once

    got = _deliveries(receiver, 8)
    assert sorted((t, len(v)) for t, v in got.items()) == [
        ("dispute.closed", 2),
        ("dispute.opened", 2),
        ("payment.failed", 1),
        ("payment.refunded", 1),
        ("payment.succeeded", 2),
    ]
    failure = got["payment.failed"][0]
    assert failure["payment_intent"] == declined and failure["amount"] == 1200
    assert (failure["failure_code"], failure["decline_code"]) == ("card_declined", "insufficient_funds")
    assert failure["failure_message"] == "Your card has insufficient funds."
    raw = json.dumps(got)
    assert "9995" not in raw and "visa" not in raw and "fingerprint" not in raw  # no card data
    opened = {d["payment_intent"]: d for d in got["dispute.opened"]}
    assert opened[lost]["funds_withdrawn"] == 2500 and opened[lost]["claim"]["status"] == "disputed"
    closed = {d["payment_intent"]: d for d in got["dispute.closed"]}
    assert (closed[lost]["outcome"], closed[lost]["funds_reinstated"]) == ("lost", 0)
    assert (closed[won]["outcome"], closed[won]["funds_reinstated"]) == ("won", 1000)
    assert closed[won]["claim"]["amount_paid"] == 1000  # 3000 - 500 refunded - 2500 lost; then 1000 held, won back
    assert got["payment.refunded"][0]["amount"] == 500

    counts = _today(m)
    assert (counts["payment_succeeded"], counts["payment_failed"]) == (2, 1)
    for e in script:  # SQS may deliver any of them again: nothing counts twice
        assert reconcile.apply(e) == "duplicate"
    assert _today(m) == counts
    stack.drain()
    assert len(receiver.received) == 8


def test_a_card_declined_in_stripe_reaches_the_merchant_as_payment_failed(
    stack: Stack, merchant: MerchantClient, receiver: Receiver
) -> None:
    _subscribe(merchant, receiver.url, ["payment.failed"])
    claim = create_claim(merchant, [2500])
    metadata = {"merchant_id": merchant.merchant_id, "claim_id": claim["id"]}
    with pytest.raises(stripe.CardError):
        stripe_api.client().v1.payment_intents.create(
            params={
                "amount": 2500,
                "currency": "eur",
                "payment_method": "pm_card_chargeCustomerFail",
                "confirm": True,
                "metadata": metadata,
            }
        )
    delivered = receiver.wait_for(1)[0].event  # localstripe's webhook -> reconciler -> our webhook
    assert delivered["type"] == "payment.failed"
    assert delivered["data"]["object"]["failure_code"] == "card_declined"
    assert delivered["data"]["object"]["failure_message"]
    assert _today(merchant.merchant_id)["payment_failed"] == 1
    assert get_claim(merchant, claim["id"])["amount_paid"] == 0


def test_twenty_concurrent_stripe_payments_on_one_claim_leave_an_exact_balance(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = create_claim(merchant, [10_000, 10_000, 10_000])
    amounts = [137 * (n + 1) for n in range(20)]  # 28,770 in all: some installments settle mid-race
    events = [succeeded(merchant.merchant_id, claim["id"], _pi(), a) for a in amounts]
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(reconcile.apply, events))
    assert outcomes == ["applied"] * 20
    after = get_claim(merchant, claim["id"])
    assert after["amount_paid"] == sum(amounts) and after["amount_due"] == 30_000 - sum(amounts)
    assert [i["amount_paid"] for i in after["installments"]] == [10_000, 10_000, sum(amounts) - 20_000]
    assert len(ledger(merchant.merchant_id, claim["id"])) == 20
    assert _today(merchant.merchant_id)["payment_succeeded"] == 20


def test_a_plans_charge_is_receipted_but_not_counted_as_a_page_payment(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500, 2500], email="plan@example.com")
    charge = succeeded(merchant.merchant_id, claim["id"], _pi(), 2500)
    charge["data"]["object"]["metadata"].update(plan_id="plan_1", plan_charge="1")
    assert post(stack, charge).status == 200
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 2500
    assert _today(merchant.merchant_id).get("payment_succeeded", 0) == 0
    assert [i["message_id"] for i in stack.outbox(claim["id"])] == ["receipt#payment"]


# ---------------------------------------------------------------- receipts


@pytest.mark.parametrize(
    ("locale", "currency", "subject", "still_to_pay"),
    [
        ("pt-BR", "BRL", "Pagamento recebido: R$\xa0123,45", "Falta pagar: R$\xa026,55"),
        ("es-ES", "EUR", "Pago recibido: 123,45\xa0€", "Pendiente de pago: 26,55\xa0€"),
        ("en-GB", "GBP", "Payment received: £123.45", "Still to pay: £26.55"),
    ],
)
def test_a_recorded_payment_sends_one_receipt_in_the_debtors_language(
    stack: Stack, merchant: MerchantClient, locale: str, currency: str, subject: str, still_to_pay: str
) -> None:
    claim = create_claim(merchant, [10_000, 5_000], locale=locale, currency=currency, email="rcpt@example.com")
    # Receipts are transactional: opting out of email reminders does not stop them.
    opted = merchant.call("POST", f"/v1/debtors/{claim['debtor']['id']}/opt-outs", {"channel": "email"})
    assert opted.status == 200, opted.text
    paid = succeeded(merchant.merchant_id, claim["id"], _pi(), 12_345, currency=currency.lower())
    assert post(stack, paid).status == 200
    stack.drain()
    assert reconcile.apply(paid) == "duplicate"  # redelivered: no second receipt

    sent = [i for i in stack.outbox(claim["id"]) if i["message_id"] == "receipt#payment"]
    assert len(sent) == 1
    assert sent[0]["recipient"] == "rcpt@example.com" and sent[0]["subject"] == subject
    assert still_to_pay in sent[0]["text"] and sent[0]["html"] and "Tienda Demo" in sent[0]["sender"]


def test_every_kind_of_receipt_goes_out_through_ses(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [5_000], email="kinds@example.com")
    stored = Claim.get(merchant.merchant_id, claim["id"])
    debtor = Debtor.get(merchant.merchant_id, stored.debtor_id)
    facts: dict[str, dict[str, Any]] = {
        "payment": {"amount": 1000, "balance_after": 4000},
        "plan": {"charges": [("2031-01-05", 2500), ("2031-02-05", 2500)]},
        "promise": {"amount": 5000, "due_date": "2031-01-20"},
        "help": {"reason": "already_paid"},
        "opt_out": {"channel": "whatsapp"},
        "date_moved": {"day_of_month": 5, "due_dates": ["2031-01-05"]},
        "plan_missed": {"link": "https://pay.example/p/tok"},
    }
    ids = [receipts.send_receipt(kind, stored, debtor, f) for kind, f in facts.items()]  # type: ignore[arg-type]
    assert all(ids) and len(set(ids)) == len(facts)
    sent = {i["message_id"]: i for i in stack.outbox(claim["id"])}
    assert set(sent) == {f"receipt#{kind}" for kind in facts}
    assert "5 ene 2031: 25,00\xa0€" in sent["receipt#plan"]["text"]
    assert "https://pay.example/p/tok" in sent["receipt#plan_missed"]["links"]
    assert "Ya he pagado" in sent["receipt#help"]["text"]

    debtor.email = None
    assert receipts.send_receipt("payment", stored, debtor, facts["payment"]) is None
    with pytest.raises(receipts.BadFacts):
        receipts.send_receipt("help", stored, debtor, {"reason": "bored"})


# ---------------------------------------------------------------- refunds listed from Stripe


def _paid_in_stripe(merchant: MerchantClient, claim_id: str, amount: int) -> dict[str, Any]:
    created = stripe_api.client().v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": {"merchant_id": merchant.merchant_id, "claim_id": claim_id},
        }
    )
    payment_intent: dict[str, Any] = created.to_dict()
    assert payment_intent["status"] == "succeeded"
    return payment_intent


def _charge_of(payment_intent: dict[str, Any]) -> str:
    charge = payment_intent["latest_charge"]
    return str(charge["id"] if isinstance(charge, dict) else charge)


def test_a_refund_event_without_its_list_is_completed_from_stripe(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500, 2500])
    payment_intent = _paid_in_stripe(merchant, claim["id"], 4000)
    _wait_until(lambda: get_claim(merchant, claim["id"])["amount_paid"] == 4000, "localstripe's webhook")
    charge = _charge_of(payment_intent)
    first = stripe_api.client().v1.refunds.create(params={"charge": charge, "amount": 300})
    second = stripe_api.client().v1.refunds.create(params={"charge": charge, "amount": 450})

    assert post(stack, refunded(payment_intent["id"], None, charge=charge)).status == 200
    stack.drain()
    after = get_claim(merchant, claim["id"])
    assert after["amount_paid"] == 4000 - 750 and after["amount_paid"] + after["amount_due"] == 5000
    keys = sorted(e.entry_key for e in ledger(merchant.merchant_id, claim["id"]))
    assert keys == sorted([f"payment#{payment_intent['id']}", f"refund#{first.id}", f"refund#{second.id}"])


# ---------------------------------------------------------------- the nightly sweep


def test_the_sweep_records_a_payment_whose_webhook_never_came_exactly_once(
    stack: Stack, merchant: MerchantClient, receiver: Receiver
) -> None:
    claim = create_claim(merchant, [2500, 2500])
    receiver.default_status = 503  # stands in for our endpoint being down
    base = receiver.url.rsplit("/hooks/", 1)[0]
    LocalStack._register_stripe_webhook(stack.urls["stripe"], base)
    try:
        payment_intent = _paid_in_stripe(merchant, claim["id"], 1800)
        _wait_until(
            lambda: any(r.event["data"]["object"]["id"] == payment_intent["id"] for r in receiver.received),
            "localstripe's failed delivery",
        )
    finally:
        LocalStack._register_stripe_webhook(stack.urls["stripe"], stack.urls["pages"])
    lost = next(r for r in receiver.received if r.event["data"]["object"]["id"] == payment_intent["id"])
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 0

    first = stack.control("POST", "/schedules/StripeSweepFunction/fire")
    assert first.status == 200, first.text
    assert first.json()["result"]["repaired"] >= 1 and first.json()["result"]["failed"] == 0
    stack.drain()
    after = get_claim(merchant, claim["id"])
    assert after["amount_paid"] == 1800 and after["status"] == "partially_paid"

    again = stack.control("POST", "/schedules/StripeSweepFunction/fire").json()["result"]
    assert (again["missing"], again["repaired"]) == (0, 0) and again["checked"] >= 1

    payload = lost.body.decode()  # the real event, delivered late (signed afresh: its timestamp is old)
    reply = post_raw(stack, payload, sign(payload))
    assert reply.status == 200 and reply.json()["handled"] is True
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1800
    assert ledger_net(merchant.merchant_id, claim["id"]) == 1800 and len(ledger(merchant.merchant_id, claim["id"])) == 1
    assert _today(merchant.merchant_id)["payment_succeeded"] == 1
    assert len([i for i in stack.outbox(claim["id"]) if i["message_id"] == "receipt#payment"]) == 1
