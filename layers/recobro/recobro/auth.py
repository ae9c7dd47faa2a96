"""Merchant API keys: issued once in plaintext, stored and looked up only by their SHA-256.

Keys carry 192 bits of randomness, so an unsalted hash is safe to store and lets one GetItem
authenticate a request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from recobro import clock
from recobro.errors import Unauthenticated
from recobro.ids import new_id
from recobro.storage.models import ApiKey

KEY_PREFIX = "rk_live_"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def issue_api_key(merchant_id: str) -> str:
    """Create a key for the merchant and return its secret; only the hash is kept."""
    api_key = KEY_PREFIX + secrets.token_urlsafe(24)
    ApiKey(
        key_hash=hash_key(api_key),
        merchant_id=merchant_id,
        key_id=new_id("key"),
        prefix=api_key[: len(KEY_PREFIX) + 4],
        created_at=clock.now(),
    ).save()
    return api_key


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Send your API key as 'Authorization: Bearer <key>'.")
    scheme, _, token = authorization.strip().partition(" ")
    if not hmac.compare_digest(scheme.lower(), "bearer") or not token.strip():
        raise Unauthenticated("Send your API key as 'Authorization: Bearer <key>'.")
    return token.strip()


def authenticate(authorization: str | None) -> str:
    """The merchant id that owns the presented key, or Unauthenticated."""
    token = bearer_token(authorization)
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise Unauthenticated("The API key is not valid.")
    try:
        key = ApiKey.get(hash_key(token), consistent_read=False)
    except ApiKey.DoesNotExist:
        raise Unauthenticated("The API key is not valid.") from None
    if key.revoked_at is not None:
        raise Unauthenticated("The API key has been revoked.")
    return str(key.merchant_id)
