"""Early-payment offers end to end on the local stack: the −3 reminder makes the offer, and a
payment in time (merchant API, Stripe webhook or the payment page) settles the installment with a
discount entry, exactly once; a payment after the due date does not.

The −3 job is put on the queue the way the planner makes it (the sender then sends the default
strategy's d-3.email step). Tests start at 14:00 UTC (16:00 in Madrid), so a claim due in three
days has its 10:00 step due and the debtor inside contact hours.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import boto3
from recobro import clock
from recobro.money import format_date
from recobro.payments import reconcile
from recobro.reminders.jobs import ReminderJob

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import DOB, Browser, verified
from tests.integration.stripe_events import post, succeeded
from tests.integration.test_payment_page_actions import _card_page, _confirm_like_stripe_js, _form, _link, _wait_for

MADRID = ZoneInfo("Europe/Madrid")


def _today() -> date:
    return clock.now().astimezone(MADRID).date()


def _create(merchant: MerchantClient, amounts: list[int], **kwargs: Any) -> dict[str, Any]:
    due = [_today() + timedelta(days=3 + 31 * n) for n in range(len(amounts))]
    reply = merchant.call("POST", "/v1/claims", claim_body(due=due, amounts=amounts, **kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def _claim(merchant: MerchantClient, claim_id: str) -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}")
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _ledger(merchant: MerchantClient, claim_id: str) -> list[dict[str, Any]]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}/payments")
    assert reply.status == 200, reply.text
    data: list[dict[str, Any]] = reply.json()["data"]
    return data


def _timeline(merchant: MerchantClient, claim_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = merchant.call("GET", f"/v1/claims/{claim_id}/timeline").json()["data"]
    return data


def _offer_reminder(stack: Stack, merchant: MerchantClient, claim: dict[str, Any]) -> dict[str, Any]:
    """Send the default strategy's d-3.email job for installment 1; the email it sent."""
    job = ReminderJob(
        merchant_id=merchant.merchant_id,
        claim_id=claim["id"],
        installment=1,
        step="d-3.email",
        planned_for=claim["next_reminder_at"],
        debtor_id=claim["debtor"]["id"],
    )
    boto3.client("sqs").send_message(QueueUrl=os.environ["MESSAGE_JOBS_QUEUE_URL"], MessageBody=job.model_dump_json())
    stack.drain()
    (email,) = [m for m in stack.outbox(claim["id"]) if str(m.get("message_id") or "").startswith("msg#")]
    return email


def _pay(merchant: MerchantClient, claim_id: str, amount: int, reference: str) -> dict[str, Any]:
    body = {"amount": amount, "currency": "EUR", "external_reference": reference}
    reply = merchant.call("POST", f"/v1/claims/{claim_id}/payments", body)
    assert reply.status == 201, reply.text
    payment: dict[str, Any] = reply.json()
    return payment


def _end_of_due_date(claim: dict[str, Any]) -> datetime:
    due = date.fromisoformat(claim["installments"][0]["due_date"])
    return datetime.combine(due, time.max, tzinfo=MADRID).astimezone(UTC)


def test_the_minus_three_email_offers_two_percent_and_paying_it_through_the_api_settles_the_installment(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, [2500, 2500])
    due = date.fromisoformat(claim["installments"][0]["due_date"])
    assert claim.get("early_payment_offer") is None  # no reminder, no offer

    email = _offer_reminder(stack, merchant, claim)
    day = format_date(due, "es-ES")  # "1 oct 2026"
    assert email["subject"] == f"Tienda Demo: paga 24,50\xa0€ hasta el {day} y ahorra 0,50\xa0€"
    assert f"vence el {day}." in email["text"]
    assert f"Paga 24,50\xa0€ hasta el {day} y ahorra 0,50\xa0€." in email["text"]
    assert "24,50" in email["html"] and "El descuento del 2 %" in email["text"]

    offered = _claim(merchant, claim["id"])["early_payment_offer"]
    assert offered["valid_until"] == _end_of_due_date(claim).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {k: offered[k] for k in ("installment", "discount_percent", "discount", "amount_to_pay")} == {
        "installment": 1,
        "discount_percent": 2,
        "discount": 50,
        "amount_to_pay": 2450,
    }

    payment = _pay(merchant, claim["id"], 2450, "bank-early-1")
    assert payment["discount"] == 50 and payment["allocations"] == [{"installment": 1, "amount": 2450}]
    assert payment["claim"] == {"status": "partially_paid", "amount_paid": 2450, "amount_due": 2500, "credit": 0}

    after = _claim(merchant, claim["id"])
    first = after["installments"][0]
    assert (first["status"], first["amount_paid"], first["amount_discounted"]) == ("paid", 2450, 50)
    assert first["amount_due"] == 0
    assert after["amount_total"] == after["amount_paid"] + after["amount_discounted"] + after["amount_due"]
    assert (after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (2450, 50, 2500)
    assert after["early_payment_offer"] is None

    ledger = _ledger(merchant, claim["id"])
    assert [(e["object"], e["amount"]) for e in ledger] == [("payment", 2450), ("discount", 50)]
    assert ledger[1]["allocations"] == [{"installment": 1, "amount": 50}]
    assert ledger[1]["payment_reference"] == "bank-early-1" and ledger[1]["reason"] == "early_payment"
    (applied,) = [e for e in _timeline(merchant, claim["id"]) if e["type"] == "claim.discount_applied"]
    assert applied["summary"] == "Early-payment discount of €0.50 applied to installment 1"
    assert applied["data"]["amount"] == 50 and applied["data"]["installment"] == 1

    again = _pay(merchant, claim["id"], 2450, "bank-early-1")  # the same reference: the first result
    assert again["id"] == payment["id"] and again["discount"] == 50
    assert len(_ledger(merchant, claim["id"])) == 2
    assert _claim(merchant, claim["id"])["amount_due"] == 2500


def test_paying_the_discounted_amount_after_the_due_date_earns_no_discount(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, [2500])
    _offer_reminder(stack, merchant, claim)
    clock.travel_to(_end_of_due_date(claim) + timedelta(seconds=1))  # 00:00 in Madrid the day after
    assert _claim(merchant, claim["id"])["early_payment_offer"] is None

    payment = _pay(merchant, claim["id"], 2450, "bank-late-1")
    assert payment["discount"] == 0
    after = _claim(merchant, claim["id"])
    assert (after["status"], after["amount_due"], after["amount_discounted"]) == ("partially_paid", 50, 0)
    assert [e["object"] for e in _ledger(merchant, claim["id"])] == ["payment"]


def test_paying_less_than_the_offer_leaves_it_open_until_the_rest_comes_in_time(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, [2500])
    _offer_reminder(stack, merchant, claim)
    assert _pay(merchant, claim["id"], 1000, "bank-part-1")["discount"] == 0
    offer = _claim(merchant, claim["id"])["early_payment_offer"]
    assert (offer["discount"], offer["amount_to_pay"]) == (50, 1450)  # what is left to take the offer
    assert _pay(merchant, claim["id"], 1450, "bank-part-2")["discount"] == 50
    after = _claim(merchant, claim["id"])
    assert (after["status"], after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (
        "paid",
        2450,
        50,
        0,
    )
    assert after["next_reminder_at"] is None  # settled: no more reminders


def test_a_refund_takes_back_the_money_and_the_discount_stays(stack: Stack, merchant: MerchantClient) -> None:
    claim = _create(merchant, [2500])
    _offer_reminder(stack, merchant, claim)
    _pay(merchant, claim["id"], 2450, "bank-refund-1")
    body = {"payment_reference": "bank-refund-1", "amount": 2450, "external_reference": "refund-1"}
    assert merchant.call("POST", f"/v1/claims/{claim['id']}/refunds", body).status == 201
    after = _claim(merchant, claim["id"])
    # Statuses follow what is settled: the discount still settles part of the claim.
    assert (after["status"], after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (
        "partially_paid",
        0,
        50,
        2450,
    )
    assert after["early_payment_offer"] is None  # one discount per installment


def test_a_stripe_payment_in_time_takes_the_offer_once_whatever_is_replayed(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, [2500, 2500])
    _offer_reminder(stack, merchant, claim)
    paid = succeeded(merchant.merchant_id, claim["id"], "pi_early_in_time_" + claim["id"][-8:], 2450)
    paid["created"] = int(clock.now().timestamp())
    assert post(stack, paid).status == 200
    stack.drain()
    assert post(stack, paid).status == 200  # Stripe delivers it again
    stack.drain()
    assert reconcile.apply(paid) == "duplicate"
    sweep = {**paid, "id": "sweep_" + paid["data"]["object"]["id"]}  # another event for the same payment
    assert reconcile.apply(sweep) == "nothing_to_move"

    ledger = _ledger(merchant, claim["id"])
    assert [(e["object"], e["amount"]) for e in ledger] == [("payment", 2450), ("discount", 50)]
    after = _claim(merchant, claim["id"])
    assert (after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (2450, 50, 2500)
    assert after["installments"][0]["status"] == "paid"
    assert [e["type"] for e in _timeline(merchant, claim["id"])].count("claim.discount_applied") == 1
    (receipt,) = [m for m in stack.outbox(claim["id"]) if m["message_id"] == "receipt#payment"]
    assert "Se ha aplicado tu descuento por pronto pago de 0,50\xa0€." in receipt["text"]


def test_a_stripe_payment_made_after_the_due_date_earns_no_discount(stack: Stack, merchant: MerchantClient) -> None:
    claim = _create(merchant, [2500])
    _offer_reminder(stack, merchant, claim)
    late = succeeded(merchant.merchant_id, claim["id"], "pi_early_late_" + claim["id"][-8:], 2450)
    late["created"] = int((_end_of_due_date(claim) + timedelta(minutes=5)).timestamp())
    assert post(stack, late).status == 200
    stack.drain()
    assert [e["object"] for e in _ledger(merchant, claim["id"])] == ["payment"]
    after = _claim(merchant, claim["id"])
    assert (after["amount_due"], after["amount_discounted"]) == (50, 0)


def test_the_page_offers_the_discount_takes_it_below_the_minimum_and_confirms_it(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _create(merchant, [450])  # 2% is 0,09 €; 4,41 € is below the 5,00 € minimum payment
    email = _offer_reminder(stack, merchant, claim)
    (link,) = [url for url in email["links"] if "/p/" in url]
    assert link.startswith(stack.urls["pages"])
    url = _claim(merchant, claim["id"])["payment_url"]
    browser = Browser()
    assert verified(browser, url, DOB).status == 200
    overview = browser.get(url)
    due = date.fromisoformat(claim["installments"][0]["due_date"])
    offer = re.search(r'data-testid="early-payment-offer">([^<]+)<', overview.text)
    assert offer and offer.group(1) == f"Paga 4,41\xa0€ hasta el {format_date(due, 'es-ES')} y ahorra 0,09\xa0€."

    pay_url = _link(overview, url, "action-pay")
    action, token, form = _form(browser, pay_url, "pay")
    assert 'value="4,41"' in form.text and 'data-testid="early-payment-offer"' in form.text
    refused = browser.post(action, {"csrf_token": token, "amount": "4,40"})  # neither the offer nor the minimum
    assert refused.status == 400 and 'role="alert"' in refused.text

    _, secret = _card_page(browser, url, "4,41")
    intent_id = secret.split("_secret")[0]
    assert _confirm_like_stripe_js(intent_id, "pm_card_visa").status == "succeeded"
    _wait_for(lambda: _claim(merchant, claim["id"])["status"] == "paid")
    after = _claim(merchant, claim["id"])
    assert (after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (441, 9, 0)

    done = browser.get(urljoin(url + "/", f"paid?payment_intent={intent_id}"))
    assert 'data-testid="payment-confirmed"' in done.text and "4,41" in done.text
    assert "Se ha aplicado tu descuento por pronto pago de 0,09\xa0€." in done.text
    assert "early-payment-offer" not in verified(Browser(), url, DOB).text  # taken: no longer offered
