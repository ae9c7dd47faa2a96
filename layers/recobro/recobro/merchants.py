"""Merchants: the tenants. Created by operators (and the demo seed), read by every entry point."""

from __future__ import annotations

import re

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
    ).save()


def get_merchant(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id)
    except Merchant.DoesNotExist:
        raise NotFound("No such merchant.") from None
