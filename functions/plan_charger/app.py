"""plan_charger: on its EventBridge schedule, charge every installment-plan charge that has fallen due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from recobro.plans.charger import run_due_charges

logger = Logger()

# Stop taking new charges this long before the function's timeout; the rest stay due for the next run.
STOP_BEFORE_TIMEOUT_MS = 30_000


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    result = run_due_charges(keep_going=lambda: context.get_remaining_time_in_millis() > STOP_BEFORE_TIMEOUT_MS)
    summary: dict[str, int] = result.as_dict()
    logger.info("plan charges run", extra=summary)
    return summary
