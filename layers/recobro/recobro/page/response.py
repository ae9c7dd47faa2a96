"""Every page response: HTML in the debtor's language with the headers that keep it safe.

Each response gets a fresh CSP nonce; only the card page admits Stripe's hosts (scripts,
frames, API calls), and only the merchant's logo host joins img-src. Nothing else loads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from recobro.payments import stripe_api
from recobro.rendering import render

STRIPE_FRAMES = "https://js.stripe.com https://hooks.stripe.com"
STRIPE_API = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_sources() -> tuple[str, str, str]:
    """(script-src, frame-src, connect-src) additions for the card page."""
    js = _origin(stripe_api.js_url())
    if js == "https://js.stripe.com":
        return js, STRIPE_FRAMES, STRIPE_API
    return js, js, js  # localstripe serves its stand-in Stripe.js and API from one origin


def content_security_policy(nonce: str, stripe: bool = False, logo_url: str | None = None) -> str:
    images = "'self'" + (f" {_origin(logo_url)}" if logo_url else "")
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src {images}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    if stripe:
        script, frame, connect = stripe_sources()
        policy += f"; script-src 'nonce-{nonce}' {script}; frame-src {frame}; connect-src {connect}"
    return policy


def security_headers(nonce: str, stripe: bool = False, logo_url: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(nonce, stripe, logo_url),
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


def page(
    status: int,
    template: str,
    locale: str,
    context: dict[str, object] | None = None,
    cookies: list[str] | None = None,
    stripe: bool = False,
    logo_url: str | None = None,
) -> Page:
    nonce = secrets.token_urlsafe(16)  # a fresh one for every response
    html = render(template, locale, csp_nonce=nonce, **(context or {}))
    return Page(status, html, security_headers(nonce, stripe, logo_url), cookies or [])


def not_found(locale: str = "en") -> Page:
    return page(404, "pages/not_found.html.j2", locale)


def forbidden(locale: str = "en") -> Page:
    """A form without a right CSRF token: nothing happened."""
    return page(403, "pages/forbidden.html.j2", locale)


def redirect(location: str, cookies: list[str] | None = None) -> Page:
    shown = page(303, "pages/redirect.html.j2", "en")
    return Page(303, shown.html, {**shown.headers, "Location": location}, cookies or [])
