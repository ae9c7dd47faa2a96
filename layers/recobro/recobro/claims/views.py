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


class PromiseOut(_Out):
    amount: int
    due_date: str
    made_at: str
    state: Literal["active", "kept", "broken"]


class PlanOut(_Out):
    plan_id: str
    status: Literal["active", "missed", "completed", "cancelled"]
    installment_count: int
    day_of_month: int
    amount: int


class HelpRequestOut(_Out):
    reason: Literal["cannot_pay_now", "amount_wrong", "already_paid", "goods_not_received", "other"]
    requested_at: str


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
    promise: PromiseOut | None = None
    plan: PlanOut | None = None
    help_request: HelpRequestOut | None = None
    payment_url: str
    metadata: dict[str, str]
    created_at: str
    updated_at: str
