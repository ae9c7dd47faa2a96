"""Idempotency-Key for merchant POSTs, on Powertools' idempotency utility.

Same merchant + key + body within 24 h returns the first response, with any secret blanked
(secrets are shown once and never stored); the same key with another body is a 409. Errors
are not remembered, so a corrected retry with the same key goes through.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from recobro import config
from recobro.errors import IdempotencyConflict, ValidationFailed

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Response = dict[str, Any]  # {"status": int, "body": JSON}


@functools.lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=config.IDEMPOTENCY_TABLE)


@functools.lru_cache(maxsize=1)
def _config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[merchant_id, operation, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        raise_on_no_idempotency_key=True,
    )


def _without_secret(response: Response) -> Response:
    """What the idempotency table keeps: the response with any secret (API key, webhook signing
    secret) blanked, so a secret exists only in the one response that showed it."""
    body = response.get("body")
    if isinstance(body, dict) and body.get("secret") is not None:
        return {**response, "body": {**body, "secret": None}}
    return response


def register_lambda_context(context: Any) -> None:
    """Lets in-progress records expire with the invocation instead of lingering."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        _config().register_lambda_context(context)


def run_once(
    merchant_id: str,
    operation: str,
    key: str | None,
    body: Any,
    action: Callable[[], Response],
) -> Response:
    """Run `action` at most once per (merchant, operation, key); without a key, just run it."""
    if key is None:
        return action()
    if not _KEY.match(key):
        raise ValidationFailed("Idempotency-Key is 1 to 255 visible ASCII characters.", field="Idempotency-Key")

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=_persistence(), config=_config()
    )
    def once(request: dict[str, Any]) -> Response:
        response = action()
        first.append(response)
        return _without_secret(response)

    first: list[Response] = []
    try:
        result: Response = once(request={"merchant_id": merchant_id, "operation": operation, "key": key, "body": body})
    except IdempotencyValidationError:
        raise IdempotencyConflict(
            "This Idempotency-Key was used with a different request body.", field="Idempotency-Key"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyConflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            field="Idempotency-Key",
        ) from None
    return first[0] if first else result  # a replay answers what was stored: no secret
