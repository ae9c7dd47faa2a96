"""How claims look from outside: response models for the API and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ClaimStatus = Literal["open", "partially_paid", "paid", "paused", "disputed", "hardship", "cancelled", "written_off"]
CLAIM_STATUSES: tuple[str, ...] = ClaimStatus.__args__  # type: ignore[attr-defined]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstallmentOut(_Out):
    number: int
    due_date: str
    amount: int
    amount_paid: int
    amount_due: int
    status: Literal["open", "paid"]


class DebtorSummary(_Out):
    id: str
    external_id: str
    name: str
    email: str | None
    phone: str | None
    locale: str
    timezone: str


class ClaimOut(_Out):
    id: str
    object: Literal["claim"] = "claim"
    external_id: str
    status: ClaimStatus
    status_reason: str | None = None
    currency: str
    description: str
    amount_total: int
    amount_paid: int
    amount_due: int
    credit: int = 0
    installments: list[InstallmentOut]
    debtor: DebtorSummary
    next_reminder_at: str | None
    payment_url: str
    metadata: dict[str, str]
    created_at: str
    updated_at: str
