"""stripe_sweep: nightly, record every succeeded Stripe payment whose webhook never arrived.

Thin: recobro.payments.sweep does the work through the reconciler's own path; the counts are
logged and returned (checked, succeeded, missing, repaired, failed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from recobro.payments.sweep import sweep

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    summary = sweep().as_dict()
    logger.info("stripe sweep finished", extra=summary)
    return summary
