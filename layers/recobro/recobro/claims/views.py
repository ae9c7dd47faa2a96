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
    amount_discounted: int = 0  # settled by an early-payment discount
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


class EarlyPaymentOfferOut(_Out):
    """Pay `amount_to_pay` by `valid_until` (the end of the installment's due date, debtor's
    timezone) and the installment's last `discount` is settled without payment."""

    installment: int
    discount_percent: int
    discount: int
    amount_to_pay: int
    valid_until: str
    offered_at: str | None


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
    amount_discounted: int = 0  # settled by early-payment discounts: amount_total = paid + discounted + due
    amount_due: int
    credit: int = 0
    installments: list[InstallmentOut]
    debtor: DebtorSummary
    next_reminder_at: str | None
    early_payment_offer: EarlyPaymentOfferOut | None = None
    promise: PromiseOut | None = None
    plan: PlanOut | None = None
    help_request: HelpRequestOut | None = None
    payment_url: str
    metadata: dict[str, str]
    created_at: str
    updated_at: str
