"""Field types shared by every request model, so the API and its OpenAPI document agree.

JSON Schema calls 2500.0 an integer, so a client generated from our document may send it:
WholeNumber accepts it as 2500, and still refuses 25.5, "2500" and true.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


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
