"""Merchants: the tenants. Created by operators (and the demo seed), read by every entry point."""

from __future__ import annotations

import re
import time

from recobro import clock
from recobro.errors import NotFound
from recobro.storage.models import Merchant

MERCHANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


def create_merchant(merchant_id: str, display_name: str, support_email: str) -> None:
    if not MERCHANT_ID.match(merchant_id):
        raise ValueError("merchant ids are lowercase letters, digits, '-' and '_'")
    Merchant(
        merchant_id=merchant_id,
        display_name=display_name,
        support_email=support_email,
        created_at=clock.now(),
    ).save(add_version_condition=False)  # create or reset (the demo seed re-creates its merchants)
    forget_merchant(merchant_id)


def get_merchant(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id)
    except Merchant.DoesNotExist:
        raise NotFound("No such merchant.") from None


# Merchant profiles (display name, support contact) change rarely and are read on every reminder
# and page view; a warm Lambda keeps them for a few minutes instead of paying a read each time.
PROFILE_TTL_SECONDS = 300.0
_profiles: dict[str, tuple[float, Merchant | None]] = {}


def cached_merchant(merchant_id: str) -> Merchant | None:
    """The merchant's profile, at most PROFILE_TTL_SECONDS old; None if there is no such merchant."""
    now = time.monotonic()
    hit = _profiles.get(merchant_id)
    if hit is not None and now - hit[0] < PROFILE_TTL_SECONDS:
        return hit[1]
    try:
        merchant: Merchant | None = Merchant.get(merchant_id)
    except Merchant.DoesNotExist:
        merchant = None
    _profiles[merchant_id] = (now, merchant)
    return merchant


def forget_merchant(merchant_id: str) -> None:
    """Drop this container's cached profile, so a change made here is visible at once."""
    _profiles.pop(merchant_id, None)
