"""Query strings validated by a pydantic model, with the same error body as JSON bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from recobro.errors import ValidationFailed


def parse_query(model: type[BaseModel], params: Mapping[str, str]) -> Any:
    getlist = getattr(params, "getlist", None)  # Chalice's MultiDict keeps every repeated value
    for name in params:
        if getlist is not None and len(getlist(name)) > 1:
            raise ValidationFailed("Give this query parameter once.", field=name)
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = "Unknown query parameter." if first["type"] == "extra_forbidden" else str(first["msg"])
        raise ValidationFailed(message.removeprefix("Value error, "), field=field) from None
