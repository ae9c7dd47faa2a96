"""Request bodies for recording payments made elsewhere and their refunds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from recobro.claims.schemas import ExternalId, _Strict
from recobro.money import MAX_MINOR_UNITS, is_currency
from recobro.validation import PlainText, WholeNumber


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("a timestamp with its offset, such as 2026-11-01T10:00:00Z")
    if value.year < 2000 or value.year > 2100:
        raise ValueError("a timestamp between 2000 and 2100")
    return value.astimezone(UTC)


class PaymentIn(_Strict):
    amount: Annotated[WholeNumber, Field(gt=0, le=MAX_MINOR_UNITS)]
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    external_reference: ExternalId
    paid_at: datetime | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("an ISO 4217 currency code in use today, upper case, such as EUR")
        return value

    _paid_at = field_validator("paid_at")(_aware_utc)


class RefundIn(_Strict):
    payment_reference: ExternalId
    amount: Annotated[WholeNumber, Field(gt=0, le=MAX_MINOR_UNITS)]
    external_reference: ExternalId
    reason: Annotated[PlainText, Field(max_length=500)] | None = None
    refunded_at: datetime | None = None

    _refunded_at = field_validator("refunded_at")(_aware_utc)


class ActionWithReason(_Strict):
    reason: Annotated[PlainText, Field(min_length=1, max_length=500)]


class ActionOptionalReason(_Strict):
    reason: Annotated[PlainText, Field(min_length=1, max_length=500)] | None = None


class Allocated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    installment: int
    amount: int


class ClaimBalance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str
    amount_paid: int
    amount_due: int  # after any early-payment discount (GET /v1/claims/{id} shows amount_discounted)
    credit: int


class _EntryOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    claim_id: str
    amount: int
    currency: str
    external_reference: str
    allocations: list[Allocated]
    credit: int
    created_at: str
    claim: ClaimBalance | None = None


class PaymentOut(_EntryOut):
    object: Literal["payment"]
    paid_at: str
    amount_refunded: int
    discount: int = 0  # the early-payment discount this payment earned (its own "discount" entry)


class RefundOut(_EntryOut):
    object: Literal["refund"]
    refunded_at: str
    payment_reference: str | None
    reason: str | None


class DiscountOut(_EntryOut):
    """An early-payment discount: settles the rest of one installment, without money."""

    object: Literal["discount"]
    applied_at: str
    payment_reference: str | None
    reason: str | None


class LedgerList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[PaymentOut | RefundOut | DiscountOut]
