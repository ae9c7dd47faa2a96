"""The one identity question between a link and the claim (docs/adr/0008).

The merchant chooses date of birth or postal code; if the debtor has no answer of that kind on
file the other one is asked, and with neither the page asks them to contact the merchant.
Answers are compared with salted hashes in constant time; five wrong ones in 15 minutes lock
the claim's page for 15 minutes. A right answer starts a session and returns to the page.
"""

from __future__ import annotations

import hmac
from datetime import date

from recobro import funnel
from recobro import page_session as sessions
from recobro.claims.service import _answer_hash
from recobro.page.context import PageContext
from recobro.page.response import Page, forbidden, redirect
from recobro.storage.models import Debtor

IDENTITY_CHECKS = ("date_of_birth", "postal_code")
MAX_ANSWER_LENGTH = 64


def identity_check_for(preferred: str, debtor: Debtor | None) -> str | None:
    """The merchant's check if the debtor has that answer on file, else the other one, else None."""
    if debtor is None:
        return None
    on_file = {"date_of_birth": debtor.date_of_birth_hash, "postal_code": debtor.postal_code_hash}
    order = [preferred] + [c for c in IDENTITY_CHECKS if c != preferred]
    return next((check for check in order if on_file.get(check)), None)


def _check(ctx: PageContext) -> str | None:
    return identity_check_for(ctx.merchant.identity_check if ctx.merchant else "date_of_birth", ctx.debtor)


def csrf_binding(ctx: PageContext) -> str:
    """What CSRF tokens are bound to: the session once verified, else a nonce cookie (set if missing)."""
    if ctx.session_id:
        return ctx.session_id
    nonce = sessions.csrf_nonce(ctx.cookies)
    if nonce is None:
        nonce, cookie = sessions.new_csrf_cookie()
        ctx.set_cookies.append(cookie)
        ctx.cookies[sessions.CSRF_COOKIE] = cookie.split(";")[0].split("=", 1)[1]
    return nonce


def csrf_token(ctx: PageContext) -> str:
    return sessions.csrf_token(csrf_binding(ctx), ctx.claim.claim_id)


def csrf_ok(ctx: PageContext, form: dict[str, str]) -> bool:
    binding = ctx.session_id or sessions.csrf_nonce(ctx.cookies)
    return sessions.csrf_ok(binding, ctx.claim.claim_id, form.get("csrf_token"))


def locked(ctx: PageContext, seconds: int) -> Page:
    minutes = max(1, -(-seconds // 60))
    return ctx.render("pages/locked.html.j2", {"minutes": minutes}, status=429)


def identity_form(ctx: PageContext, error: str | None = None, status: int = 200) -> Page:
    """The question, or why it cannot be asked (locked, nothing on file)."""
    check = _check(ctx)
    if check is None:
        return ctx.render("pages/contact_merchant.html.j2")
    if ctx.lock_seconds:
        return locked(ctx, ctx.lock_seconds)
    values = {"check": check, "action": ctx.url("verify"), "csrf_token": csrf_token(ctx), "error": error}
    return ctx.render("pages/identity.html.j2", values, status=status)


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


def verify(ctx: PageContext, form: dict[str, str]) -> Page:
    """POST /p/{token}/verify: check the CSRF token, the lock, then the answer."""
    if not csrf_ok(ctx, form):
        return forbidden(ctx.locale)
    merchant_id, claim_id = ctx.claim.merchant_id, ctx.claim.claim_id
    check = _check(ctx)
    if check is None or ctx.debtor is None:
        return ctx.render("pages/contact_merchant.html.j2")
    lock = sessions.locked_for(merchant_id, claim_id)  # fresh: the batch read may be a moment old
    if lock:
        return locked(ctx, lock)
    answer = _answer(check, form)
    if answer is None:
        return identity_form(ctx, error="incomplete", status=400)
    stored = ctx.debtor.date_of_birth_hash if check == "date_of_birth" else ctx.debtor.postal_code_hash
    given = _answer_hash(ctx.debtor.verification_salt, answer)
    if not hmac.compare_digest(given.encode(), str(stored).encode()):
        funnel.count(merchant_id, "verification_failed")
        if sessions.record_failure(merchant_id, claim_id):
            return locked(
                ctx, sessions.locked_for(merchant_id, claim_id) or int(sessions.LOCK_DURATION.total_seconds())
            )
        return identity_form(ctx, error="wrong", status=400)
    funnel.count(merchant_id, "verification_passed")
    sessions.clear_failures(merchant_id, claim_id)
    cookie = sessions.start_session(merchant_id, claim_id, ctx.link_version)
    return redirect(ctx.url(), [*ctx.set_cookies, cookie])
