"""Domain errors that every entry point turns into the same machine-readable 4xx body.

The body is DESIGN.md's `{"error": {"code", "message", "field"?}}`; handlers never build it by hand.
"""

from __future__ import annotations

from typing import Any


class RecobroError(Exception):
    """An error the caller caused and can fix; carries its HTTP status and error code."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, field: str | None = None, code_override: str | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        if code_override is not None:
            self.code = code_override

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.details)
        return {"error": error}


class ValidationFailed(RecobroError):
    status = 400
    code = "validation_error"


class MalformedJson(RecobroError):
    status = 400
    code = "invalid_json"


class Unauthenticated(RecobroError):
    status = 401
    code = "unauthorized"


class NotFound(RecobroError):
    status = 404
    code = "not_found"


class Conflict(RecobroError):
    status = 409
    code = "conflict"


class IdempotencyConflict(RecobroError):
    status = 409
    code = "idempotency_conflict"


class PayloadTooLarge(RecobroError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(RecobroError):
    status = 415
    code = "unsupported_media_type"
