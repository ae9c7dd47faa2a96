"""Outbound webhooks: merchants' endpoints, signed deliveries, retries for up to 3 days.

The core calls `publish(events)` after every committed state change; MerchantWebhooksFunction
fans each event out to the merchant's subscribed endpoints and delivers it (docs/adr/0006).
This module stays import-light: publish needs only boto3, loaded on first use.
"""

from __future__ import annotations

from recobro.webhooks.queue import publish

__all__ = ["publish"]
