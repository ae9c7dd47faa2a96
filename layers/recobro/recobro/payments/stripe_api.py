"""One configured Stripe client for every function that talks to Stripe.

The secret key comes from STRIPE_SECRET_KEY (local runs, tests) or the SSM SecureString named
by STRIPE_SECRET_KEY_PARAMETER (deployed); STRIPE_API_BASE points the SDK at localstripe. The
page's browser side needs the publishable key and which Stripe UI to mount: the Payment Element
in production, the card element where Stripe.js is localstripe's stand-in (STRIPE_UI). That one
switch is the only difference between the two (docs/adr/0010-payment-page-actions.md).
"""

from __future__ import annotations

import functools
import os
from typing import Literal

import stripe

from recobro.secret_store import read_secret

StripeUi = Literal["payment_element", "card_element"]


@functools.lru_cache(maxsize=1)
def _secret_key() -> str:
    return read_secret("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_PARAMETER")


@functools.lru_cache(maxsize=1)
def client() -> stripe.StripeClient:
    stripe.enable_telemetry = False
    base = os.environ.get("STRIPE_API_BASE")
    if base:
        return stripe.StripeClient(_secret_key(), base_addresses={"api": base.rstrip("/")}, max_network_retries=2)
    return stripe.StripeClient(_secret_key(), max_network_retries=2)


def publishable_key() -> str:
    return os.environ.get("STRIPE_PUBLISHABLE_KEY", "pk_test_local")


def ui() -> StripeUi:
    return "card_element" if os.environ.get("STRIPE_UI") == "card_element" else "payment_element"


def js_url() -> str:
    """Stripe.js: Stripe's own in production, localstripe's stand-in when the API is local."""
    base = os.environ.get("STRIPE_JS_BASE")
    if base:
        return base.rstrip("/") + "/js.stripe.com/v3/"
    return "https://js.stripe.com/v3/"


def reset() -> None:
    """Forget the cached key and client (tests that change the environment)."""
    _secret_key.cache_clear()
    client.cache_clear()
