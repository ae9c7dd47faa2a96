"""Request and response models of the webhook routes (they also generate the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from recobro.events import EVENT_TYPES
from recobro.webhooks.urls import MAX_URL_LENGTH, check_url

WILDCARD = "*"
MAX_LIMIT = 100

EventTypeName = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebhookEndpointCreate(_Strict):
    url: Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL_LENGTH)] = Field(
        description="Where deliveries are POSTed: https, a public host."
    )
    enabled_events: Annotated[list[EventTypeName], Field(min_length=1, max_length=len(EVENT_TYPES))] = Field(
        description='Event types to receive, or ["*"] for all of them.'
    )
    description: Annotated[StrictStr, Field(max_length=500)] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("enabled_events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        if WILDCARD in value:
            if len(value) != 1:
                raise ValueError('"*" subscribes to every event and stands alone')
            return value
        unknown = [name for name in value if name not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
        if len(set(value)) != len(value):
            raise ValueError("each event type is listed once")
        return value


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 10
    starting_after: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookEndpointOut(_Out):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    enabled_events: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    created_at: str


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str | None = Field(
        description="Signs every delivery (whsec_...). Shown only in this response; store it now. "
        "null when an Idempotency-Key replays the response: the secret is never stored."
    )


class WebhookEndpointList(_Out):
    object: Literal["list"] = "list"
    data: list[WebhookEndpointOut]
    has_more: bool = False


class WebhookEndpointDeleted(_Out):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True


class WebhookAttemptOut(_Out):
    attempted_at: str
    status_code: int | None = Field(description="The endpoint's HTTP status; null when it never answered.")
    error: str | None = Field(description="timeout, connection_error, blocked_address, http_<status>...")
    duration_ms: int


class WebhookDeliveryOut(_Out):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str
    event_id: str
    event_type: str
    mode: Literal["automatic", "manual"] = Field(
        description="automatic deliveries are retried for up to 3 days; pings and redeliveries are tried once."
    )
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    attempts: list[WebhookAttemptOut]
    next_attempt_at: str | None
    redelivery_of: str | None
    created_at: str
    updated_at: str


class WebhookDeliveryList(_Out):
    object: Literal["list"] = "list"
    data: list[WebhookDeliveryOut]
    has_more: bool
