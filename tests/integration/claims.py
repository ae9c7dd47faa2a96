"""Claim bodies for integration tests, shaped like DESIGN.md's example."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any


def claim_body(
    *,
    due: list[date] | None = None,
    amounts: list[int] | None = None,
    locale: str = "es-ES",
    timezone: str = "Europe/Madrid",
    email: str = "lucia@example.com",
    currency: str = "EUR",
    external_id: str | None = None,
    debtor_external_id: str | None = None,
) -> dict[str, Any]:
    today = date.today()
    if due is None:
        count = len(amounts) if amounts else 2
        # Two days overdue: the default strategy's +1 email is then the latest step due, whatever the hour.
        due = [today - timedelta(days=2) + timedelta(days=31 * n) for n in range(count)]
    amounts = amounts or [2500] * len(due)
    return {
        "external_id": external_id or f"order-{uuid.uuid4().hex[:10]}",
        "currency": currency,
        "description": "Zapatillas Runner X",
        "debtor": {
            "external_id": debtor_external_id or f"cust-{uuid.uuid4().hex[:8]}",
            "name": "Lucía Pérez",
            "email": email,
            "phone": "+34600111222",
            "locale": locale,
            "timezone": timezone,
            "date_of_birth": "1990-04-12",
            "postal_code": "28013",
        },
        "installments": [
            {"number": n, "due_date": d.isoformat(), "amount": a}
            for n, (d, a) in enumerate(zip(due, amounts, strict=True), start=1)
        ],
        "metadata": {"channel": "web"},
    }
