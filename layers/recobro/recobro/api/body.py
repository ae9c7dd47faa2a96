"""Decoding a request body into JSON with size, type and depth limits, before validation."""

from __future__ import annotations

import json
from typing import Any

from recobro.config import MAX_BODY_BYTES
from recobro.errors import MalformedJson, PayloadTooLarge, UnsupportedMediaType

MAX_JSON_DEPTH = 20


def _depth(value: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes | str | None, content_type: str | None) -> Any:
    """The JSON value of a body, or a 4xx error that says what is wrong with it."""
    if content_type and content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    if not data.strip():
        raise MalformedJson("The request body is empty; send a JSON object.")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc}") from None
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise MalformedJson(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    return value
