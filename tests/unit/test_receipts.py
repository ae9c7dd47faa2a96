"""Receipts: every kind renders in es, en and pt-BR with exact amounts; bad facts are refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from recobro import config, receipts
from recobro.channels import email as email_channel
from recobro.storage.models import Claim, Debtor, Merchant

FACTS: dict[str, dict[str, Any]] = {
    "payment": {"amount": 1234, "balance_after": 3766},
    "plan": {"charges": [("2026-10-01", 2500), ("2026-11-01", 2499)]},
    "promise": {"amount": 2000, "due_date": "2026-10-15"},
    "help": {"reason": "goods_not_received"},
    "opt_out": {"channel": "sms"},
    "date_moved": {"day_of_month": 15, "due_dates": ["2026-10-15", "2026-11-15"]},
    "plan_missed": {"link": "https://pay.example/p/abc"},
}


@pytest.fixture(autouse=True)
def merchant(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Merchant(
        merchant_id="m-1",
        display_name="Tienda <Demo>",
        support_email="ayuda@tienda.example",
        created_at=datetime.now(UTC),
    )
    monkeypatch.setattr(receipts, "cached_merchant", lambda merchant_id: profile)


def _claim(currency: str = "EUR") -> Claim:
    return Claim(merchant_id="m-1", claim_id="clm_1", description='Zapatillas "Runner" X', currency=currency)


def _debtor(locale: str, email: str | None = "lucia@example.com") -> Debtor:
    return Debtor(merchant_id="m-1", debtor_id="dbt_1", name="Lucía", email=email, locale=locale)


def _strings() -> set[str]:
    found: set[str] = set()
    for path in (config.templates_dir() / "email").glob("receipt.*"):
        for literal in re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8")):
            found.add(literal.replace('\\"', '"'))
    return found | set(receipts.HELP_REASON_LABELS.values()) | set(receipts.CHANNEL_LABELS.values())


@pytest.mark.parametrize("language", ["es", "pt-BR"])
def test_every_receipt_string_is_translated(language: str) -> None:
    catalogue = json.loads((config.templates_dir() / "locales" / f"{language}.json").read_text(encoding="utf-8"))
    strings = _strings()
    assert len(strings) > 25
    assert sorted(s for s in strings if s not in catalogue) == []


def test_a_payment_receipt_in_spanish_has_the_exact_amounts() -> None:
    email = receipts.compose("payment", _claim(), _debtor("es-ES"), FACTS["payment"])
    assert email.subject == "Pago recibido: 12,34\xa0€"
    assert "Gracias. Hemos recibido tu pago de 12,34\xa0€" in email.text
    assert "Pendiente de pago: 37,66\xa0€" in email.text
    assert "ayuda@tienda.example" in email.text and email.from_name == "Tienda <Demo>"
    assert "Tienda &lt;Demo&gt;" in email.html and "<Demo>" not in email.html  # merchant text is escaped
    assert email.headers["X-Recobro-Message-Id"] == "receipt#payment" and email.headers["X-Recobro-Claim-Id"] == "clm_1"


def test_a_settled_claim_says_nothing_is_left_to_pay() -> None:
    email = receipts.compose("payment", _claim("BRL"), _debtor("pt-BR"), {"amount": 5000, "balance_after": 0})
    assert email.subject == "Pagamento recebido: R$\xa050,00"
    assert "Não há mais nada a pagar" in email.text and "Falta pagar" not in email.text


@pytest.mark.parametrize("locale", ["es-ES", "en-GB", "pt-BR"])
@pytest.mark.parametrize("kind", list(FACTS))
def test_every_kind_renders_in_every_language(kind: str, locale: str) -> None:
    email = receipts.compose(kind, _claim(), _debtor(locale), FACTS[kind])  # type: ignore[arg-type]
    assert email.subject and "\n" not in email.subject
    assert email.text.count("ayuda@tienda.example") == 1 and "ayuda@tienda.example" in email.html
    if locale == "en-GB":
        assert "Hello Lucía," in email.text
    else:
        assert "Hello" not in email.text  # translated, not the English fallback


def test_plan_and_moved_dates_are_listed_in_the_debtors_format() -> None:
    plan = receipts.compose("plan", _claim(), _debtor("en-GB"), FACTS["plan"])
    assert "- 1 Oct 2026: €25.00" in plan.text and "- 1 Nov 2026: €24.99" in plan.text and "Total: €49.99" in plan.text
    moved = receipts.compose("date_moved", _claim(), _debtor("es-ES"), FACTS["date_moved"])
    assert "día 15 de cada mes" in moved.text and "- 15 nov 2026" in moved.text
    missed = receipts.compose("plan_missed", _claim(), _debtor("pt-BR"), FACTS["plan_missed"])
    assert 'href="https://pay.example/p/abc"' in missed.html and "Atualizar meu cartão" in missed.html


@pytest.mark.parametrize(
    ("kind", "facts"),
    [
        ("payment", {"amount": 0, "balance_after": 0}),
        ("payment", {"amount": 10.5, "balance_after": 0}),
        ("payment", {"amount": 100}),
        ("plan", {"charges": []}),
        ("plan", {"charges": [("2026-13-01", 100)]}),
        ("promise", {"amount": 100, "due_date": "tomorrow"}),
        ("help", {"reason": "bored"}),
        ("opt_out", {"channel": "fax"}),
        ("date_moved", {"day_of_month": 32, "due_dates": []}),
        ("plan_missed", {"link": "javascript:alert(1)"}),
        ("birthday", {}),
    ],
)
def test_facts_that_do_not_fit_the_kind_are_refused(kind: str, facts: dict[str, Any]) -> None:
    with pytest.raises(receipts.BadFacts):
        receipts.facts_context(kind, facts)


def test_a_debtor_without_email_gets_no_receipt_and_ses_is_not_called(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_send(email: Any) -> str:
        raise AssertionError("SES must not be called")

    monkeypatch.setattr(email_channel, "send", no_send)
    assert receipts.send_receipt("payment", _claim(), _debtor("es-ES", email=None), FACTS["payment"]) is None
    with pytest.raises(receipts.BadFacts):
        receipts.send_receipt("help", _claim(), _debtor("es-ES", email=None), {"reason": "bored"})
