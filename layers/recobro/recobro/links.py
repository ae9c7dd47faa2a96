"""Signed, expiring payment-link tokens: the only credential in a reminder.

A token names (merchant, claim, expiry) and carries an HMAC-SHA256 over them. It is short
enough for an SMS. Anything that fails to verify is treated as "no such page", so a guessed or
tampered token learns nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from recobro import clock

LINK_LIFETIME = timedelta(days=30)
_SIG_BYTES = 16  # 128-bit truncated HMAC: unforgeable, and keeps links short


@dataclass(frozen=True)
class LinkClaims:
    merchant_id: str
    claim_id: str
    expires_at: int  # epoch seconds


@functools.lru_cache(maxsize=1)
def _secret() -> bytes:
    local = os.environ.get("RECOBRO_LINK_SECRET")
    if local:
        return local.encode()
    parameter = os.environ.get("LINK_SECRET_PARAMETER")
    if not parameter:
        raise RuntimeError("Set RECOBRO_LINK_SECRET or LINK_SECRET_PARAMETER")
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(parameter, decrypt=True, max_age=300)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return _b64(hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()[:_SIG_BYTES])


def issue(merchant_id: str, claim_id: str, now: datetime | None = None) -> str:
    moment = now or clock.now()
    expires = int((moment + LINK_LIFETIME).timestamp())
    payload = _b64(f"{merchant_id}|{claim_id}|{expires}".encode())
    return f"{payload}.{_sign(payload)}"


def verify(token: str, now: datetime | None = None) -> LinkClaims | None:
    """The claims in a genuine, unexpired token; None for anything else."""
    if len(token) > 300 or token.count(".") != 1 or not token.isascii():
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(payload).encode()):
        return None
    try:
        merchant_id, claim_id, expires = _unb64(payload).decode().split("|")
        expires_at = int(expires)
    except ValueError:
        return None
    if (now or clock.now()).timestamp() >= expires_at:
        return None
    return LinkClaims(merchant_id, claim_id, expires_at)


def payment_url(base_url: str, merchant_id: str, claim_id: str) -> str:
    return f"{base_url}/p/{issue(merchant_id, claim_id)}"
