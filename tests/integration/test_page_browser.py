"""The payment page in headless Chromium on a 360 px phone (issue #5): from the reminder email to
the amount due, the wrong answer and the lockout; paying part with a card typed into the card
field, a declined card, a plan, a promise and a help request end to end; and everything but the
card field with JavaScript off. Every step leaves a screenshot under test-artifacts/screenshots/
and passes axe-core."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration import browser
from tests.integration.browser import fill_card, step
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack

pytestmark = pytest.mark.integration

DOB = ("12", "4", "1990")  # claim_body's debtor
WRONG_DOB = ("13", "4", "1990")
VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"  # Stripe's generic decline


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with browser.chromium() as launched:
        yield launched


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    with browser.phone(chromium, request.node.name) as opened:
        yield opened


@pytest.fixture
def page_without_js(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    with browser.phone(chromium, request.node.name, javascript=False) as opened:
        yield opened


def _overdue_claim(merchant: MerchantClient, amounts: list[int]) -> dict:
    due = [date.today() - timedelta(days=2) + timedelta(days=31 * n) for n in range(len(amounts))]
    reply = merchant.call("POST", "/v1/claims", claim_body(due=due, amounts=amounts))
    assert reply.status == 201, reply.text
    return reply.json()


def _reminder(stack: Stack, claim: dict) -> dict:
    stack.fire_planner()
    stack.drain()
    (email,) = stack.outbox(claim["id"])
    return email


def open_reminder(stack: Stack, page: Page, claim: dict) -> str:
    """Open the claim's reminder email as the debtor would and follow its payment link."""
    email = _reminder(stack, claim)
    (link,) = [url for url in email["links"] if "/p/" in url]
    (click,) = [url for url in email["links"] if "/t/c/" in url]  # the tracked redirect to that page
    page.goto(f"{stack.urls['control']}/outbox/{email['id']}.html")
    step(page, "reminder-email")
    page.locator(f'a[href="{click}"]').first.click()
    page.wait_for_url(link)
    return link


def answer(page: Page, dob: tuple[str, str, str]) -> None:
    day, month, year = dob
    page.get_by_label("Día").fill(day)
    page.get_by_label("Mes").fill(month)
    page.get_by_label("Año").fill(year)
    page.get_by_role("button", name="Continuar").click()


def verify(stack: Stack, page: Page, claim: dict) -> str:
    """From the reminder email to the page that shows what is owed; returns the link."""
    link = open_reminder(stack, page, claim)
    step(page, "identity-question")
    answer(page, DOB)
    expect(page.get_by_test_id("amount-due")).to_be_visible()
    return link


def test_the_accessibility_check_fails_on_a_serious_violation(page: Page):
    page.set_content(
        '<!doctype html><html lang="es"><title>x</title><main>'
        '<p style="color:#bbb;background:#fff">Importe pendiente</p><input id="amount"></main></html>'
    )
    with pytest.raises(AssertionError) as failed:
        step(page, "serious-violations")
    assert "serious color-contrast" in str(failed.value) and "critical label" in str(failed.value)


def test_from_the_reminder_email_to_the_amount_due(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [5000, 5000])
    link = open_reminder(stack, page, claim)
    expect(page.get_by_role("heading", name="Confirma que eres tú")).to_be_visible()
    expect(page.get_by_text("Zapatillas Runner X")).to_have_count(0)
    step(page, "identity-question")

    answer(page, WRONG_DOB)
    expect(page.get_by_role("alert")).to_contain_text("Esa respuesta no coincide con nuestros datos")
    expect(page.get_by_test_id("amount-due")).to_have_count(0)
    step(page, "wrong-answer")

    answer(page, DOB)
    page.wait_for_url(link)
    expect(page.get_by_test_id("amount-due")).to_have_text("100,00\xa0€")
    expect(page.get_by_role("heading", name="Zapatillas Runner X")).to_be_visible()
    step(page, "amount-due")


def test_five_wrong_answers_lock_the_page_and_say_so(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [2500])
    link = open_reminder(stack, page, claim)
    for _ in range(4):
        answer(page, WRONG_DOB)
        expect(page.get_by_role("alert")).to_be_visible()
    answer(page, WRONG_DOB)
    expect(page.get_by_role("heading", name="Demasiados intentos")).to_be_visible()
    expect(page.get_by_text("15 minutos")).to_be_visible()
    step(page, "locked-after-five-wrong-answers")

    page.goto(link)  # the link itself stays locked too
    expect(page.get_by_role("heading", name="Demasiados intentos")).to_be_visible()
    expect(page.get_by_label("Día")).to_have_count(0)
    step(page, "still-locked")


def test_the_identity_question_works_without_javascript(stack: Stack, merchant: MerchantClient, page_without_js: Page):
    page = page_without_js
    claim = _overdue_claim(merchant, [2500, 2500])
    link = open_reminder(stack, page, claim)
    step(page, "identity-question")
    answer(page, WRONG_DOB)
    expect(page.get_by_role("alert")).to_contain_text("Esa respuesta no coincide")
    step(page, "wrong-answer")
    answer(page, DOB)
    page.wait_for_url(link)
    expect(page.get_by_test_id("amount-due")).to_have_text("50,00\xa0€")
    step(page, "amount-due")


# ---------------------------------------------------------------- the actions, with JavaScript


def _claim_now(merchant: MerchantClient, claim_id: str) -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}")
    assert reply.status == 200, reply.text
    claim: dict[str, Any] = reply.json()
    claim.pop("payment_url")  # a fresh link on every read
    return claim


def _payments(merchant: MerchantClient, claim_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = merchant.call("GET", f"/v1/claims/{claim_id}/payments").json()["data"]
    return data


def _timeline(merchant: MerchantClient, claim_id: str) -> list[str]:
    return [e["type"] for e in merchant.call("GET", f"/v1/claims/{claim_id}/timeline").json()["data"]]


def _eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Stripe's webhook reaches the reconciler a second or two after the browser is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.25)
    raise AssertionError(f"never happened: {what}")


def _card_page_for(page: Page, amount: str) -> None:
    page.get_by_test_id("action-pay").click()
    expect(page.get_by_test_id("pay-form")).to_be_visible()
    page.get_by_label("Importe a pagar").fill(amount)
    step(page, "pay-form")
    page.get_by_role("button", name="Continuar con la tarjeta").click()
    expect(page.get_by_test_id("card-page")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Pagar {amount}\xa0€")).to_be_visible()


def test_paying_part_with_a_card_lowers_the_balance_by_exactly_that_amount(
    stack: Stack, merchant: MerchantClient, page: Page
):
    claim = _overdue_claim(merchant, [5000, 5000])
    verify(stack, page, claim)
    step(page, "overview")
    _card_page_for(page, "12,50")
    fill_card(page, VISA, "12/34", "123", "28013")
    step(page, "card-filled")
    page.get_by_test_id("card-submit").click()

    page.wait_for_url(re.compile(r"/paid\?payment_intent=pi_"))
    expect(page.get_by_test_id("payment-processing").or_(page.get_by_test_id("payment-confirmed"))).to_be_visible()
    step(page, "paid")
    intent = page.url.rsplit("payment_intent=", 1)[1]
    _eventually(lambda: _claim_now(merchant, claim["id"])["amount_due"] != 10000, "the webhook applied")
    assert _claim_now(merchant, claim["id"])["amount_due"] == 10000 - 1250
    assert [(p["amount"], p["external_reference"]) for p in _payments(merchant, claim["id"])] == [(1250, intent)]
    assert "payment.succeeded" in _timeline(merchant, claim["id"])

    page.reload()
    expect(page.get_by_test_id("payment-confirmed")).to_contain_text("12,50\xa0€")
    expect(page.get_by_text("Aún debes 87,50\xa0€")).to_be_visible()
    step(page, "payment-confirmed")
    page.get_by_role("link", name="Volver a mi pago").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("87,50\xa0€")
    step(page, "overview-after-payment")


def test_the_early_payment_offer_from_the_email_is_paid_by_card_and_honoured(
    stack: Stack, merchant: MerchantClient, page: Page
):
    """The default strategy's −3 email offers 2% off; the page proposes the discounted amount and
    the payment settles the installment with the discount."""
    due = [date.today() + timedelta(days=3), date.today() + timedelta(days=34)]
    reply = merchant.call("POST", "/v1/claims", claim_body(due=due, amounts=[2500, 2500]))
    assert reply.status == 201, reply.text
    claim = reply.json()
    verify(stack, page, claim)
    offer = page.get_by_test_id("early-payment-offer")
    expect(offer).to_contain_text("Paga 24,50\xa0€ hasta el")
    expect(offer).to_contain_text("y ahorra 0,50\xa0€")
    step(page, "overview-with-offer")
    page.get_by_test_id("action-pay").click()
    expect(page.get_by_label("Importe a pagar")).to_have_value("24,50")  # the offer is the default
    step(page, "pay-form-with-offer")
    page.get_by_role("button", name="Continuar con la tarjeta").click()
    expect(page.get_by_role("heading", name="Pagar 24,50\xa0€")).to_be_visible()
    fill_card(page, VISA, "12/34", "123", "28013")
    page.get_by_test_id("card-submit").click()

    page.wait_for_url(re.compile(r"/paid\?payment_intent=pi_"))
    _eventually(lambda: _claim_now(merchant, claim["id"])["installments"][0]["status"] == "paid", "the discount")
    after = _claim_now(merchant, claim["id"])
    assert (after["amount_paid"], after["amount_discounted"], after["amount_due"]) == (2450, 50, 2500)
    page.reload()
    expect(page.get_by_test_id("discount-applied")).to_have_text(
        "Se ha aplicado tu descuento por pronto pago de 0,50\xa0€."
    )
    expect(page.get_by_text("Aún debes 25,00\xa0€")).to_be_visible()
    step(page, "paid-with-discount")


def test_a_declined_card_says_so_and_records_nothing_until_another_card_pays(
    stack: Stack, merchant: MerchantClient, page: Page
):
    claim = _overdue_claim(merchant, [5000, 5000])
    verify(stack, page, claim)
    _card_page_for(page, "20,00")
    fill_card(page, DECLINED, "12/34", "123", "28013")
    page.get_by_test_id("card-submit").click()
    error = page.get_by_test_id("card-error")
    expect(error).to_have_text("Tu tarjeta ha sido rechazada. No se ha cobrado nada. Prueba con otra tarjeta.")
    expect(error).to_have_attribute("role", "alert")
    expect(page.get_by_test_id("card-submit")).to_be_enabled()
    step(page, "card-declined")
    assert "/paid" not in page.url
    before = _claim_now(merchant, claim["id"])
    assert (before["amount_due"], before["status"], _payments(merchant, claim["id"])) == (10000, "open", [])

    # Another card on the same page pays once; the decline, reconciled first, added nothing.
    fill_card(page, VISA, "12/34", "123", "28013")
    page.get_by_test_id("card-submit").click()
    page.wait_for_url(re.compile(r"/paid\?payment_intent=pi_"))
    _eventually(lambda: _payments(merchant, claim["id"]), "the payment recorded")
    stack.drain()
    assert [p["amount"] for p in _payments(merchant, claim["id"])] == [2000]
    assert _claim_now(merchant, claim["id"])["amount_due"] == 10000 - 2000
    step(page, "paid-with-another-card")


def test_a_plan_saves_the_card_and_starts(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [3000, 3000])
    verify(stack, page, claim)
    page.get_by_test_id("action-plan").click()
    expect(page.get_by_test_id("plan-form")).to_be_visible()
    page.get_by_label("3 pagos de 20,00\xa0€").check()
    page.get_by_label("Día del mes").select_option("5")
    step(page, "plan-form")
    page.get_by_role("button", name="Continuar con la tarjeta").click()
    expect(page.get_by_test_id("card-page")).to_be_visible()
    fill_card(page, VISA, "12/34", "123", "28013")
    step(page, "card-filled")
    page.get_by_test_id("card-submit").click()

    page.wait_for_url(re.compile(r"/plan/confirm\?setup_intent=seti_"))
    confirmed = page.get_by_test_id("plan-confirmed")
    expect(confirmed).to_be_visible()
    expect(confirmed.get_by_role("row")).to_have_count(4)  # the header and three payments
    expect(confirmed.get_by_text("20,00\xa0€")).to_have_count(3)
    step(page, "plan-confirmed")
    plan = _claim_now(merchant, claim["id"])["plan"]
    assert (plan["status"], plan["installment_count"], plan["day_of_month"]) == ("active", 3, 5)
    assert "plan.started" in _timeline(merchant, claim["id"])

    page.get_by_role("link", name="Volver a mi pago").click()
    expect(page.get_by_test_id("plan-active")).to_be_visible()
    expect(page.get_by_test_id("action-plan")).to_have_count(0)
    step(page, "overview-on-plan")


def test_a_declined_card_starts_no_plan(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [3000, 3000])
    verify(stack, page, claim)
    page.get_by_test_id("action-plan").click()
    page.get_by_role("button", name="Continuar con la tarjeta").click()
    fill_card(page, DECLINED, "12/34", "123", "28013")
    page.get_by_test_id("card-submit").click()
    expect(page.get_by_test_id("card-error")).to_contain_text("Tu tarjeta ha sido rechazada")
    step(page, "card-declined")
    assert _claim_now(merchant, claim["id"])["plan"] is None


def test_a_promise_pauses_reminders_until_the_day_after(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [5000, 5000])
    verify(stack, page, claim)
    by = date.today() + timedelta(days=5)
    page.get_by_test_id("action-promise").click()
    expect(page.get_by_test_id("promise-form")).to_be_visible()
    page.get_by_label("Importe").fill("30")
    page.get_by_label("Fecha").fill(by.isoformat())
    step(page, "promise-form")
    page.get_by_role("button", name="Prometer el pago").click()
    expect(page.get_by_test_id("promise-confirmed")).to_contain_text("30,00\xa0€")
    step(page, "promise-confirmed")
    promise = _claim_now(merchant, claim["id"])["promise"]
    assert (promise["amount"], promise["due_date"], promise["state"]) == (3000, by.isoformat(), "active")
    assert "promise.made" in _timeline(merchant, claim["id"])

    page.get_by_role("link", name="Volver a mi pago").click()
    expect(page.get_by_test_id("promise-active")).to_be_visible()
    step(page, "overview-with-promise")


def test_a_help_request_holds_the_claim_and_reaches_the_merchant(stack: Stack, merchant: MerchantClient, page: Page):
    claim = _overdue_claim(merchant, [5000])
    verify(stack, page, claim)
    page.get_by_test_id("action-help").click()
    expect(page.get_by_test_id("help-form")).to_be_visible()
    page.get_by_label("El importe no es correcto").check()
    page.get_by_label("Algo que quieras añadir").fill("Pagué 25 € en la tienda el día 3.")
    step(page, "help-form")
    page.get_by_role("button", name="Enviar").click()
    expect(page.get_by_test_id("help-confirmed")).to_be_visible()
    step(page, "help-confirmed")
    after = _claim_now(merchant, claim["id"])
    assert (after["status"], after["status_reason"], after["help_request"]["reason"]) == (
        "disputed",
        "amount_wrong",
        "amount_wrong",
    )
    assert "help.requested" in _timeline(merchant, claim["id"])

    page.get_by_role("link", name="Volver a mi pago").click()
    expect(page.get_by_test_id("claim-held")).to_be_visible()
    step(page, "overview-on-hold")


# ---------------------------------------------------------------- without JavaScript


def test_everything_but_the_card_field_works_without_javascript(
    stack: Stack, merchant: MerchantClient, page_without_js: Page
):
    page = page_without_js
    soon = date.today() + timedelta(days=10)
    due = soon.replace(day=10) if soon.day <= 10 else (soon.replace(day=1) + timedelta(days=32)).replace(day=10)
    reply = merchant.call("POST", "/v1/claims", claim_body(due=[due], amounts=[4000]))
    assert reply.status == 201, reply.text
    claim = reply.json()
    link = claim["payment_url"]
    page.goto(link)
    answer(page, DOB)
    expect(page.get_by_test_id("amount-due")).to_have_text("40,00\xa0€")

    page.get_by_test_id("lang-en").click()
    expect(page.get_by_text("Amount due", exact=True)).to_be_visible()
    step(page, "overview-in-english")
    page.get_by_test_id("lang-es").click()
    expect(page.get_by_text("Importe pendiente", exact=True)).to_be_visible()

    page.get_by_test_id("action-move-date").click()
    page.get_by_label("Día del mes").select_option("15")
    step(page, "move-date-form")
    page.get_by_role("button", name="Cambiar mi día de pago").click()
    expect(page.get_by_test_id("date-moved")).to_be_visible()
    step(page, "date-moved")
    assert _claim_now(merchant, claim["id"])["installments"][0]["due_date"] == due.replace(day=15).isoformat()

    page.goto(link + "/promise")
    page.get_by_label("Importe").fill("40,00")
    page.get_by_label("Fecha").fill((date.today() + timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Prometer el pago").click()
    expect(page.get_by_test_id("promise-confirmed")).to_be_visible()
    step(page, "promise-confirmed")

    page.goto(link + "/opt-out")
    page.get_by_label("SMS").check()
    page.get_by_role("button", name="Dejar de recibir mensajes").click()
    expect(page.get_by_test_id("opted-out")).to_be_visible()
    step(page, "opted-out")
    assert merchant.call("GET", f"/v1/debtors/{claim['debtor']['id']}").json()["opted_out_channels"] == ["sms"]

    page.goto(link + "/help")
    page.get_by_label("Otra cosa").check()
    page.get_by_role("button", name="Enviar").click()
    expect(page.get_by_test_id("help-confirmed")).to_be_visible()
    step(page, "help-confirmed")

    page.goto(link + "/pay")
    page.get_by_role("button", name="Continuar con la tarjeta").click()
    expect(page.get_by_test_id("card-page")).to_be_visible()
    notice = page.get_by_test_id("card-page").locator("noscript p")  # get_by_text skips <noscript>
    expect(notice).to_be_visible()
    assert notice.inner_text().startswith("El pago con tarjeta necesita JavaScript.")
    step(page, "card-page-says-it-needs-javascript")
    after = _claim_now(merchant, claim["id"])
    assert after["promise"]["amount"] == 4000 and after["help_request"]["reason"] == "other"
