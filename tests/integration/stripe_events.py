"""Stripe events for reconciliation tests, signed like Stripe signs them (whsec_local locally).

localstripe sends no refund or dispute events, so tests build and sign those themselves; the
shapes follow Stripe's API reference (only the fields reconciliation reads, plus a few it must
ignore, such as card details).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from recobro.storage.models import LedgerEntry, claim_ref

from tests.http import Reply, request
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack

SECRET = "whsec_local"


def sign(payload: str, secret: str = SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(stack: Stack, event: dict[str, Any], signature: str | None = None) -> Reply:
    payload = json.dumps(event)
    return post_raw(stack, payload, signature or sign(payload))


def post_raw(stack: Stack, payload: str, signature: str) -> Reply:
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return request("POST", stack.urls["pages"] + "/stripe/webhook", body=payload, headers=headers)


def event(type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def succeeded(merchant_id: str, claim_id: str, pi: str, amount: int, currency: str = "eur") -> dict[str, Any]:
    return event(
        "payment_intent.succeeded",
        {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": currency,
            "status": "succeeded",
            "metadata": {"merchant_id": merchant_id, "claim_id": claim_id},
        },
    )


def failed(
    merchant_id: str, claim_id: str, pi: str, amount: int, decline_code: str = "insufficient_funds"
) -> dict[str, Any]:
    card = {"brand": "visa", "last4": "9995", "exp_month": 12, "exp_year": 2030, "fingerprint": "Xt5EWLLDS7FJjR1c"}
    return event(
        "payment_intent.payment_failed",
        {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "currency": "eur",
            "status": "requires_payment_method",
            "metadata": {"merchant_id": merchant_id, "claim_id": claim_id},
            "last_payment_error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline_code,
                "message": "Your card has insufficient funds.",
                "payment_method": {"id": "pm_1", "object": "payment_method", "type": "card", "card": card},
            },
        },
    )


def refunded(pi: str, refunds: list[tuple[str, int]] | None, charge: str | None = None) -> dict[str, Any]:
    """charge.refunded; refunds=None leaves the list out, as API versions since 2022-11-15 do."""
    obj: dict[str, Any] = {
        "id": charge or f"ch_{pi}",
        "object": "charge",
        "payment_intent": pi,
        "currency": "eur",
        "refunded": False,
    }
    if refunds is not None:
        obj["amount_refunded"] = sum(a for _, a in refunds)
        obj["refunds"] = {
            "object": "list",
            "data": [{"id": r, "amount": a, "status": "succeeded"} for r, a in refunds],
            "has_more": False,
        }
    return event("charge.refunded", obj)


def dispute(type_: str, pi: str, dispute_id: str, amount: int, status: str) -> dict[str, Any]:
    obj = {"id": dispute_id, "object": "dispute", "amount": amount, "currency": "eur", "reason": "fraudulent"}
    return event(type_, {**obj, "status": status, "payment_intent": pi, "charge": f"ch_{pi}"})


def create_claim(merchant: MerchantClient, amounts: list[int], **body: Any) -> dict[str, Any]:
    reply = merchant.call("POST", "/v1/claims", claim_body(amounts=amounts, **body))
    assert reply.status == 201, reply.text
    claim: dict[str, Any] = reply.json()
    return claim


def get_claim(merchant: MerchantClient, claim_id: str) -> dict[str, Any]:
    claim: dict[str, Any] = merchant.call("GET", f"/v1/claims/{claim_id}").json()
    return claim


def ledger(merchant_id: str, claim_id: str) -> list[LedgerEntry]:
    return list(LedgerEntry.query(claim_ref(merchant_id, claim_id), consistent_read=True))


def ledger_net(merchant_id: str, claim_id: str) -> int:
    return sum(int(e.amount) if e.kind == "payment" else -int(e.amount) for e in ledger(merchant_id, claim_id))
