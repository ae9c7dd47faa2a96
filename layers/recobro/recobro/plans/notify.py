"""The debtor's emails about their plan, through recobro.receipts (rendering and sending live there).

Plans only decide when a receipt is due and which facts it carries. A receipt that cannot be
sent is logged and never undoes the plan change it reports; the change is already committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger

from recobro import receipts
from recobro.storage.models import Claim, Debtor

logger = Logger(child=True)


def send_receipt(kind: str, claim: Claim, debtor: Debtor | None, facts: dict[str, Any]) -> bool:
    """Hand one receipt to recobro.receipts; False when it was not sent (logged, never raised)."""
    log = {"kind": kind, "claim_id": claim.claim_id}
    if debtor is None:
        logger.warning("plan receipt skipped: no debtor", extra=log)
        return False
    try:
        receipts.send_receipt(kind, claim, debtor, facts)  # type: ignore[arg-type]
    except Exception:
        logger.exception("plan receipt not sent", extra=log)
        return False
    return True


def notify_plan_started(claim: Claim, debtor: Debtor | None, charges: Sequence[tuple[str, int]]) -> bool:
    return send_receipt("plan", claim, debtor, {"charges": list(charges)})


def notify_plan_missed(claim: Claim, debtor: Debtor | None, link: str) -> bool:
    """Ask the debtor to update their card; `link` is a freshly issued page link."""
    return send_receipt("plan_missed", claim, debtor, {"link": link})


def notify_date_moved(claim: Claim, debtor: Debtor | None, day_of_month: int, due_dates: Sequence[str]) -> bool:
    return send_receipt("date_moved", claim, debtor, {"day_of_month": day_of_month, "due_dates": list(due_dates)})
