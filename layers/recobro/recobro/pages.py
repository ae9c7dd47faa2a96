"""The debtor's payment page: from a link token to the HTML a person reads.

Any token that does not verify, has expired, was replaced by a newer link or names nothing
gets the same plain 404 page, so the page never confirms that a claim exists. A genuine link
first asks one identity question (the merchant's choice, ADR 0008); a right answer starts a
session (recobro.page_session) and the page then shows what is owed.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date

from recobro import links
from recobro import page_session as sessions
from recobro.claims.service import _answer_hash, amount_due
from recobro.merchants import cached_merchant
from recobro.rendering import render
from recobro.storage.models import Claim, Debtor, Merchant

IDENTITY_CHECKS = ("date_of_birth", "postal_code")
MAX_ANSWER_LENGTH = 64


def content_security_policy(nonce: str) -> str:
    # Stripe's hosts join script-src, frame-src and connect-src with the card field (issue #5).
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(nonce),
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    headers: dict[str, str]
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values


def _page(
    status: int, template: str, locale: str, context: dict[str, object] | None = None, cookies: list[str] | None = None
) -> Page:
    nonce = secrets.token_urlsafe(16)  # a fresh one for every response
    html = render(template, locale, csp_nonce=nonce, **(context or {}))
    return Page(status, html, security_headers(nonce), cookies or [])


def not_found(locale: str = "en") -> Page:
    return _page(404, "pages/not_found.html.j2", locale)


def forbidden(locale: str = "en") -> Page:
    """A form without a right CSRF token: nothing happened."""
    return _page(403, "pages/forbidden.html.j2", locale)


def redirect(location: str, cookies: list[str]) -> Page:
    page = _page(303, "pages/redirect.html.j2", "en")
    return Page(303, page.html, {**page.headers, "Location": location}, cookies)


@dataclass(frozen=True)
class _Context:
    link: links.LinkClaims
    claim: Claim
    debtor: Debtor | None
    merchant: Merchant | None

    @property
    def locale(self) -> str:
        return self.debtor.locale if self.debtor else "en"

    @property
    def link_version(self) -> int:
        return int(self.claim.link_version or 0)

    def branding(self) -> dict[str, object]:
        return {
            "merchant_name": self.merchant.display_name if self.merchant else self.claim.merchant_id,
            "support_email": self.merchant.support_email if self.merchant else "",
        }


def _load(token: str) -> _Context | None:
    link = links.verify(token)
    if link is None:
        return None
    try:
        claim = Claim.get(link.merchant_id, link.claim_id)
    except Claim.DoesNotExist:
        return None
    if link.link_version != int(claim.link_version or 0):
        return None  # revoked: a newer link was issued
    try:
        debtor: Debtor | None = Debtor.get(claim.merchant_id, claim.debtor_id)
    except Debtor.DoesNotExist:
        debtor = None
    return _Context(link, claim, debtor, cached_merchant(claim.merchant_id))


def identity_check_for(preferred: str, debtor: Debtor | None) -> str | None:
    """The merchant's check if the debtor has that answer on file, else the other one, else None."""
    if debtor is None:
        return None
    on_file = {"date_of_birth": debtor.date_of_birth_hash, "postal_code": debtor.postal_code_hash}
    order = [preferred] + [c for c in IDENTITY_CHECKS if c != preferred]
    return next((check for check in order if on_file.get(check)), None)


def _owed(ctx: _Context) -> Page:
    claim = ctx.claim
    return _page(
        200,
        "pages/payment.html.j2",
        ctx.locale,
        {
            **ctx.branding(),
            "description": claim.description,
            "amount_due": amount_due(claim),
            "currency": claim.currency,
            "installments": [
                {
                    "number": int(i.number),
                    "due_date": i.due_date,
                    "amount_due": int(i.amount) - int(i.amount_paid),
                }
                for i in claim.installments
            ],
        },
    )


def _locked(ctx: _Context, seconds: int) -> Page:
    minutes = max(1, -(-seconds // 60))
    return _page(429, "pages/locked.html.j2", ctx.locale, {"minutes": minutes, **ctx.branding()})


def _identity_form(
    ctx: _Context, token: str, check: str, cookies: dict[str, str], error: str | None = None, status: int = 200
) -> Page:
    set_cookies: list[str] = []
    nonce = sessions.csrf_nonce(cookies)
    if nonce is None:
        nonce, cookie = sessions.new_csrf_cookie()
        set_cookies.append(cookie)
    return _page(
        status,
        "pages/identity.html.j2",
        ctx.locale,
        {
            **ctx.branding(),
            "check": check,
            "action": f"{token}/verify",
            "csrf_token": sessions.csrf_token(nonce, ctx.claim.claim_id),
            "error": error,
        },
        set_cookies,
    )


def payment_page(token: str, cookie_header: str | None = None) -> Page:
    """GET /p/{token}: the identity question, or what is owed once verified."""
    ctx = _load(token)
    if ctx is None:
        return not_found()
    cookies = sessions.read_cookies(cookie_header)
    if sessions.valid_session(cookies, ctx.claim.merchant_id, ctx.claim.claim_id, ctx.link_version):
        return _owed(ctx)
    check = identity_check_for(ctx.merchant.identity_check if ctx.merchant else "date_of_birth", ctx.debtor)
    if check is None:
        return _page(200, "pages/contact_merchant.html.j2", ctx.locale, ctx.branding())
    locked = sessions.locked_for(ctx.claim.merchant_id, ctx.claim.claim_id)
    if locked:
        return _locked(ctx, locked)
    return _identity_form(ctx, token, check, cookies)


def _answer(check: str, form: dict[str, str]) -> str | None:
    """The answer as build_debtor hashed it, or None when the form holds no usable answer."""
    if check == "date_of_birth":
        try:
            parts = [int(form.get(name, "").strip()) for name in ("year", "month", "day")]
            return date(parts[0], parts[1], parts[2]).isoformat()
        except ValueError:
            return None
    answer = form.get("postal_code", "")
    if not answer.strip() or len(answer) > MAX_ANSWER_LENGTH:
        return None
    return answer


def verify_identity(token: str, cookie_header: str | None, form: dict[str, str]) -> Page:
    """POST /p/{token}/verify: check the CSRF token, the lock, then the answer."""
    ctx = _load(token)
    if ctx is None:
        return not_found()
    cookies = sessions.read_cookies(cookie_header)
    if not sessions.csrf_ok(sessions.csrf_nonce(cookies), ctx.claim.claim_id, form.get("csrf_token")):
        return forbidden(ctx.locale)
    merchant_id, claim_id = ctx.claim.merchant_id, ctx.claim.claim_id
    check = identity_check_for(ctx.merchant.identity_check if ctx.merchant else "date_of_birth", ctx.debtor)
    if check is None or ctx.debtor is None:
        return _page(200, "pages/contact_merchant.html.j2", ctx.locale, ctx.branding())
    locked = sessions.locked_for(merchant_id, claim_id)
    if locked:
        return _locked(ctx, locked)
    answer = _answer(check, form)
    if answer is None:
        return _identity_form(ctx, token, check, cookies, error="incomplete", status=400)
    stored = ctx.debtor.date_of_birth_hash if check == "date_of_birth" else ctx.debtor.postal_code_hash
    given = _answer_hash(ctx.debtor.verification_salt, answer)
    if not hmac.compare_digest(given.encode(), str(stored).encode()):
        if sessions.record_failure(merchant_id, claim_id):
            lock = sessions.locked_for(merchant_id, claim_id) or int(sessions.LOCK_DURATION.total_seconds())
            return _locked(ctx, lock)
        return _identity_form(ctx, token, check, cookies, error="wrong", status=400)
    sessions.clear_failures(merchant_id, claim_id)
    cookie = sessions.start_session(merchant_id, claim_id, ctx.link_version)
    # Relative to /p/{token}/verify, so it works under any stage prefix.
    return redirect(f"../{token}", [cookie])
