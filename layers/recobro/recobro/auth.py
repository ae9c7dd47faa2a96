"""Merchant API keys: issued once in plaintext, stored and looked up only by their SHA-256.

Keys carry 192 bits of randomness, so an unsalted hash is safe to store and lets one GetItem
authenticate a request. That GetItem is strongly consistent and nothing caches it, so a
revoked key fails on the very next request.

Rotation works like Stripe's "roll key": rolling creates a new key and gives the old one an
`expires_at` (stored as `valid_until`: not a TTL, so expired keys stay listed); both work until
then, so an integration can switch without downtime. Revoking is immediate. A merchant always
keeps at least one key that neither expires nor is revoked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from recobro import clock
from recobro.errors import Conflict, NotFound, Unauthenticated
from recobro.ids import new_id
from recobro.storage.models import ApiKey, ApiKeysByMerchant

KEY_PREFIX = "rk_live_"
KEY_ID = re.compile(r"^key_[a-z0-9]{20}$")
# Keys a merchant may hold at once (not revoked, not expired): the list is never paginated.
MAX_LIVE_KEYS = 20
MAX_ROLL_OVERLAP_HOURS = 168
_ATTEMPTS = 3


def utc_iso(moment: datetime) -> str:
    """2026-10-02T07:00:00Z, like every other instant the API shows."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _new_key(merchant_id: str, description: str | None) -> tuple[ApiKey, str]:
    api_key = KEY_PREFIX + secrets.token_urlsafe(24)
    key = ApiKey(
        key_hash=hash_key(api_key),
        merchant_id=merchant_id,
        key_id=new_id("key"),
        prefix=api_key[: len(KEY_PREFIX) + 4],
        last4=api_key[-4:],
        description=description,
        created_at=clock.now(),
    )
    return key, api_key


def issue_api_key(merchant_id: str, description: str | None = None) -> str:
    """Create a key for the merchant and return its secret; only the hash is kept."""
    key, api_key = _new_key(merchant_id, description)
    key.save(condition=ApiKey.key_hash.does_not_exist())
    return api_key


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Send your API key as 'Authorization: Bearer <key>'.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():  # the scheme is no secret
        raise Unauthenticated("Send your API key as 'Authorization: Bearer <key>'.")
    return token.strip()


def authenticate(authorization: str | None) -> str:
    """The merchant id that owns the presented key, or Unauthenticated. Exactly one GetItem."""
    token = bearer_token(authorization)
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise Unauthenticated("The API key is not valid.")
    try:
        # Strongly consistent: a revocation (or a roll with no overlap) holds from the next request.
        key = ApiKey.get(hash_key(token), consistent_read=True)
    except ApiKey.DoesNotExist:
        raise Unauthenticated("The API key is not valid.") from None
    if key.revoked_at is not None:
        raise Unauthenticated("The API key has been revoked.")
    if key.valid_until is not None and clock.now() >= key.valid_until:
        raise Unauthenticated("The API key has expired; use the key that replaced it.")
    return str(key.merchant_id)


# ---------------------------------------------------------------- the API's view of keys

KeyStatus = Literal["active", "expiring", "expired", "revoked"]


def _whole_hours(value: Any) -> Any:
    """JSON Schema calls 24.0 an integer, so accept it as 24; refuse 24.5, "24" and true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole number of hours")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a whole number of hours")
        return int(value)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApiKeyCreate(_Strict):
    description: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None


class ApiKeyRoll(_Strict):
    expires_in_hours: Annotated[int, Field(ge=0, le=MAX_ROLL_OVERLAP_HOURS), BeforeValidator(_whole_hours)] = Field(
        default=24,
        description="How long the rolled key keeps working next to its replacement; 0 ends it now.",
    )


class ApiKeyRevoke(_Strict):
    """No parameters: send {} (a body lets Idempotency-Key apply, as on every POST)."""


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["api_key"] = "api_key"
    prefix: str = Field(description="The start of the secret, e.g. rk_live_abcd.")
    last4: str | None = Field(description="The secret's last four characters.")
    description: str | None
    status: KeyStatus
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut):
    secret: str | None = Field(
        description="The key itself. Shown only in this response; store it now. "
        "null when an Idempotency-Key replays the response: the secret is never stored."
    )


class ApiKeyRolled(ApiKeyCreated):
    rolled_key: ApiKeyOut = Field(description="The key that was rolled, with the time it stops working.")


class ApiKeyList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[ApiKeyOut]
    has_more: bool = False


def key_status(key: ApiKey, now: datetime) -> KeyStatus:
    if key.revoked_at is not None:
        return "revoked"
    if key.valid_until is not None:
        return "expired" if now >= key.valid_until else "expiring"
    return "active"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def key_view(key: ApiKey, now: datetime | None = None) -> dict[str, object]:
    """What the API shows of a key: never the secret, never its hash."""
    return ApiKeyOut(
        id=key.key_id,
        prefix=key.prefix,
        last4=key.last4,
        description=key.description,
        status=key_status(key, now or clock.now()),
        created_at=utc_iso(key.created_at),
        expires_at=_iso(key.valid_until),
        revoked_at=_iso(key.revoked_at),
    ).model_dump()


# ---------------------------------------------------------------- managing keys


def merchant_keys(merchant_id: str) -> list[ApiKey]:
    """Every key of the merchant, newest first: one Query on by_merchant, one BatchGetItem."""
    hashes = [str(k.key_hash) for k in ApiKey.by_merchant.query(merchant_id)]
    if not hashes:
        return []
    keys = list(ApiKey.batch_get(hashes, consistent_read=True))
    return sorted(keys, key=lambda k: (k.created_at, k.key_id), reverse=True)


def get_key(merchant_id: str, key_id: str) -> ApiKey:
    """The merchant's key with that id; another merchant's key id is simply not found."""
    if not isinstance(key_id, str) or not KEY_ID.match(key_id):
        raise NotFound("No such API key.", field="key_id")
    same_id = cast(Condition, ApiKeysByMerchant.key_id == key_id)
    found = list(ApiKey.by_merchant.query(merchant_id, same_id, limit=1))
    if not found:
        raise NotFound("No such API key.", field="key_id")
    try:
        return ApiKey.get(found[0].key_hash, consistent_read=True)
    except ApiKey.DoesNotExist:
        raise NotFound("No such API key.", field="key_id") from None


def list_keys(merchant_id: str) -> dict[str, object]:
    now = clock.now()
    return ApiKeyList(
        data=[ApiKeyOut.model_validate(key_view(k, now)) for k in merchant_keys(merchant_id)]
    ).model_dump()


def _live(key: ApiKey, now: datetime) -> bool:
    return key_status(key, now) in ("active", "expiring")


def create_key(merchant_id: str, data: ApiKeyCreate) -> dict[str, object]:
    """A new key; its secret is in this response and nowhere else, ever."""
    now = clock.now()
    if sum(_live(k, now) for k in merchant_keys(merchant_id)) >= MAX_LIVE_KEYS:
        raise Conflict(f"A merchant can hold at most {MAX_LIVE_KEYS} working API keys; revoke one you no longer use.")
    key, secret = _new_key(merchant_id, data.description)
    key.save(condition=ApiKey.key_hash.does_not_exist())
    return {**key_view(key, now), "secret": secret}


def roll_key(merchant_id: str, key_id: str, data: ApiKeyRoll) -> dict[str, object]:
    """Replace a key: a new key now, the old one working for `expires_in_hours` more."""
    old = get_key(merchant_id, key_id)
    now = clock.now()
    status = key_status(old, now)
    if status == "revoked":
        raise Conflict("This API key has been revoked; create a new key instead of rolling it.", field="key_id")
    if status == "expired":
        raise Conflict("This API key has expired; create a new key instead of rolling it.", field="key_id")
    if status == "expiring":
        raise Conflict(
            "This API key was already rolled and expires at "
            f"{_iso(old.valid_until)}; roll or revoke its replacement instead.",
            field="key_id",
        )
    new, secret = _new_key(merchant_id, old.description)
    expires_at = now + timedelta(hours=data.expires_in_hours)
    try:
        with TransactWrite(connection=Connection()) as transaction:
            transaction.save(new, condition=ApiKey.key_hash.does_not_exist())
            transaction.update(
                old,
                actions=[ApiKey.valid_until.set(expires_at)],
                condition=ApiKey.revoked_at.does_not_exist() & ApiKey.valid_until.does_not_exist(),
            )
    except TransactWriteError:
        raise Conflict("This API key was changed at the same time; list your keys and try again.") from None
    old.valid_until = expires_at
    return {**key_view(new, now), "secret": secret, "rolled_key": key_view(old, now)}


def revoke_key(merchant_id: str, key_id: str) -> dict[str, object]:
    """Revoke a key at once. Revoking a revoked key changes nothing and answers the same."""
    for _ in range(_ATTEMPTS):
        key = get_key(merchant_id, key_id)
        now = clock.now()
        if key.revoked_at is not None:
            return key_view(key, now)
        durable = [
            k
            for k in merchant_keys(merchant_id)
            if k.key_id != key.key_id and k.revoked_at is None and k.valid_until is None
        ]
        if key.valid_until is None and not durable:
            raise Conflict(
                "This is your last active API key that does not expire: revoking it would lock your integration "
                "out of the API. Create a new key (POST /v1/api_keys) or roll this one, then revoke it.",
                field="key_id",
            )
        try:
            with TransactWrite(connection=Connection()) as transaction:
                transaction.update(
                    key,
                    actions=[ApiKey.revoked_at.set(now)],
                    condition=ApiKey.revoked_at.does_not_exist(),
                )
                if key.valid_until is None:
                    # Another revoke or roll of the surviving key at the same moment cancels this one.
                    survivor = durable[0]
                    transaction.condition_check(
                        ApiKey,
                        survivor.key_hash,
                        condition=ApiKey.revoked_at.does_not_exist() & ApiKey.valid_until.does_not_exist(),
                    )
        except TransactWriteError:
            continue  # something changed under us: look again
        key.revoked_at = now
        return key_view(key, now)
    raise Conflict("Your API keys were changed at the same time; list them and try again.", field="key_id")
