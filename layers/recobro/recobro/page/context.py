"""Everything one page request needs, read in one BatchGetItem.

A token that does not verify, has expired, was replaced by a newer link or names nothing gives
no context at all: the caller shows the same plain 404, so the page never confirms a claim
exists. Links name the debtor (recobro.links), and the cookies name the session, so the claim,
the debtor, the session and the wrong-answer counter come back from one request; older links
without a debtor cost one more GetItem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from recobro import links
from recobro import page_session as sessions
from recobro.merchants import cached_merchant
from recobro.page.response import Page, page
from recobro.rendering import SUPPORTED_LANGUAGES, language_for
from recobro.storage.batch import Batch
from recobro.storage.models import Claim, Debtor, Merchant, PageSession, VerificationAttempts

LANGUAGE_COOKIE = "recobro_lang"
LOCALE_FOR_LANGUAGE = {"es": "es-ES", "en": "en-GB", "pt-BR": "pt-BR"}
LANGUAGE_NAMES = {"es": "Español", "en": "English", "pt-BR": "Português (Brasil)"}


@dataclass
class PageContext:
    token: str
    depth: int  # path segments after the token: /p/T is 0, /p/T/pay 1, /p/T/plan/confirm 2
    claim: Claim
    debtor: Debtor | None
    merchant: Merchant | None
    cookies: dict[str, str]
    session_id: str | None
    lock_seconds: int
    language: str | None = None  # chosen on the page; None follows the debtor's locale
    set_cookies: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.session_id is not None

    @property
    def link_version(self) -> int:
        return int(self.claim.link_version or 0)

    @property
    def locale(self) -> str:
        own = self.debtor.locale if self.debtor else "en-GB"
        if self.language is None or language_for(own) == self.language:
            return own
        return LOCALE_FOR_LANGUAGE[self.language]

    def url(self, action: str = "") -> str:
        """A relative URL to /p/{token}[/action] from the current path (works under any stage prefix)."""
        if self.depth == 0:
            return f"{self.token}/{action}" if action else self.token
        up = "../" * (self.depth - 1)
        return f"{up}{action}" if action else f"{'../' * self.depth}{self.token}"

    def branding(self) -> dict[str, object]:
        merchant = self.merchant
        return {
            "merchant_name": merchant.display_name if merchant else self.claim.merchant_id,
            "support_email": merchant.support_email if merchant else "",
            "support_phone": merchant.support_phone if merchant else None,
            "logo_url": merchant.logo_url if merchant else None,
            "brand_color": merchant.brand_color if merchant else "#1A56DB",
            "on_brand": text_colour_on(merchant.brand_color if merchant else "#1A56DB"),
            "accent_color": (merchant.accent_color or merchant.brand_color) if merchant else "#1A56DB",
            "legal_footer": merchant.legal_footer if merchant else None,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
            "current_language": language_for(self.locale),
            "home_url": self.url(),
        }

    def render(
        self, template: str, values: Mapping[str, object] | None = None, status: int = 200, stripe: bool = False
    ) -> Page:
        logo = self.merchant.logo_url if self.merchant else None
        return page(
            status, template, self.locale, {**self.branding(), **(values or {})}, self.set_cookies, stripe, logo
        )


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on the merchant's colour (WCAG relative luminance)."""
    try:
        channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except (ValueError, IndexError):
        return "#FFFFFF"
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05: pick the larger.
    return "#FFFFFF" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#111111"


def _language(query_language: str | None, cookies: dict[str, str]) -> tuple[str | None, list[str]]:
    if query_language in SUPPORTED_LANGUAGES:
        cookie = f"{LANGUAGE_COOKIE}={query_language}; Path={sessions.COOKIE_PATH}; Max-Age=31536000"
        cookie += "; Secure; SameSite=Strict"
        return query_language, [cookie]
    remembered = cookies.get(LANGUAGE_COOKIE)
    return (remembered if remembered in SUPPORTED_LANGUAGES else None), []


def load(
    token: str, cookie_header: str | None, depth: int = 0, query_language: str | None = None
) -> PageContext | None:
    link = links.verify(token)
    if link is None:
        return None
    cookies = sessions.read_cookies(cookie_header)
    sid = sessions.session_id(cookies)
    batch = Batch()
    batch.want(Claim, link.merchant_id, link.claim_id)
    if link.debtor_id:
        batch.want(Debtor, link.merchant_id, link.debtor_id)
    if sid:
        batch.want(PageSession, sessions.session_key(sid))
    batch.want(VerificationAttempts, sessions.attempts_key(link.merchant_id, link.claim_id))
    batch.read()
    claim = batch.get(Claim, link.merchant_id, link.claim_id)
    if claim is None or link.link_version != int(claim.link_version or 0):
        return None  # unknown, or revoked: a newer link was issued
    debtor = batch.get(Debtor, link.merchant_id, link.debtor_id) if link.debtor_id else None
    if debtor is None or debtor.debtor_id != claim.debtor_id:
        try:
            debtor = Debtor.get(claim.merchant_id, claim.debtor_id)
        except Debtor.DoesNotExist:
            debtor = None
    session = batch.get(PageSession, sessions.session_key(sid)) if sid else None
    live = sessions.session_matches(session, claim.merchant_id, claim.claim_id, int(claim.link_version or 0))
    attempts = batch.get(VerificationAttempts, sessions.attempts_key(link.merchant_id, link.claim_id))
    language, set_cookies = _language(query_language, cookies)
    return PageContext(
        token=token,
        depth=depth,
        claim=claim,
        debtor=debtor,
        merchant=cached_merchant(claim.merchant_id),
        cookies=cookies,
        session_id=sid if live else None,
        lock_seconds=sessions.lock_remaining(attempts),
        language=language,
        set_cookies=set_cookies,
    )
