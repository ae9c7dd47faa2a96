"""The payment page in headless Chromium on a 360 px phone (issue #5): from the reminder email to
the amount due, the wrong answer, the lockout, and the same flow with JavaScript off. Every step
leaves a screenshot under test-artifacts/screenshots/ and passes axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration import browser
from tests.integration.browser import step
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack

pytestmark = pytest.mark.integration

DOB = ("12", "4", "1990")  # claim_body's debtor
WRONG_DOB = ("13", "4", "1990")


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
    page.goto(f"{stack.urls['control']}/outbox/{email['id']}.html")
    step(page, "reminder-email")
    page.locator(f'a[href="{link}"]').first.click()
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
    answer(page, DOB)
    expect(page.get_by_test_id("amount-due")).to_be_visible()
    return link


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
