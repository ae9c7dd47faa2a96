"""Payments made elsewhere and refunds: exact allocation, idempotency, settlement, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack


def create(merchant: MerchantClient, **kwargs) -> dict:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def pay(merchant: MerchantClient, claim_id: str, amount: int, reference: str, currency: str = "EUR"):
    body = {"amount": amount, "currency": currency, "external_reference": reference, "paid_at": "2026-11-20T10:00:00Z"}
    return merchant.call("POST", f"/v1/claims/{claim_id}/payments", body)


def test_a_payment_goes_to_the_oldest_installment_first(merchant: MerchantClient):
    claim = create(merchant, due=[date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)], amounts=[2500, 2500, 2500])
    reply = pay(merchant, claim["id"], 3000, "bank-1")
    assert reply.status == 201, reply.text
    payment = reply.json()
    assert payment["allocations"] == [{"installment": 1, "amount": 2500}, {"installment": 2, "amount": 500}]
    assert payment["claim"] == {"status": "partially_paid", "amount_paid": 3000, "amount_due": 4500, "credit": 0}
    after = merchant.call("GET", f"/v1/claims/{claim['id']}").json()
    assert [i["amount_paid"] for i in after["installments"]] == [2500, 500, 0]
    assert after["status"] == "partially_paid"


def test_the_same_external_reference_counts_once(merchant: MerchantClient):
    claim = create(merchant, amounts=[2500, 2500])
    first = pay(merchant, claim["id"], 1000, "bank-2")
    again = pay(merchant, claim["id"], 1000, "bank-2")
    assert first.status == 201 and again.status == 201
    assert again.json()["id"] == first.json()["id"]
    assert merchant.call("GET", f"/v1/claims/{claim['id']}").json()["amount_paid"] == 1000
    different = pay(merchant, claim["id"], 999, "bank-2")
    assert different.status == 409
    assert different.json()["error"]["code"] == "external_reference_reused"


def test_a_payment_in_another_currency_is_refused(merchant: MerchantClient):
    claim = create(merchant)
    reply = pay(merchant, claim["id"], 1000, "bank-3", currency="USD")
    assert reply.status == 400 and reply.json()["error"]["field"] == "currency"
    assert merchant.call("GET", f"/v1/claims/{claim['id']}").json()["amount_paid"] == 0


def test_paying_everything_settles_the_claim_and_stops_reminders(stack: Stack, merchant: MerchantClient):
    claim = create(merchant, due=[date.today() - timedelta(days=3)], amounts=[1500])
    assert claim["next_reminder_at"] is not None
    reply = pay(merchant, claim["id"], 2000, "bank-4")
    assert reply.json()["claim"] == {"status": "paid", "amount_paid": 1500, "amount_due": 0, "credit": 500}
    settled = merchant.call("GET", f"/v1/claims/{claim['id']}").json()
    assert settled["status"] == "paid" and settled["credit"] == 500 and settled["next_reminder_at"] is None
    stack.fire_planner()
    stack.drain()
    assert stack.outbox(claim["id"]) == []
    assert pay(merchant, claim["id"], 100, "bank-4b").json()["claim"]["credit"] == 600


def test_refunds_reopen_the_claim_and_never_exceed_the_payment(merchant: MerchantClient):
    claim = create(merchant, amounts=[1000, 1000])
    pay(merchant, claim["id"], 2000, "bank-5")
    refund = merchant.call(
        "POST",
        f"/v1/claims/{claim['id']}/refunds",
        {"payment_reference": "bank-5", "amount": 1200, "external_reference": "rf-1", "reason": "returned goods"},
    )
    assert refund.status == 201, refund.text
    assert refund.json()["allocations"] == [{"installment": 2, "amount": 1000}, {"installment": 1, "amount": 200}]
    assert refund.json()["claim"]["status"] == "partially_paid"
    too_much = merchant.call(
        "POST",
        f"/v1/claims/{claim['id']}/refunds",
        {"payment_reference": "bank-5", "amount": 801, "external_reference": "rf-2"},
    )
    assert too_much.status == 409 and too_much.json()["error"]["refundable"] == 800
    unknown = merchant.call(
        "POST",
        f"/v1/claims/{claim['id']}/refunds",
        {"payment_reference": "nope", "amount": 1, "external_reference": "rf-3"},
    )
    assert unknown.status == 404
    ledger = merchant.call("GET", f"/v1/claims/{claim['id']}/payments").json()["data"]
    assert [(e["object"], e["amount"]) for e in ledger] == [("payment", 2000), ("refund", 1200)]
    assert ledger[0]["amount_refunded"] == 1200


def test_a_cancelled_claim_takes_no_payment_but_a_written_off_one_does(merchant: MerchantClient):
    cancelled = create(merchant, amounts=[1000])
    merchant.call("POST", f"/v1/claims/{cancelled['id']}/cancel", {"reason": "order voided"})
    reply = pay(merchant, cancelled["id"], 1000, "bank-6")
    assert reply.status == 409 and reply.json()["error"]["current_status"] == "cancelled"

    written_off = create(merchant, amounts=[1000])
    merchant.call("POST", f"/v1/claims/{written_off['id']}/write-off", {"reason": "uncollectable"})
    assert pay(merchant, written_off["id"], 400, "bank-7").json()["claim"]["status"] == "written_off"
    assert pay(merchant, written_off["id"], 600, "bank-8").json()["claim"]["status"] == "paid"


def test_twenty_concurrent_payments_leave_an_exact_balance(merchant: MerchantClient):
    claim = create(merchant, amounts=[5000, 5000, 5000])
    amounts = [37, 250, 999, 1, 480, 1200, 73, 640, 310, 99, 2000, 5, 760, 430, 88, 150, 901, 66, 1000, 444]

    def one(n: int) -> int:
        return pay(merchant, claim["id"], amounts[n], f"conc-{n}").status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(20)))
    assert statuses == [201] * 20
    after = merchant.call("GET", f"/v1/claims/{claim['id']}").json()
    assert after["amount_paid"] + after["amount_due"] == 15000
    assert after["amount_paid"] == sum(amounts)
    assert sum(i["amount_paid"] for i in after["installments"]) == sum(amounts)
    ledger = merchant.call("GET", f"/v1/claims/{claim['id']}/payments").json()["data"]
    assert sorted(e["amount"] for e in ledger) == sorted(amounts)
