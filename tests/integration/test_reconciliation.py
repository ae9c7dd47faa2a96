"""Stripe reconciliation end to end: signed webhooks -> StripeEventsQueue -> reconciler -> ledger.

localstripe sends no refund or dispute events, so these tests build and sign every event
themselves with the webhook secret the local runtime sets (STRIPE_WEBHOOK_SECRET). The replay
here sends 300 events over HTTP; the 2,000-event proof with injected crashes is
test_reconciliation_replay.py.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from recobro.storage.models import StripeEvent

from tests.http import request
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.stripe_events import (
    create_claim,
    dispute,
    get_claim,
    ledger_net,
    post,
    refunded,
    sign,
    succeeded,
)


def test_a_signed_payment_lowers_the_balance_by_exactly_its_amount(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500, 2500])
    paid = succeeded(merchant.merchant_id, claim["id"], f"pi_{uuid.uuid4().hex[:12]}", 3100)
    reply = post(stack, paid)
    assert reply.status == 200, reply.text
    stack.drain()
    after = get_claim(merchant, claim["id"])
    assert after["amount_paid"] == 3100 and after["status"] == "partially_paid"
    assert [i["amount_paid"] for i in after["installments"]] == [2500, 600]


def test_the_same_event_twice_counts_once(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500])
    paid = succeeded(merchant.merchant_id, claim["id"], f"pi_{uuid.uuid4().hex[:12]}", 1000)
    assert post(stack, paid).status == 200
    stack.drain()
    again = post(stack, paid)
    assert again.status == 200 and again.json()["duplicate"] is True
    stack.drain()
    assert get_claim(merchant, claim["id"])["amount_paid"] == 1000


def test_a_tampered_signature_is_refused_and_nothing_is_stored(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500])
    paid = succeeded(merchant.merchant_id, claim["id"], f"pi_{uuid.uuid4().hex[:12]}", 1000)
    for signature in (sign(json.dumps(paid), "whsec_wrong"), "t=1,v1=deadbeef"):
        reply = post(stack, paid, signature=signature)
        assert reply.status == 400
        assert reply.json()["error"]["code"] == "invalid_signature" and reply.json()["error"]["message"]
    missing = request("POST", stack.urls["pages"] + "/stripe/webhook", body=json.dumps(paid))
    assert missing.status == 400 and missing.json()["error"]["code"] == "invalid_signature"
    stack.drain()
    assert StripeEvent.count(f"event#{paid['id']}") == 0
    assert get_claim(merchant, claim["id"])["amount_paid"] == 0


def test_a_refund_before_its_payment_waits_for_it(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500, 2500])
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    assert post(stack, refunded(pi, [(f"re_{pi}", 400)])).status == 200
    assert post(stack, succeeded(merchant.merchant_id, claim["id"], pi, 3000)).status == 200
    stack.drain()
    after = get_claim(merchant, claim["id"])
    assert after["amount_paid"] == 2600
    assert ledger_net(merchant.merchant_id, claim["id"]) == 2600


def test_a_dispute_holds_the_claim_and_a_win_gives_the_money_back(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500, 2500])
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    assert post(stack, succeeded(merchant.merchant_id, claim["id"], pi, 2000)).status == 200
    stack.drain()
    assert post(stack, dispute("charge.dispute.created", pi, f"dp_{pi}", 2000, "needs_response")).status == 200
    stack.drain()
    held = get_claim(merchant, claim["id"])
    assert held["status"] == "disputed" and held["amount_paid"] == 0
    assert post(stack, dispute("charge.dispute.closed", pi, f"dp_{pi}", 2000, "won")).status == 200
    stack.drain()
    back = get_claim(merchant, claim["id"])
    assert back["status"] == "partially_paid" and back["amount_paid"] == 2000


def test_a_lost_dispute_stays_refunded(stack: Stack, merchant: MerchantClient) -> None:
    claim = create_claim(merchant, [2500])
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    closed = dispute("charge.dispute.closed", pi, f"dp_{pi}", 1500, "lost")
    opened = dispute("charge.dispute.created", pi, f"dp_{pi}", 1500, "needs_response")
    for e in (closed, opened, succeeded(merchant.merchant_id, claim["id"], pi, 1500)):  # any order
        assert post(stack, e).status == 200
    stack.drain()
    after = get_claim(merchant, claim["id"])
    assert after["status"] == "open" and after["amount_paid"] == 0


def test_shuffled_replay_with_duplicates_matches_the_generated_events_to_the_cent(
    stack: Stack, merchant: MerchantClient
) -> None:
    size = 300
    rng = random.Random(5)
    claims = [create_claim(merchant, [50_000, 50_000, 50_000]) for _ in range(5)]
    expected = {c["id"]: 0 for c in claims}
    unique: list[dict[str, Any]] = []
    while len(unique) < size * 4 // 5:
        claim_id = rng.choice(claims)["id"]
        pi = f"pi_{uuid.uuid4().hex[:14]}"
        amount = rng.randint(1, 3000)
        unique.append(succeeded(merchant.merchant_id, claim_id, pi, amount))
        expected[claim_id] += amount
        refunds: list[tuple[str, int]] = []
        for _ in range(rng.choice([0, 0, 1, 2])):
            left = amount - sum(a for _, a in refunds)
            if left <= 0:
                break
            refunds.append((f"re_{uuid.uuid4().hex[:14]}", rng.randint(1, left)))
            unique.append(refunded(pi, list(refunds)))  # Stripe lists every refund so far
        expected[claim_id] -= sum(a for _, a in refunds)
    events = unique + [rng.choice(unique) for _ in range(size - len(unique))]
    rng.shuffle(events)
    for e in events:
        assert post(stack, e).status == 200
    stack.drain()
    for claim in claims:
        assert ledger_net(merchant.merchant_id, claim["id"]) == expected[claim["id"]]
        assert get_claim(merchant, claim["id"])["amount_paid"] == min(expected[claim["id"]], 150_000)
