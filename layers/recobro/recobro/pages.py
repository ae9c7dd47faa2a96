"""The debtor's payment page: from a link token to the HTML a person reads.

Any token that does not verify, has expired or names nothing gets the same plain 404 page, so
the page never confirms that a claim exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recobro import links
from recobro.claims.service import amount_due
from recobro.merchants import cached_merchant
from recobro.rendering import render
from recobro.storage.models import Claim, Debtor

SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    headers: dict[str, str] = field(default_factory=lambda: dict(SECURITY_HEADERS))


def not_found(locale: str = "en") -> Page:
    return Page(404, render("pages/not_found.html.j2", locale))


def payment_page(token: str, locale_override: str | None = None) -> Page:
    claims = links.verify(token)
    if claims is None:
        return not_found()
    try:
        claim = Claim.get(claims.merchant_id, claims.claim_id)
    except Claim.DoesNotExist:
        return not_found()
    try:
        debtor: Debtor | None = Debtor.get(claim.merchant_id, claim.debtor_id)
    except Debtor.DoesNotExist:
        debtor = None
    merchant = cached_merchant(claim.merchant_id)
    locale = locale_override or (debtor.locale if debtor else "en")
    html = render(
        "pages/payment.html.j2",
        locale,
        merchant_name=merchant.display_name if merchant else claim.merchant_id,
        support_email=merchant.support_email if merchant else "",
        description=claim.description,
        amount_due=amount_due(claim),
        currency=claim.currency,
        installments=[
            {
                "number": int(i.number),
                "due_date": i.due_date,
                "amount_due": int(i.amount) - int(i.amount_paid),
            }
            for i in claim.installments
        ],
    )
    return Page(200, html)
