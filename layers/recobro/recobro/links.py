"""Signed, expiring payment-link tokens: the only credential in a reminder.

A token names (merchant, claim, expiry, link version) and carries an HMAC-SHA256 over them.
The link version is the claim's `link_version` when the link was issued: issuing a new link
bumps it, and the page refuses a token whose version is not the claim's current one, so a new
link revokes every older one. Tokens from before versions (three fields) read as version 0.
A token is short enough for an SMS. Anything that fails to verify is treated as "no such page", so a guessed or
tampered token learns nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from recobro import clock
from recobro.secret_store import read_secret

LINK_LIFETIME = timedelta(days=30)
_SIG_BYTES = 16  # 128-bit truncated HMAC: unforgeable, and keeps links short


@dataclass(frozen=True)
class LinkClaims:
    merchant_id: str
    claim_id: str
    expires_at: int  # epoch seconds
    link_version: int = 0  # must equal the claim's link_version for the page to open
    debtor_id: str | None = None  # lets the page read claim and debtor in one request


@functools.lru_cache(maxsize=1)
def _secret() -> bytes:
    return read_secret("RECOBRO_LINK_SECRET", "LINK_SECRET_PARAMETER").encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return _b64(hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()[:_SIG_BYTES])


def issue(
    merchant_id: str, claim_id: str, now: datetime | None = None, version: int = 0, debtor_id: str | None = None
) -> str:
    moment = now or clock.now()
    expires = int((moment + LINK_LIFETIME).timestamp())
    # Version 0 without a debtor keeps the original three-field payload, so links issued before
    # versions existed and links issued now for a never-bumped claim are the same shape.
    fields = f"{merchant_id}|{claim_id}|{expires}"
    if debtor_id:
        fields += f"|{version}|{debtor_id}"
    elif version:
        fields += f"|{version}"
    payload = _b64(fields.encode())
    return f"{payload}.{_sign(payload)}"


def verify(token: str, now: datetime | None = None) -> LinkClaims | None:
    """The claims in a genuine, unexpired token; None for anything else."""
    if len(token) > 300 or token.count(".") != 1 or not token.isascii():
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(payload).encode()):
        return None
    try:
        parts = _unb64(payload).decode().split("|")
        if len(parts) == 3:
            parts.append("0")
        if len(parts) == 4:
            parts.append("")
        merchant_id, claim_id, expires, version, debtor_id = parts
        expires_at = int(expires)
        link_version = int(version)
    except ValueError:
        return None
    if link_version < 0 or not merchant_id or not claim_id:
        return None
    if (now or clock.now()).timestamp() >= expires_at:
        return None
    return LinkClaims(merchant_id, claim_id, expires_at, link_version, debtor_id or None)


def payment_url(base_url: str, merchant_id: str, claim_id: str, version: int = 0, debtor_id: str | None = None) -> str:
    return f"{base_url}/p/{issue(merchant_id, claim_id, version=version, debtor_id=debtor_id)}"


def new_link_version(merchant_id: str, claim_id: str) -> int:
    """Revoke every earlier link of the claim: bump its link_version, atomically, and return it.

    The claim's version moves too, so a writer holding an older copy of the claim cannot put the
    old link_version back with its conditional save.
    """
    from recobro.storage.models import Claim

    connection = Claim._get_connection()
    reply = connection.update_item(
        merchant_id,
        claim_id,
        actions=[Claim.link_version.add(1), Claim.version.add(1)],
        condition=Claim.claim_id.exists(),
        return_values="UPDATED_NEW",
    )
    return int(reply["Attributes"]["link_version"]["N"])
