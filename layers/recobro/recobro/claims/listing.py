"""Listing a merchant's claims newest first, with filters and Stripe-style cursors.

Reads the by_merchant_created index (or by_debtor when filtering by debtor); `starting_after`
is the id of the last claim of the previous page. Status and updated-at filters are applied
while paging, so a page may need several index reads; each read is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pynamodb.expressions.condition import Condition

from recobro.claims.service import claim_view, get_claim
from recobro.claims.views import ClaimOut, ClaimStatus
from recobro.errors import NotFound, ValidationFailed
from recobro.ids import debtor_id_for
from recobro.reminders.schedule import utc_iso_micro
from recobro.storage.models import EXTERNAL_REF_PREFIX, Claim, ClaimExternalRef, Debtor

MAX_LIMIT = 100


class ClaimListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20
    starting_after: Annotated[str, Field(max_length=64)] | None = None
    status: ClaimStatus | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    debtor_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    debtor_external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    updated_gte: datetime | None = None
    updated_lte: datetime | None = None

    @field_validator("created_gte", "created_lte", "updated_gte", "updated_lte", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value)):
            raise ValueError("an ISO-8601 timestamp such as 2026-11-01T00:00:00Z")
        return value

    @field_validator("created_gte", "created_lte", "updated_gte", "updated_lte")
    @classmethod
    def _aware_and_plausible(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a timestamp with its offset, such as 2026-11-01T00:00:00Z")
        if not 1970 <= value.year <= 2200:
            raise ValueError("a timestamp between 1970 and 2200")
        return value


class ClaimList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str = "list"
    data: list[ClaimOut]
    has_more: bool


def _iso(value: datetime | None, field: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValidationFailed("Timestamps need their offset, such as 2026-11-01T00:00:00Z.", field=field)
    return utc_iso_micro(value)


def _candidates(merchant_id: str, query: ClaimListQuery, last_key: dict[str, Any] | None) -> Iterator[Claim]:
    low, high = _iso(query.created_gte, "created_gte"), _iso(query.created_lte, "created_lte")
    condition: Condition | None = None
    if low and high:
        condition = Claim.created_key.between(low, high + "~")
    elif low:
        condition = Claim.created_key >= low
    elif high:
        condition = Claim.created_key <= high + "~"
    debtor_id = query.debtor_id
    if query.debtor_external_id is not None:
        debtor_id = debtor_id_for(merchant_id, query.debtor_external_id)
    if debtor_id is not None:
        return Claim.by_debtor.query(
            debtor_id,
            condition,
            filter_condition=Claim.merchant_id == merchant_id,
            scan_index_forward=False,
            last_evaluated_key=last_key,
            page_size=MAX_LIMIT,
        )
    return Claim.by_merchant_created.query(
        merchant_id, condition, scan_index_forward=False, last_evaluated_key=last_key, page_size=MAX_LIMIT
    )


def _matches(claim: Claim, query: ClaimListQuery) -> bool:
    if query.status is not None and claim.status != query.status:
        return False
    updated = utc_iso_micro(claim.updated_at)
    low, high = _iso(query.updated_gte, "updated_gte"), _iso(query.updated_lte, "updated_lte")
    return not ((low and updated < low) or (high and updated > high))


def _empty_range(low: datetime | None, high: datetime | None) -> bool:
    return low is not None and high is not None and low > high


def list_claims(merchant_id: str, query: ClaimListQuery) -> dict[str, Any]:
    if _empty_range(query.created_gte, query.created_lte) or _empty_range(query.updated_gte, query.updated_lte):
        return {"object": "list", "data": [], "has_more": False}
    if query.external_id is not None:
        found = [c for c in _by_external_id(merchant_id, query.external_id) if _matches(c, query)]
        return {"object": "list", "data": _views(merchant_id, found), "has_more": False}
    last_key = None
    if query.starting_after is not None:
        try:
            after = get_claim(merchant_id, query.starting_after)
        except NotFound:
            raise NotFound("starting_after names no claim of yours.", field="starting_after") from None
        key = {"merchant_id": after.merchant_id, "claim_id": after.claim_id, "created_key": after.created_key}
        if query.debtor_id or query.debtor_external_id:
            key["debtor_id"] = after.debtor_id
        last_key = {name: {"S": str(value)} for name, value in key.items()}
    page: list[Claim] = []
    has_more = False
    for claim in _candidates(merchant_id, query, last_key):
        if not _matches(claim, query):
            continue
        if len(page) == query.limit:
            has_more = True
            break
        page.append(claim)
    return {"object": "list", "data": _views(merchant_id, page), "has_more": has_more}


def _by_external_id(merchant_id: str, external_id: str) -> list[Claim]:
    try:
        marker = ClaimExternalRef.get(merchant_id, EXTERNAL_REF_PREFIX + external_id)
    except ClaimExternalRef.DoesNotExist:
        return []
    return [get_claim(merchant_id, marker.target_claim_id)]


def _views(merchant_id: str, claims: list[Claim]) -> list[dict[str, Any]]:
    keys = {(merchant_id, c.debtor_id) for c in claims}
    debtors = {d.debtor_id: d for d in Debtor.batch_get(list(keys))} if keys else {}
    return [claim_view(c, debtors[c.debtor_id]) for c in claims if c.debtor_id in debtors]
