"""The proof of exact reconciliation: 2,000 signed Stripe events, shuffled, duplicated, with crashes.

A generated Stripe history over several claims (payments, failed attempts, partial refunds with
and without their refunds list, disputes opened and closed won or lost, inquiries) is signed
with the stack's webhook secret and fed, shuffled and with duplicates, through the
signature-verifying receive path (`recobro.payments.webhook.receive`, what POST /stripe/webhook
runs: verify, store the event id once, enqueue) into an in-memory stand-in for StripeEventsQueue.
Three workers play Lambda's SQS integration for the reconciler's real handler: batches of 10,
partial batch failures, redelivery in any order. Crashes are injected at random:
an error before a commit (that record fails alone), a crash before or right after a commit that
takes the whole invocation down (nothing in the batch is deleted, so every record of it, applied
or not, comes back). At the end each claim's ledger equals the generated truth to the cent, and
the funnel and receipts counted each payment at most once (a crash right after the commit may
lose one, never double it).

RECOBRO_REPLAY_EVENTS sets the number of signed events (default 2000).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from recobro import funnel
from recobro.payments import reconcile, waiting, webhook
from recobro.storage import transactions

from infra.local.pollers import failed_ids, sqs_event
from tests import template_helpers as th
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.stripe_events import dispute, event, failed, get_claim, ledger_net, sign, succeeded

SIZE = int(os.environ.get("RECOBRO_REPLAY_EVENTS", "2000"))
WORKERS = 3
DEADLINE_SECONDS = 240
P_ERROR, P_CRASH_BEFORE, P_CRASH_AFTER = 0.03, 0.02, 0.03  # per commit
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:recobro-StripeEventsQueue"


class Crash(BaseException):
    """Escapes the handler like a killed Lambda: BatchProcessor catches only Exception."""


class Flaky(Exception):
    """A transient error inside one record (a throttle, a timeout): only that record fails."""


@dataclass
class Truth:
    """What Stripe says happened, per claim, and what the reconciler must end up with."""

    net: Counter[str] = field(default_factory=Counter)
    payments: int = 0  # distinct PaymentIntents that succeeded
    failures: int = 0  # distinct payment_intent.payment_failed events
    refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # charge -> Stripe's refunds
    events: list[dict[str, Any]] = field(default_factory=list)
    paid_with_email: Counter[str] = field(default_factory=Counter)


def _charge_refunded(pi: str, listed: list[dict[str, Any]] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": f"ch_{pi}", "object": "charge", "payment_intent": pi, "currency": "eur"}
    if listed is not None:
        obj["refunds"] = {"object": "list", "data": [dict(r) for r in listed], "has_more": False}
    return event("charge.refunded", obj)


def generate(rng: random.Random, merchant_id: str, claims: list[str], with_email: set[str], size: int) -> Truth:
    truth = Truth()
    while len(truth.events) < size * 4 // 5:
        claim_id = rng.choice(claims)
        pi = f"pi_{uuid.uuid4().hex[:14]}"
        amount = rng.randint(100, 4_000)
        scenario = rng.random()
        if scenario < 0.2:  # declined attempts; a third of them succeed later with another card
            for _ in range(rng.choice([1, 1, 2])):
                truth.events.append(
                    failed(merchant_id, claim_id, pi, amount, rng.choice(["generic_decline", "expired_card"]))
                )
                truth.failures += 1
            if rng.random() > 1 / 3:
                continue
        truth.events.append(succeeded(merchant_id, claim_id, pi, amount))
        truth.payments += 1
        truth.net[claim_id] += amount
        truth.paid_with_email[claim_id] += int(claim_id in with_email)
        left = amount
        if scenario >= 0.2 and scenario < 0.55:  # partial refunds, each event listing every refund so far
            refunds: list[dict[str, Any]] = []
            for _ in range(rng.choice([1, 2, 3])):
                if left <= 1:
                    break
                part = rng.randint(1, left // 2)
                left -= part
                refunds.append({"id": f"re_{uuid.uuid4().hex[:14]}", "amount": part, "status": "succeeded"})
                omit = rng.random() < 0.3  # API versions since 2022-11-15 do not list them
                truth.events.append(_charge_refunded(pi, None if omit else refunds))
            truth.refunds[f"ch_{pi}"] = refunds
            truth.net[claim_id] -= amount - left
        elif scenario >= 0.55 and scenario < 0.75:  # a dispute over what is left of the charge
            dispute_id = f"dp_{uuid.uuid4().hex[:14]}"
            inquiry = rng.random() < 0.15
            opened, closed = ("warning_needs_response", "warning_closed") if inquiry else ("needs_response", None)
            truth.events.append(dispute("charge.dispute.created", pi, dispute_id, left, opened))
            outcome = closed or rng.choice(["won", "lost", "open"])
            if outcome != "open":
                truth.events.append(dispute("charge.dispute.closed", pi, dispute_id, left, outcome))
            if not inquiry and outcome != "won":
                truth.net[claim_id] -= left
    return truth


@dataclass
class Queued:
    message_id: str
    body: str
    receive_count: int = 0
    visible_at: float = 0.0
    receipt_handle: str = ""


class EventsQueue:
    """StripeEventsQueue's semantics in memory: at-least-once, no order, visibility timeouts.

    moto's SQS scans its whole queue on every call, which makes a 2,000-message replay minutes
    long; the reconciler's own SQS wiring (partial batch failures, redrive) is exercised by the
    other reconciliation tests through the local runtime's poller.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.messages: dict[str, Queued] = {}

    def send(self, body: str) -> None:
        message_id = str(uuid.uuid4())
        with self.lock:
            self.messages[message_id] = Queued(message_id, body)

    def receive(self, count: int, visibility: float) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            visible = [m for m in self.messages.values() if m.visible_at <= now]
            chosen = self.rng.sample(visible, min(count, len(visible)))  # standard queues keep no order
            for message in chosen:
                message.receive_count += 1
                message.visible_at = now + visibility
                message.receipt_handle = str(uuid.uuid4())  # an earlier receive's handle no longer works
            return [
                {
                    "MessageId": m.message_id,
                    "ReceiptHandle": m.receipt_handle,
                    "Body": m.body,
                    "Attributes": {"ApproximateReceiveCount": str(m.receive_count)},
                    "MessageAttributes": {},
                }
                for m in chosen
            ]

    def settle(self, done: list[dict[str, Any]], again: list[dict[str, Any]]) -> None:
        """Delete what succeeded; what failed becomes visible again after a backoff (180 s in AWS)."""
        now = time.monotonic()
        with self.lock:
            for received in done + again:
                message = self.messages.get(received["MessageId"])
                if message is None or message.receipt_handle != received["ReceiptHandle"]:
                    continue
                if received in done:
                    del self.messages[message.message_id]
                else:
                    message.visible_at = now + min(0.05 * 2**message.receive_count, 2.0)

    def empty(self) -> bool:
        with self.lock:
            return not self.messages


@dataclass
class Replay:
    """Lambda's SQS event source mapping for the reconciler's real handler, one container per worker."""

    stack: Stack
    queue: EventsQueue
    rng: random.Random
    crashes: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    producing: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    def commit(self, real: Any) -> Any:
        def flaky_commit(writes: Any) -> None:
            with self.lock:
                roll = self.rng.random()
            if roll < P_ERROR:
                self.count("error before commit")
                raise Flaky("injected")
            if roll < P_ERROR + P_CRASH_BEFORE:
                self.count("crash before commit")
                raise Crash("injected")
            real(writes)
            if roll < P_ERROR + P_CRASH_BEFORE + P_CRASH_AFTER:
                self.count("crash after commit")
                raise Crash("injected")

        return flaky_commit

    def count(self, what: str) -> None:
        with self.lock:
            self.crashes[what] += 1

    def work(self, worker: int) -> None:
        try:
            self._work(worker)
        except BaseException as exc:  # surfaced by the test, not lost in a thread
            self.errors.append(exc)

    def _work(self, worker: int) -> None:
        path, _ = th.handler_location(th.load_template(), "ReconcilerFunction")
        handler = th.load_module_by_path(path, f"replay_reconciler_{worker}").handler  # one container each
        function = self.stack.runtime.functions["ReconcilerFunction"]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.producing.is_set() or not self.queue.empty():
            assert time.monotonic() < deadline, f"replay did not finish: {len(self.queue.messages)} messages left"
            messages = self.queue.receive(10, visibility=30)
            if not messages:
                time.sleep(0.02)
                continue
            with self.lock:
                self.batches += 1
            try:
                failures = failed_ids(handler(sqs_event(messages, QUEUE_ARN), function.context()))
            except (Crash, Exception):  # an invocation that raises (all records failed too): Lambda retries it all
                failures = None
            ids = {m["MessageId"] for m in messages} if failures is None else failures
            self.queue.settle(
                [m for m in messages if m["MessageId"] not in ids], [m for m in messages if m["MessageId"] in ids]
            )


def _claim(merchant: MerchantClient, total: int, email: bool) -> str:
    body = claim_body(amounts=[total // 3, total // 3, total - 2 * (total // 3)])
    if not email:
        body["debtor"]["email"] = None  # reachable by phone only: no receipt
    reply = merchant.call("POST", "/v1/claims", body)
    assert reply.status == 201, reply.text
    return str(reply.json()["id"])


def test_two_thousand_signed_events_with_crashes_leave_every_claim_exact_to_the_cent(
    stack: Stack, merchant: MerchantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20261125)
    totals = [30_000, 45_000, 60_000, 80_000, 100_000, 120_000, 150_000, 200_000]
    claims = [_claim(merchant, total, email=n < 2) for n, total in enumerate(totals)]
    truth = generate(rng, merchant.merchant_id, claims, set(claims[:2]), SIZE)
    signed = [json.dumps(e) for e in truth.events]
    signed += [rng.choice(signed) for _ in range(SIZE - len(signed))]  # Stripe's retries: same id, same body
    rng.shuffle(signed)
    assert len(signed) == SIZE

    stack.drain()  # nothing of earlier tests in flight: the stack's own reconciler must stay idle
    queue = EventsQueue(random.Random(11))
    replay = Replay(stack, queue, random.Random(7))
    monkeypatch.setattr(webhook, "_enqueue", lambda event_id, payload: queue.send(payload))

    # An event waiting for its payment goes back to the same (in-memory) queue, as it does in SQS.
    def wait_again(body: str, event_id: str | None, waits: int) -> bool:
        queue.send(body)
        return True

    monkeypatch.setattr(waiting, "wait_again", wait_again)
    monkeypatch.setattr(reconcile, "commit", replay.commit(transactions.commit))
    monkeypatch.setattr(reconcile, "_listed_refunds", lambda charge: [dict(r) for r in truth.refunds[charge]])

    started = time.monotonic()
    replay.producing.set()
    workers = [threading.Thread(target=replay.work, args=(n,), daemon=True) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    try:
        for payload in signed:
            if webhook.receive(payload, sign(payload)).get("duplicate") and rng.random() < 0.5:
                queue.send(payload)  # Stripe's retry is not enqueued again, but SQS delivers at least once
    finally:
        replay.producing.clear()
        for worker in workers:
            worker.join(timeout=DEADLINE_SECONDS + 10)
    elapsed = time.monotonic() - started
    assert not replay.errors, replay.errors[0]
    print(f"\nreplay: {SIZE} signed events, {replay.batches} batches, {dict(replay.crashes)}, {elapsed:.1f} s")
    assert replay.crashes["crash after commit"] > 0 and replay.crashes["crash before commit"] > 0

    for claim_id, total in zip(claims, totals, strict=True):
        assert ledger_net(merchant.merchant_id, claim_id) == truth.net[claim_id], claim_id
        view = get_claim(merchant, claim_id)
        assert view["amount_paid"] + view["amount_due"] == total
        assert view["amount_paid"] == min(truth.net[claim_id], total)
        assert view["credit"] == max(truth.net[claim_id] - total, 0)

    # Counted at most once each; a crash right after a commit may lose a count, never add one.
    lost = replay.crashes["crash after commit"]
    counts: dict[str, Any] = funnel.days(merchant.merchant_id, date.today(), date.today())[0]
    assert truth.payments - lost <= counts["payment_succeeded"] <= truth.payments
    assert truth.failures - lost <= counts["payment_failed"] <= truth.failures
    for claim_id in claims[:2]:
        receipts = [i for i in stack.outbox(claim_id) if i["message_id"] == "receipt#payment"]
        assert truth.paid_with_email[claim_id] - lost <= len(receipts) <= truth.paid_with_email[claim_id]
