"""Names of the resources this code talks to, read from the environment template.yaml sets.

Defaults exist only so modules import cleanly in unit tests; deployed functions always get
the real names from the template.
"""

from __future__ import annotations

import os
from pathlib import Path


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


MERCHANTS_TABLE = env("MERCHANTS_TABLE", "recobro-MerchantsTable")
API_KEYS_TABLE = env("API_KEYS_TABLE", "recobro-ApiKeysTable")
CLAIMS_TABLE = env("CLAIMS_TABLE", "recobro-ClaimsTable")
DEBTORS_TABLE = env("DEBTORS_TABLE", "recobro-DebtorsTable")
MESSAGES_TABLE = env("MESSAGES_TABLE", "recobro-MessagesTable")
IDEMPOTENCY_TABLE = env("IDEMPOTENCY_TABLE", "recobro-IdempotencyTable")
CLAIM_EVENTS_TABLE = env("CLAIM_EVENTS_TABLE", "recobro-ClaimEventsTable")
WEBHOOK_ENDPOINTS_TABLE = env("WEBHOOK_ENDPOINTS_TABLE", "recobro-WebhookEndpointsTable")
WEBHOOK_DELIVERIES_TABLE = env("WEBHOOK_DELIVERIES_TABLE", "recobro-WebhookDeliveriesTable")
LEDGER_TABLE = env("LEDGER_TABLE", "recobro-LedgerTable")
PAGE_SESSIONS_TABLE = env("PAGE_SESSIONS_TABLE", "recobro-PageSessionsTable")
STRIPE_EVENTS_TABLE = env("STRIPE_EVENTS_TABLE", "recobro-StripeEventsTable")
PLAN_CHARGES_TABLE = env("PLAN_CHARGES_TABLE", "recobro-PlanChargesTable")
FUNNEL_TABLE = env("FUNNEL_TABLE", "recobro-FunnelTable")
VARIANT_STATS_TABLE = env("VARIANT_STATS_TABLE", "recobro-VariantStatsTable")
STRATEGIES_TABLE = env("STRATEGIES_TABLE", "recobro-StrategiesTable")

# The largest request body the merchant API accepts (API Gateway itself allows 10 MB).
MAX_BODY_BYTES = 1_000_000


def pages_base_url() -> str:
    return env("PAGES_BASE_URL", "http://127.0.0.1:8711").rstrip("/")


def tracking_base_url() -> str:
    """Where the open pixel and click redirect live (the tracking function's API)."""
    return env("TRACKING_BASE_URL", pages_base_url()).rstrip("/")


def message_jobs_queue_url() -> str:
    return env("MESSAGE_JOBS_QUEUE_URL")


def ses_from_address() -> str:
    return env("SES_FROM_ADDRESS", "reminders@recobro.example")


def templates_dir() -> Path:
    """Templates ship as a layer (/opt/templates); in a checkout they sit at the repo root."""
    configured = env("RECOBRO_TEMPLATES_DIR")
    if configured and Path(configured).is_dir():
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "templates"
