"""One-click unsubscribe (RFC 8058): the List-Unsubscribe link in every reminder email.

The link is {pages}/u/{token}; the token names merchant, debtor, channel and claim, signed with
HMAC-SHA256 under a key derived from the link secret for this purpose only (a payment-link
signature never verifies here, nor the other way round). It does not expire: an unsubscribe
link in an old email must keep working, and all it can do is stop messages on one channel.

GET shows a confirmation button (mail scanners follow links with GET, and must not unsubscribe
anyone); POST, from that button or from the mail client's one-click request with the body
`List-Unsubscribe=One-Click`, opts the debtor out. A bad token is the page's 404.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from recobro import config, opt_outs
from recobro.merchants import cached_merchant
from recobro.page.context import text_colour_on
from recobro.page.response import Page, not_found, page
from recobro.secret_store import read_secret
from recobro.storage.models import Debtor

_PURPOSE = b"recobro/unsubscribe/v1"
_SIG_BYTES = 16


@dataclass(frozen=True)
class Unsubscribe:
    merchant_id: str
    debtor_id: str
    channel: str
    claim_id: str | None


@functools.lru_cache(maxsize=1)
def _key() -> bytes:
    secret = read_secret("RECOBRO_LINK_SECRET", "LINK_SECRET_PARAMETER").encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(payload: str) -> str:
    return _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest()[:_SIG_BYTES])


def issue(merchant_id: str, debtor_id: str, channel: str, claim_id: str | None = None) -> str:
    if channel not in opt_outs.CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    payload = _b64(f"{merchant_id}|{debtor_id}|{channel}|{claim_id or ''}".encode())
    return f"{payload}.{_sign(payload)}"


def verify(token: str) -> Unsubscribe | None:
    if len(token) > 400 or token.count(".") != 1 or not token.isascii():
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(payload).encode()):
        return None
    try:
        merchant_id, debtor_id, channel, claim_id = (
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")
        )
    except ValueError:
        return None
    if not merchant_id or not debtor_id or channel not in opt_outs.CHANNELS:
        return None
    return Unsubscribe(merchant_id, debtor_id, channel, claim_id or None)


def url(merchant_id: str, debtor_id: str, channel: str = "email", claim_id: str | None = None) -> str:
    return f"{config.pages_base_url()}/u/{issue(merchant_id, debtor_id, channel, claim_id)}"


# ---------------------------------------------------------------- the page


def _context(found: Unsubscribe) -> tuple[str, dict[str, object]] | None:
    try:
        debtor = Debtor.get(found.merchant_id, found.debtor_id)
    except Debtor.DoesNotExist:
        return None
    merchant = cached_merchant(found.merchant_id)
    brand = merchant.brand_color if merchant else "#1A56DB"
    return debtor.locale, {
        "merchant_name": merchant.display_name if merchant else found.merchant_id,
        "support_email": merchant.support_email if merchant else "",
        "support_phone": merchant.support_phone if merchant else None,
        "logo_url": merchant.logo_url if merchant else None,
        "brand_color": brand,
        "on_brand": text_colour_on(brand),
        "accent_color": (merchant.accent_color or brand) if merchant else brand,
        "legal_footer": merchant.legal_footer if merchant else None,
        "channel": found.channel,
        "already": found.channel in (debtor.opted_out_channels or set()),
    }


def show(token: str) -> Page:
    """GET /u/{token}: ask before stopping anything."""
    found = verify(token)
    loaded = _context(found) if found else None
    if loaded is None:
        return not_found()
    locale, values = loaded
    logo = values["logo_url"] if isinstance(values["logo_url"], str) else None
    return page(200, "pages/unsubscribe.html.j2", locale, {**values, "action": token}, logo_url=logo)


def confirm(token: str) -> Page:
    """POST /u/{token}: opt out (once; a repeat changes nothing) and say so."""
    found = verify(token)
    loaded = _context(found) if found else None
    if found is None or loaded is None:
        return not_found()
    opt_outs.opt_out(found.merchant_id, found.debtor_id, found.channel, found.claim_id, "unsubscribe_link")
    locale, values = loaded
    logo = values["logo_url"] if isinstance(values["logo_url"], str) else None
    return page(200, "pages/unsubscribe_done.html.j2", locale, values, logo_url=logo)
