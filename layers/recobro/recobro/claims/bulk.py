"""Bulk create: up to 500 claims per request, a result per item, one bad item blocks nothing.

Each item is validated and written on its own (its own transaction), several at a time, so
throughput scales with DynamoDB rather than with one request's latency.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from recobro.claims import schemas, service
from recobro.errors import RecobroError

MAX_BULK = 500
WORKERS = 8


class BulkClaimsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: Annotated[
        list[dict[str, Any]],
        Field(min_length=1, max_length=MAX_BULK, description="Each item is a createClaim body."),
    ]


class BulkItemResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    status: int
    claim: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class BulkClaimsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str = "bulk_result"
    created: int
    failed: int
    results: list[BulkItemResult]


def _one(merchant_id: str, index: int, body: dict[str, Any]) -> dict[str, Any]:
    try:
        data = schemas.parse(schemas.ClaimCreate, body)
        claim, debtor = service.create_claim(merchant_id, data)
    except RecobroError as exc:
        error = exc.body()["error"]
        if error.get("field"):
            error["field"] = f"claims[{index}].{error['field']}"
        return {"index": index, "status": exc.status, "error": error}
    return {"index": index, "status": 201, "claim": service.claim_view(claim, debtor)}


def create_many(merchant_id: str, request: BulkClaimsIn) -> dict[str, Any]:
    items = list(enumerate(request.claims))
    results: list[dict[str, Any]] = []
    if items:
        results.append(_one(merchant_id, *items[0]))  # warms the connection before threads share it
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results += pool.map(lambda item: _one(merchant_id, *item), items[1:])
    created = sum(1 for r in results if r["status"] == 201)
    outcomes = [BulkItemResult(**result) for result in results]
    return BulkClaimsOut(created=created, failed=len(outcomes) - created, results=outcomes).model_dump(mode="json")
