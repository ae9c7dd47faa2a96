"""Demo data: two merchants with API keys, ~50 claims at every stage, and reminders in the outbox.

Merchants and keys are bootstrapped through the core (there is no public endpoint for them);
claims go through the real HTTP API, so seeding exercises the same path an integrator uses.
Data is synthetic (example.com addresses, fictional names) and deterministic for a given seed.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from infra.local.errors import LocalRuntimeError

log = logging.getLogger("infra.local.seed")

MERCHANTS = {
    "demo": ("Demo Shop", "soporte@demo-shop.example"),
    "other": ("Other Store", "help@other-store.example"),
}
# Branding through the same validation as PATCH /v1/settings (recobro.settings.apply_settings).
BRANDING: dict[str, dict[str, Any]] = {
    "demo": {
        "brand_color": "#0F766E",
        "accent_color": "#F59E0B",
        "support_email": "soporte@demo-shop.example",
        "support_phone": "+34910000000",
        "legal_footer": "Demo Shop S.L. · CIF B00000000 · Calle Falsa 123, 28013 Madrid",
    },
    "other": {
        "brand_color": "#7C3AED",
        "accent_color": "#10B981",
        "support_email": "help@other-store.example",
        "legal_footer": "Other Store Ltd · 1 Example Street, London",
    },
}
REMINDER_PLANNER = "ReminderPlannerFunction"

_SPANISH = [
    ("Lucía", "Pérez"),
    ("Javier", "García"),
    ("Carmen", "Martínez"),
    ("Andrés", "López"),
    ("María José", "Sánchez"),
    ("Pablo", "Romero"),
    ("Elena", "Navarro"),
    ("Sergio", "Torres"),
    ("Nuria", "Domínguez"),
    ("Álvaro", "Gil"),
    ("Marta", "Vázquez"),
    ("Íñigo", "Ramos"),
]
_ENGLISH = [
    ("Olivia", "Smith"),
    ("James", "Taylor"),
    ("Amelia", "Brown"),
    ("Harry", "Wilson"),
    ("Isla", "Evans"),
    ("Noah", "Thomas"),
    ("Sophie", "Roberts"),
    ("Oliver", "Walker"),
]
_PRODUCTS_ES = [
    "Zapatillas Runner X",
    "Chaqueta impermeable",
    "Auriculares inalámbricos",
    "Silla de oficina",
    "Bicicleta urbana",
    "Cafetera exprés",
    "Colchón viscoelástico",
    "Lámpara de pie",
]
_PRODUCTS_EN = [
    "Running shoes",
    "Rain jacket",
    "Wireless headphones",
    "Office chair",
    "City bike",
    "Espresso machine",
    "Memory foam mattress",
    "Floor lamp",
]
# Debtors on three continents: reminders go out only between 08:00 and 21:00 in each debtor's own
# time, and with Europe alone a demo started at night had an empty outbox. With the Americas,
# Sydney and Singapore some debtors are awake at every hour of the year.
_ES_ZONES = ["Europe/Madrid", "Europe/Madrid", "Atlantic/Canary", "America/Mexico_City", "America/Los_Angeles"]
_EN_ZONES = ["Europe/London", "Europe/Dublin", "America/New_York", "Australia/Sydney", "Asia/Singapore"]
_ES_POSTCODES = ["28013", "08001", "41001", "46002", "35001", "48001"]
_EN_POSTCODES = ["SW1A 1AA", "M1 1AE", "EH1 1YZ", "B1 1AA", "D02 X285"]


@dataclass(frozen=True)
class SeedResult:
    api_keys: dict[str, str]
    claims: dict[str, int]
    planned: Any = None
    drained: bool = False


DEMO_DATE_OF_BIRTH = "1990-04-12"  # every seeded debtor's answer to the page's identity check


def _ascii(text: str) -> str:
    table = str.maketrans("áéíóúÁÉÍÓÚñÑü", "aeiouAEIOUnNu")
    return text.translate(table).lower().replace(" ", "")


def claim_bodies(merchant_id: str, count: int, today: date, rng: random.Random) -> list[dict[str, Any]]:
    """Varied synthetic claims whose installments fall from 40 days ago to 30 days ahead."""
    bodies = []
    for n in range(1, count + 1):
        spanish = rng.random() < 0.65
        first, last = rng.choice(_SPANISH if spanish else _ENGLISH)
        handle = f"{_ascii(first)}.{_ascii(last)}{n}"
        installments = []
        number_of_installments = rng.randint(1, 4)
        first_due = today + timedelta(days=rng.randint(-40, 30))
        for i in range(number_of_installments):
            due = first_due + timedelta(days=14 * i)
            amount = rng.choice([1250, 1999, 2500, 3333, 4990, 7500, 12000, 899])
            installments.append({"number": i + 1, "due_date": due.isoformat(), "amount": amount})
        currency = "EUR" if spanish or rng.random() < 0.6 else "GBP"
        bodies.append(
            {
                "external_id": f"{merchant_id}-order-{10000 + n}",
                "currency": currency,
                "description": rng.choice(_PRODUCTS_ES if spanish else _PRODUCTS_EN),
                "debtor": {
                    "external_id": f"{merchant_id}-cust-{100 + n}",
                    "name": f"{first} {last}",
                    "email": f"{handle}@example.com",
                    "phone": (
                        f"+346{rng.randint(10_000_000, 99_999_999)}"
                        if spanish
                        else f"+447400{rng.randint(100_000, 999_999)}"
                    ),
                    "locale": "es-ES" if spanish else "en-GB",
                    "timezone": rng.choice(_ES_ZONES if spanish else _EN_ZONES),
                    # One known answer, so a person trying the demo can pass the identity check.
                    "date_of_birth": DEMO_DATE_OF_BIRTH,
                    "postal_code": rng.choice(_ES_POSTCODES if spanish else _EN_POSTCODES),
                },
                "installments": installments,
                "metadata": {"seeded": "true"},
            }
        )
    return bodies


def post_claim(api_url: str, api_key: str, body: dict[str, Any], idempotency_key: str) -> tuple[int, str]:
    """POST one claim; return (status, error code and field if any)."""
    request = urllib.request.Request(  # noqa: S310 - local URL
        f"{api_url}/v1/claims",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error") or {}
            detail = f"{error.get('code')} {error.get('field') or ''}".strip()
        except (ValueError, AttributeError):
            detail = ""
        return int(exc.code), detail


def bootstrap_merchants() -> dict[str, str]:
    """Create both merchants and one fresh API key each (the core stores only its hash)."""
    from recobro.auth import issue_api_key
    from recobro.merchants import create_merchant
    from recobro.settings import apply_settings

    keys = {}
    for merchant_id, (display_name, support_email) in MERCHANTS.items():
        create_merchant(merchant_id, display_name, support_email)
        apply_settings(merchant_id, **BRANDING.get(merchant_id, {}))
        keys[merchant_id] = issue_api_key(merchant_id, description="demo seed")
    return keys


SEEDED_CLAIMS = {"demo": 45, "other": 5}
RANDOM_SEED = 2026


def seed_claims(
    api_url: str, api_keys: dict[str, str], per_merchant: dict[str, int] | None = None, random_seed: int = RANDOM_SEED
) -> dict[str, int]:
    """POST the claims; return how many were created (201) or already there (409/200) per merchant."""
    from recobro import clock

    per_merchant = per_merchant or SEEDED_CLAIMS
    rng = random.Random(random_seed)  # noqa: S311 - synthetic demo data, not security
    today = clock.now().date()
    created: dict[str, int] = {}
    for merchant_id, count in per_merchant.items():
        ok = 0
        for body in claim_bodies(merchant_id, count, today, rng):
            status, detail = post_claim(api_url, api_keys[merchant_id], body, f"seed-{body['external_id']}-{today}")
            if status in (200, 201, 409):
                ok += 1
            else:
                raise LocalRuntimeError(
                    f"seeding failed: POST /v1/claims answered {status} {detail} for {body['external_id']} "
                    "(see .local/logs/functions.log)"
                )
        created[merchant_id] = ok
    return created


def _api(api_url: str, api_key: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - local URL
        f"{api_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
        return json.loads(response.read())


def seed_stages(api_url: str, api_key: str) -> dict[str, int]:
    """Move some demo claims along, through the API: part paid, paid, paused, written off."""
    claims = _api(api_url, api_key, "GET", "/v1/claims?limit=100")["data"]
    moved = {"partially_paid": 0, "paid": 0, "paused": 0, "written_off": 0}
    for index, claim in enumerate(sorted(claims, key=lambda c: c["external_id"])):
        path = f"/v1/claims/{claim['id']}"
        if claim["status"] != "open":
            continue  # seeded before, in a persisted database
        if index % 6 == 1:
            amount = claim["installments"][0]["amount"]
            reference = f"seed-transfer-{claim['external_id']}"
            payment = {"amount": amount, "currency": claim["currency"], "external_reference": reference}
            _api(api_url, api_key, "POST", f"{path}/payments", payment)
            moved["partially_paid" if len(claim["installments"]) > 1 else "paid"] += 1
        elif index % 6 == 3:
            payment = {
                "amount": claim["amount_due"],
                "currency": claim["currency"],
                "external_reference": f"seed-card-{claim['external_id']}",
            }
            _api(api_url, api_key, "POST", f"{path}/payments", payment)
            moved["paid"] += 1
        elif index == 10:
            _api(api_url, api_key, "POST", f"{path}/pause", {"reason": "customer says the parcel never arrived"})
            moved["paused"] += 1
        elif index == 16:
            _api(api_url, api_key, "POST", f"{path}/write-off", {"reason": "debtor deceased"})
            moved["written_off"] += 1
    return moved


# The demo merchant's own wording: a firmer email the optimiser tries next to ours on day 1.
DEMO_TEMPLATES = {
    ("email", "firme"): {
        "texts": {
            "es": "{{ debtor_first_name }}, tu pago de {{ amount_overdue }} a {{ merchant_name }} sigue pendiente."
            "\n\nPágalo hoy o elige un plan: {{ payment_url }}",
            "en": "{{ debtor_first_name }}, your payment of {{ amount_overdue }} to {{ merchant_name }} is still open."
            "\n\nPay today or choose a plan: {{ payment_url }}",
        },
        "subjects": {
            "es": "Último aviso: {{ amount_overdue }} pendiente",
            "en": "Final notice: {{ amount_overdue }} due",
        },
    },
}
DAY_ONE_EMAIL = "  - day: 1\n    channel: email\n    variants:\n      - template: reminder\n        control: true\n"


def demo_strategy() -> str:
    """The built-in default strategy with the merchant's "firme" as a second day-1 variant."""
    from recobro.strategies.builtin import built_in_text

    text = built_in_text()
    if DAY_ONE_EMAIL not in text:
        raise LocalRuntimeError("default.yaml changed: update infra/local/seed.py DAY_ONE_EMAIL")
    return text.replace(DAY_ONE_EMAIL, DAY_ONE_EMAIL + "      - template: firme\n")


def seed_strategy(api_url: str, api_key: str) -> None:
    """The demo merchant's templates and its default strategy with a second day-1 variant."""
    for (channel, name), body in DEMO_TEMPLATES.items():
        _api(api_url, api_key, "PUT", f"/v1/templates/{channel}/{name}", body)
    _api(api_url, api_key, "PUT", "/v1/strategies/default", {"yaml": demo_strategy()})


def seed(stack: Any, drain_timeout: float = 40.0) -> SeedResult:
    """Bootstrap merchants, load claims through the API, plan reminders and wait for them to send."""
    keys = bootstrap_merchants()
    seed_strategy(stack.urls["api"], keys["demo"])
    claims = seed_claims(stack.urls["api"], keys)
    seed_stages(stack.urls["api"], keys["demo"])
    planned = stack.fire(REMINDER_PLANNER)
    drained, _ = stack.drain(drain_timeout)
    return SeedResult(api_keys=keys, claims=claims, planned=planned, drained=drained)
