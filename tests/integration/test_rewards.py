"""A recorded payment rewards the reminders sent in the 7 days before it, each once (ADR 0014).

Through the local stack: signed Stripe events -> queue -> reconciler, and the merchant API's
"payment made elsewhere". Reminders are written as the sender leaves them (sent_messages), two
and eight days before the payment; the claim's timeline then says in plain words what each
reminder did and earned.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from recobro import clock
from recobro.claims.timeline import REWARD_WORDS
from recobro.storage.models import Message, VariantStats, claim_ref

from tests.integration import sent_messages
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import Browser
from tests.integration.sent_messages import SentReminder, choice
from tests.integration.stripe_events import create_claim, get_claim, post, succeeded

FIRM = choice("firm", {"firm": 0.62, "friendly": 0.38})


def _claim(merchant: MerchantClient) -> dict[str, Any]:
    # Due in the future, so no planner run (any test's) sends it a real reminder meanwhile.
    later = date.today() + timedelta(days=40)
    return create_claim(merchant, [2500, 2500], due=[later, later + timedelta(days=30)])


def _two_reminders(merchant: MerchantClient, claim_id: str) -> tuple[SentReminder, SentReminder]:
    """One reminder sent 8 days ago (friendly) and one 2 days ago (firm), each under its own arm."""
    now = clock.now()
    old = sent_messages.send(
        merchant.merchant_id,
        claim_id,
        installment=1,
        step="d-3.email",
        sent_at=now - timedelta(days=8),
        chosen=choice("friendly", {"firm": 0.5, "friendly": 0.5}),
    )
    recent = sent_messages.send(
        merchant.merchant_id, claim_id, installment=1, step="d+1.email", sent_at=now - timedelta(days=2), chosen=FIRM
    )
    return old, recent


def _late_reminder(merchant: MerchantClient, claim_id: str) -> SentReminder:
    """A reminder written after the payment but dated inside its window: only a second credit would reward it."""
    return sent_messages.send(
        merchant.merchant_id,
        claim_id,
        installment=2,
        step="d+3.email",
        sent_at=clock.now() - timedelta(days=3),
        chosen=choice("short", {"short": 0.4, "firm": 0.6}),
    )


def _credited_by_payment(reminder: SentReminder) -> None:
    message = reminder.message()
    assert message.rewarded_at is not None and message.reward_kind == "payment"
    assert reminder.arm().rewards == 1 and reminder.arm().sends == 1


def _not_credited(reminder: SentReminder) -> None:
    assert reminder.message().rewarded_at is None
    assert int(reminder.arm().rewards or 0) == 0


def _stripe_payment(merchant: MerchantClient, claim_id: str, pi: str, **metadata: str) -> dict[str, Any]:
    event = succeeded(merchant.merchant_id, claim_id, pi, 1000)
    event["created"] = int(clock.now().timestamp())  # the travelled clock of the stack, not the wall clock
    event["data"]["object"]["metadata"].update(metadata)
    return event


def test_a_stripe_payment_credits_the_reminder_of_two_days_before_once(stack: Stack, merchant: MerchantClient) -> None:
    claim = _claim(merchant)
    old, recent = _two_reminders(merchant, claim["id"])
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    paid = _stripe_payment(merchant, claim["id"], pi)
    assert post(stack, paid).status == 200
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1000
    _credited_by_payment(recent)
    _not_credited(old)  # sent 8 days before the payment

    late = _late_reminder(merchant, claim["id"])
    replay = post(stack, paid)
    assert replay.status == 200 and replay.json()["duplicate"] is True
    same_payment = _stripe_payment(merchant, claim["id"], pi)  # another event for the same PaymentIntent
    assert post(stack, same_payment).status == 200
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1000
    _not_credited(late)
    _credited_by_payment(recent)


def test_a_plan_charge_counts_as_a_payment(stack: Stack, merchant: MerchantClient) -> None:
    claim = _claim(merchant)
    old, recent = _two_reminders(merchant, claim["id"])
    charge = _stripe_payment(merchant, claim["id"], f"pi_{uuid.uuid4().hex[:12]}", plan_charge="1")
    assert post(stack, charge).status == 200
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1000
    _credited_by_payment(recent)
    _not_credited(old)


def _pay_elsewhere(merchant: MerchantClient, claim_id: str, reference: str, **extra: Any) -> None:
    body = {"amount": 1000, "currency": "EUR", "external_reference": reference, **extra}
    reply = merchant.call("POST", f"/v1/claims/{claim_id}/payments", body)
    assert reply.status in (200, 201), reply.text


def test_a_payment_made_elsewhere_credits_the_reminder_of_two_days_before_once(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim = _claim(merchant)
    old, recent = _two_reminders(merchant, claim["id"])
    _pay_elsewhere(merchant, claim["id"], "bank-transfer-1")
    _credited_by_payment(recent)
    _not_credited(old)

    late = _late_reminder(merchant, claim["id"])
    _pay_elsewhere(merchant, claim["id"], "bank-transfer-1")  # the same payment again: a replay
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1000
    _not_credited(late)
    _credited_by_payment(recent)


def test_a_payment_made_elsewhere_is_credited_by_when_it_was_made(stack: Stack, merchant: MerchantClient) -> None:
    claim = _claim(merchant)
    old, recent = _two_reminders(merchant, claim["id"])
    paid_at = clock.now() - timedelta(days=5)  # 3 days after the old reminder, 3 days before the recent one
    _pay_elsewhere(merchant, claim["id"], "cash-desk-7", paid_at=paid_at.isoformat())
    _credited_by_payment(old)
    _not_credited(recent)
    message = old.message()
    assert message.rewarded_at is not None and abs(message.rewarded_at - paid_at) < timedelta(seconds=1)


def test_a_reminder_the_sender_sent_is_credited_by_a_payment(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500])  # two days overdue: the planner and the sender send its reminder
    stack.fire_planner()
    stack.drain()
    (message,) = Message.query(claim_ref(merchant.merchant_id, claim["id"]), consistent_read=True)
    assert message.status == "sent" and message.stats_arm is not None
    _pay_elsewhere(merchant, claim["id"], "bank-transfer-3")
    paid = Message.get(message.claim_ref, message.message_id, consistent_read=True)
    assert paid.reward_kind == "payment"
    arm = VariantStats.get(str(message.stats_key), str(message.stats_arm), consistent_read=True)
    assert arm.sends == 1 and arm.rewards == 1
    said = _summaries(merchant, claim["id"])
    assert any(" variant " in s for s in said["message.sent"]), said["message.sent"]
    (rewarded,) = said["message.rewarded"]
    assert rewarded.endswith(f"({REWARD_WORDS['payment']})")


def _summaries(merchant: MerchantClient, claim_id: str) -> dict[str, list[str]]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}/timeline")
    assert reply.status == 200, reply.text
    found: dict[str, list[str]] = {}
    for entry in reply.json()["data"]:
        found.setdefault(entry["type"], []).append(entry["summary"])
    return found


def test_the_timeline_tells_what_each_reminder_did_and_earned(stack: Stack, merchant: MerchantClient) -> None:
    claim = _claim(merchant)
    now = clock.now()
    clicked = sent_messages.send(
        merchant.merchant_id, claim["id"], installment=1, step="d+1.email", sent_at=now - timedelta(days=2), chosen=FIRM
    )
    held_out = sent_messages.send(
        merchant.merchant_id,
        claim["id"],
        installment=1,
        step="d-3.email",
        sent_at=now - timedelta(days=5),
        chosen=choice("friendly", {"friendly": 1.0}, holdout=True),
        latest=False,
    )
    links = clicked.links(stack.urls["tracking"])
    for _ in range(3):
        assert Browser().get(links.open_pixel_url).status == 200
    assert Browser().get(links.click_url).status == 302
    _pay_elsewhere(merchant, claim["id"], "bank-transfer-9")
    assert clicked.message().reward_kind == "click"  # rewarded once, by the click that came first
    assert held_out.message().reward_kind == "payment"

    said = _summaries(merchant, claim["id"])
    name = "Reminder d+1.email for installment 1"
    assert f"{name} sent by email, variant firm (chance 62%)" in said["message.sent"]
    today = clock.now().astimezone(ZoneInfo("Europe/Madrid")).date().isoformat()  # not the day it was sent
    local = rf"\d\d:\d\d Europe/Madrid on {today}"
    (opened,) = said["message.opened"]
    assert re.fullmatch(rf"{re.escape(name)} opened \(3 times, last at {local}\)", opened), opened
    (clicked_words,) = said["message.clicked"]
    assert re.fullmatch(rf"{re.escape(name)} clicked at {local}", clicked_words), clicked_words
    held = "Reminder d-3.email for installment 1"
    assert any(s.startswith(f"{held} sent by email, control variant friendly (holdout") for s in said["message.sent"])
    assert sorted(said["message.rewarded"]) == sorted(
        [
            f"{name} counted as a success for variant firm ({REWARD_WORDS['click']})",
            f"{held} counted as a success for the holdout's control variant friendly ({REWARD_WORDS['payment']})",
        ]
    )
    assert REWARD_WORDS == {"click": "clicked within 3 days", "payment": "paid within 7 days"}
