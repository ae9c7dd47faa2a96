"""The merchant API's operations, declared once: route, models, status codes.

The Chalice app registers its views through these declarations, and the OpenAPI document is
generated from the same list, so a route cannot exist without being documented. Request and
response schemas are the pydantic models that validate bodies and shape responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # GET, POST, PATCH, PUT, DELETE
    path: str  # API Gateway form: /v1/claims/{claim_id}
    summary: str
    tag: str
    status: int = 200
    request: type[BaseModel] | None = None  # JSON body
    query: type[BaseModel] | None = None  # query-string parameters
    response: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 401, 404)
    description: str = ""
    public: bool = False  # no API key needed (the OpenAPI document itself)
    extra_responses: dict[int, str] = field(default_factory=dict)
    # Further success statuses with the same body, and what each means (the view returns Answer).
    other_statuses: dict[int, str] = field(default_factory=dict)
    # A valid request body: shown in the OpenAPI document, and sent by the tests that walk every route.
    example: dict[str, Any] | None = None

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{") and part.endswith("}")]


_OPERATIONS: dict[tuple[str, str], Operation] = {}


def declare(operation: Operation) -> Operation:
    key = (operation.method, operation.path)
    if key in _OPERATIONS and _OPERATIONS[key] != operation:
        raise ValueError(f"{operation.method} {operation.path} is declared twice")
    _OPERATIONS[key] = operation
    return operation


def operations() -> list[Operation]:
    return sorted(_OPERATIONS.values(), key=lambda op: (op.path, op.method))
