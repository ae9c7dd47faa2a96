"""reminder_planner: on its EventBridge schedule, enqueue every reminder that has fallen due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from recobro.reminders.planner import plan_due_reminders

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    result = plan_due_reminders()
    summary: dict[str, int] = result.as_dict()
    logger.info("reminders planned", extra=summary)
    return summary
