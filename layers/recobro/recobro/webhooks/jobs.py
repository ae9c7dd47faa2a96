"""The messages on WebhookJobsQueue: fan-out jobs (one event) and delivery jobs (one attempt)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant_id: str = Field(min_length=1, max_length=64)


class FanoutJob(_Job):
    """An event to send to every enabled endpoint of the merchant that subscribes to its type."""

    kind: Literal["fanout"] = "fanout"
    event_id: str = Field(min_length=1, max_length=64)
    event_type: str = Field(min_length=1, max_length=64)
    envelope: dict[str, Any]  # the webhook body (Event.envelope())


class DeliveryJob(_Job):
    """Make attempt number `attempt` of a delivery, not before `not_before` (the stack's clock)."""

    kind: Literal["deliver"] = "deliver"
    delivery_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(ge=1, le=1000)
    not_before: datetime | None = None
    hops: int = Field(default=0, ge=0)  # how many times the wait was re-enqueued (observability)


Job = Annotated[FanoutJob | DeliveryJob, Field(discriminator="kind")]
JOB_ADAPTER: TypeAdapter[FanoutJob | DeliveryJob] = TypeAdapter(Job)


def parse_job(body: str) -> FanoutJob | DeliveryJob:
    return JOB_ADAPTER.validate_json(body)
