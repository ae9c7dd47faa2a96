"""Field types shared by every request model, so the API and its OpenAPI document agree.

JSON Schema calls 2500.0 an integer, so a client generated from our document may send it:
WholeNumber accepts it as 2500, and still refuses 25.5, "2500" and true.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StrictStr


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a whole number, not true or false")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a whole number (amounts are in minor units, e.g. 2500 for 25.00)")
        return int(value)
    if not isinstance(value, int):
        raise ValueError("a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("text without control characters")
    return value


# Free text that ends up in emails, SMS and pages: any language, any emoji, no control bytes.
PlainText = Annotated[StrictStr, AfterValidator(_plain_text)]
