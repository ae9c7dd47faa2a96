"""Prefixed random identifiers (clm_, key_, ...) so an id says what it names."""

from __future__ import annotations

import hashlib
import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def debtor_id_for(merchant_id: str, external_id: str) -> str:
    """The same merchant customer is always the same debtor, across all their claims."""
    digest = hashlib.sha256(f"{merchant_id}\x00{external_id}".encode()).hexdigest()
    return f"dbt_{digest[:24]}"
