"""OpenAPI 3.1 document of the merchant API, generated from the declared operations.

Pydantic's JSON Schema (draft 2020-12) is what OpenAPI 3.1 uses, so model schemas go into
components/schemas unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from recobro import __version__
from recobro.api.contract import Operation, operations
from recobro.api.errors_schema import ErrorBody

_ERROR_TEXT = {
    400: "The request is invalid; `error.field` names the field at fault.",
    401: "No API key, or not a valid one.",
    404: "No such object for this merchant.",
    409: "The request conflicts with the object's current state, or its Idempotency-Key was used with another body.",
    413: "The body is larger than 1 MB.",
    415: "The body is not application/json.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(op: Operation, definitions: dict[str, Any]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128}}
        for name in op.path_parameters
    ]
    if op.query is not None:
        schema = definitions[op.query.__name__]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    if op.method == "POST":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Same key and body within 24 h return the first response; another body is a 409.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            }
        )
    return parameters


def document(server_url: str = "/") -> dict[str, Any]:
    ops = operations()
    models: set[type[BaseModel]] = {ErrorBody}
    for op in ops:
        models.update(m for m in (op.request, op.response, op.query) if m is not None)
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    definitions: dict[str, Any] = schemas.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        responses: dict[str, Any] = {
            str(op.status): {
                "description": {201: "Created", 202: "Accepted"}.get(op.status, "OK"),
                **({"content": {"application/json": {"schema": _ref(op.response)}}} if op.response else {}),
            }
        }
        for status, description in op.other_statuses.items():
            responses[str(status)] = {
                "description": description,
                **({"content": {"application/json": {"schema": _ref(op.response)}}} if op.response else {}),
            }
        statuses = set(op.errors) | ({415, 413} if op.request else set()) | ({409} if op.method == "POST" else set())
        for status in sorted(statuses):
            responses[str(status)] = {
                "description": op.extra_responses.get(status, _ERROR_TEXT.get(status, "Error")),
                "content": {"application/json": {"schema": _ref(ErrorBody)}},
            }
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op, definitions),
            "responses": responses,
        }
        if op.description:
            entry["description"] = op.description
        if op.request is not None:
            media: dict[str, Any] = {"schema": _ref(op.request)}
            if op.example is not None:
                media["example"] = op.example
            entry["requestBody"] = {"required": True, "content": {"application/json": media}}
        if op.public:
            entry["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Recobro merchant API",
            "version": __version__,
            "description": "Load claims, record payments, read outcomes. Amounts are integers in minor units.",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "Your API key"}},
        },
    }
