"""Signing outbound webhooks, and verifying them on the receiving side.

Header: `Recobro-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed
with the endpoint's `whsec_...` secret (the whole string, prefix included), like Stripe's scheme.
A receiver recomputes the HMAC over the raw bytes it received, compares in constant time, and
refuses timestamps more than `tolerance` seconds away from its own clock (replays).
This module uses only the standard library so receivers can copy it as is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Recobro-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<payload>" with the secret."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header_value(payload: bytes, secret: str, timestamp: int) -> str:
    """The Recobro-Signature header for one attempt."""
    return f"t={timestamp},{SCHEME}={compute(payload, secret, timestamp)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """(timestamp, v1 signatures) from a header, or None when it is not one of ours."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit() or len(value) > 12:
                return None
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(
    payload: bytes,
    header: str,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when `header` signs exactly `payload` with `secret` and is at most `tolerance` s old.

    `payload` is the raw request body as received (not re-serialised JSON). Several v1
    signatures may appear in one header (e.g. while a secret is being rolled); one match is enough.
    """
    parsed = parse(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute(payload, secret, timestamp)
    matched = False
    for candidate in signatures:
        # Compare every candidate (no early exit), each in constant time.
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    return matched
