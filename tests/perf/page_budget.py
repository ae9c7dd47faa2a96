"""The payment page's budget: its own bytes on the wire and DynamoDB requests per view.

Bytes: each step's HTML (the CSS and the little JavaScript are inline) gzipped, Stripe.js
excluded, against 30 KB. Requests: a verified debtor opening the overview, and a visitor
opening the identity question, counted per view once the container has cached the merchant
(one GetItem per merchant per warm container, reported separately).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from tests.integration.claims import claim_body
from tests.integration.page_client import DOB, Browser, verified

BYTES_TARGET = 30 * 1024


def _link(html: str, base: str, testid: str) -> str:
    match = re.search(rf'<a[^>]* href="([^"]+)"[^>]* data-testid="{testid}"', html)
    if match is None:
        raise RuntimeError(f"{testid} is not on the page")
    return urljoin(base, match.group(1))


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def page_budget(
    create_claim: Callable[[dict[str, Any]], dict[str, Any]],
    snapshot: Callable[[], Any],
    delta: Callable[[Any, Any], dict[str, int]],
    measure: Callable[[str, str, int, dict[str, int]], dict[str, Any]],
    views: int = 20,
) -> dict[str, Any]:
    """Measure on a fresh claim: gzipped bytes per step, DynamoDB requests per view."""
    claim = create_claim(claim_body(amounts=[5000, 5000]))
    url = claim["payment_url"]

    stranger = Browser()
    stranger.get(url)  # warm the container and its merchant cache
    before = snapshot()
    for _ in range(views):
        stranger.get(url)
    question = measure("page view: identity question", "PaymentPageFunction", views, delta(snapshot(), before))

    browser = Browser()
    overview = verified(browser, url, DOB)
    before = snapshot()
    for _ in range(views):
        browser.get(url)
    owed = measure("page view: verified overview", "PaymentPageFunction", views, delta(snapshot(), before))

    steps: dict[str, bytes] = {"identity question": Browser().get(url).body, "overview": overview.body}
    for action in ("pay", "promise", "help", "opt-out"):
        steps[action] = browser.get(_link(overview.text, url, f"action-{action}")).body
    pay_url = _link(overview.text, url, "action-pay")
    card = browser.post(urljoin(pay_url, "pay"), {"csrf_token": _csrf(steps["pay"].decode()), "amount": "10"})
    steps["card (Stripe.js excluded)"] = card.body
    sizes = {step: len(gzip.compress(body, 9)) for step, body in steps.items()}
    return {
        "measures": [question, owed],
        "bytes_gzipped": sizes,
        "largest_gzipped": max(sizes.values()),
        "target_bytes": BYTES_TARGET,
    }
