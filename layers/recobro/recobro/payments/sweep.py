"""The nightly sweep: every payment Stripe says succeeded is in the ledger, even if its webhook never came.

Lists the PaymentIntents created in the last N days (STRIPE_SWEEP_DAYS, default 3; Stripe's
auto-pagination, 100 a page), keeps the succeeded ones that carry our metadata, checks their
`payment#<pi>` ledger entries with one BatchGetItem per 100, and applies each missing one through
the reconciler's own path as a synthetic `payment_intent.succeeded` event `sweep_<pi>`. The
ledger key is the PaymentIntent, so a real webhook arriving later finds the payment recorded and
moves nothing; a payment the sweep repairs gets its receipt, funnel count and webhooks like any
other. One PaymentIntent that cannot be applied (no such claim, another currency) is counted and
logged, and the sweep goes on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger

from recobro import clock, config
from recobro.payments import reconcile, stripe_api
from recobro.payments.mapping import movement_of
from recobro.storage.models import claim_ref

logger = Logger(child=True)

DEFAULT_DAYS = 3
PAGE = 100  # Stripe's largest page; also the BatchGetItem limit


@dataclass
class SweepResult:
    checked: int = 0  # PaymentIntents Stripe listed
    succeeded: int = 0  # of those, succeeded and ours
    missing: int = 0  # with no ledger entry when the sweep looked
    repaired: int = 0  # applied by the sweep
    failed: int = 0  # could not be applied (logged with the PaymentIntent id)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep_days() -> int:
    value = os.environ.get("STRIPE_SWEEP_DAYS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_DAYS


@functools.lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("dynamodb")


def synthetic_event(payment_intent: dict[str, Any]) -> dict[str, Any]:
    """The payment_intent.succeeded event Stripe would have sent for this PaymentIntent."""
    return {
        "id": f"sweep_{payment_intent['id']}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": payment_intent.get("created"),
        "livemode": bool(payment_intent.get("livemode")),
        "data": {"object": payment_intent},
    }


def _pages(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _recorded(keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (claim_ref, entry_key) pairs exist in the ledger: one BatchGetItem (more if throttled)."""
    request: dict[str, Any] = {
        config.LEDGER_TABLE: {
            "Keys": [{"claim_ref": {"S": ref}, "entry_key": {"S": key}} for ref, key in dict.fromkeys(keys)],
            "ProjectionExpression": "claim_ref, entry_key",
            "ConsistentRead": True,
        }
    }
    found: set[tuple[str, str]] = set()
    while request:
        reply = _client().batch_get_item(RequestItems=request)
        for item in reply.get("Responses", {}).get(config.LEDGER_TABLE, []):
            found.add((item["claim_ref"]["S"], item["entry_key"]["S"]))
        request = reply.get("UnprocessedKeys") or {}
    return found


def _listed(days: int) -> Iterator[dict[str, Any]]:
    since = int((clock.now() - timedelta(days=days)).timestamp())
    listing = stripe_api.client().v1.payment_intents.list(params={"created": {"gte": since}, "limit": PAGE})
    for payment_intent in listing.auto_paging_iter():
        yield payment_intent.to_dict()


def sweep(days: int | None = None) -> SweepResult:
    """Apply every succeeded PaymentIntent of the last `days` days that the ledger is missing."""
    result = SweepResult()
    for page in _pages(_listed(days or sweep_days()), PAGE):
        result.checked += len(page)
        candidates: list[tuple[tuple[str, str], dict[str, Any]]] = []
        for payment_intent in page:
            if payment_intent.get("status") != "succeeded":
                continue
            movement = movement_of(synthetic_event(payment_intent))
            if movement.kind != "payment" or not movement.merchant_id or not movement.claim_id:
                continue  # not one of ours
            ref = claim_ref(movement.merchant_id, movement.claim_id)
            candidates.append(((ref, f"payment#{payment_intent['id']}"), payment_intent))
        result.succeeded += len(candidates)
        if not candidates:
            continue
        recorded = _recorded([key for key, _ in candidates])
        for key, payment_intent in candidates:
            if key in recorded:
                continue
            result.missing += 1
            try:
                outcome = reconcile.apply(synthetic_event(payment_intent))
            except Exception as exc:
                result.failed += 1
                logger.error(
                    "sweep could not apply a payment",
                    extra={"payment_intent": payment_intent["id"], "error": type(exc).__name__},
                )
                continue
            if outcome == "applied":
                result.repaired += 1
                logger.warning("payment recorded by the sweep", extra={"payment_intent": payment_intent["id"]})
    return result
