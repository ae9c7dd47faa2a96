"""What a verified debtor does on the page, over HTTP: pay through a PaymentIntent, promise,
ask for help, opt out, switch language; CSRF and sessions guard every form (issue #5).

The browser's part of paying (Stripe.js confirming the card) is played here by the Stripe SDK
against localstripe; tests/integration/test_page_browser.py does it in Chromium.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import urljoin

from recobro.payments import stripe_api

from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import DOB, Browser, PageReply, _claim, _csrf, verified
from tests.integration.test_webhooks import Receiver


def _open(merchant: MerchantClient, **kwargs: Any) -> tuple[dict[str, Any], Browser, str]:
    claim = _claim(merchant, **kwargs)
    browser = Browser()
    page = verified(browser, claim["payment_url"], DOB)
    assert page.status == 200 and 'data-testid="overview"' in page.text, page.text
    return claim, browser, claim["payment_url"]


def _link(page: PageReply, url: str, testid: str) -> str:
    match = re.search(rf'<a[^>]* href="([^"]+)"[^>]* data-testid="{testid}"', page.text)
    assert match, f"{testid} not on the page"
    return urljoin(url, match.group(1).replace("&amp;", "&"))


def _form(browser: Browser, url: str, testid: str) -> tuple[str, str, PageReply]:
    """GET an action page: (its URL, its CSRF token, the page)."""
    page = browser.get(url)
    assert page.status == 200 and f'data-testid="{testid}-form"' in page.text, page.text
    action = re.search(r'<form method="post" action="([^"]*)"', page.text)
    assert action
    return urljoin(url, action.group(1)), _csrf(page), page


def _get_claim(merchant: MerchantClient, claim_id: str) -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}")
    assert reply.status == 200
    claim: dict[str, Any] = reply.json()
    claim.pop("payment_url")  # a fresh link (and expiry) on every read
    return claim


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not reached in time")


def _card_page(browser: Browser, url: str, amount: str) -> tuple[PageReply, str]:
    pay_url = _link(browser.get(url), url, "action-pay")
    action, token, _ = _form(browser, pay_url, "pay")
    page = browser.post(action, {"csrf_token": token, "amount": amount})
    assert page.status == 200 and 'data-testid="card-page"' in page.text, page.text
    secret = re.search(r'data-secret="([^"]+)"', page.text)
    assert secret
    return page, secret.group(1)


def _confirm_like_stripe_js(intent_id: str, payment_method: str) -> Any:
    """What Stripe.js does in the browser: attach the card to the PaymentIntent and confirm it."""
    stripe_api.reset()
    intents = stripe_api.client().v1.payment_intents
    intents.update(intent_id, params={"payment_method": payment_method})
    return intents.confirm(intent_id)


def test_paying_part_lowers_the_balance_by_exactly_that_amount_once_stripe_says_so(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim, browser, url = _open(merchant, amounts=[5000, 5000])
    page, secret = _card_page(browser, url, "12,50")
    assert 'data-ui="card_element"' in page.text  # localstripe's stand-in Stripe.js: the one switch
    assert stack.urls["stripe"] in page.headers["content-security-policy"]
    assert "Pagar 12,50" in page.text
    intent_id = secret.split("_secret")[0]

    confirmed = _confirm_like_stripe_js(intent_id, "pm_card_visa")
    assert confirmed.status == "succeeded"
    _wait_for(lambda: _get_claim(merchant, claim["id"])["amount_due"] == 10000 - 1250)

    done = browser.get(urljoin(url + "/", f"paid?payment_intent={intent_id}"))
    assert 'data-testid="payment-confirmed"' in done.text and "12,50" in done.text
    ledger = merchant.call("GET", f"/v1/claims/{claim['id']}/payments").json()["data"]
    assert [(e["amount"], e["external_reference"]) for e in ledger] == [(1250, intent_id)]


def test_a_declined_card_records_nothing(stack: Stack, merchant: MerchantClient) -> None:
    claim, browser, url = _open(merchant, amounts=[5000])
    _, secret = _card_page(browser, url, "50")
    intent_id = secret.split("_secret")[0]
    try:
        _confirm_like_stripe_js(intent_id, "pm_card_chargeCustomerFail")  # 4000 0000 0000 0341
    except Exception as declined:  # the SDK raises CardError
        assert "declin" in str(declined).lower()
    stack.drain()
    after = _get_claim(merchant, claim["id"])
    assert (after["amount_due"], after["status"]) == (5000, "open")
    paid_url = urljoin(url + "/", f"paid?payment_intent={intent_id}")
    # localstripe settles a charge a moment later; until then the page says it is confirming.
    page = _wait_for(lambda: (p := browser.get(paid_url)) and 'data-testid="payment-processing"' not in p.text and p)
    assert 'data-testid="payment-not-completed"' in page.text, re.findall(r"<h1[^>]*>.*</h1>", page.text)
    assert merchant.call("GET", f"/v1/claims/{claim['id']}/payments").json()["data"] == []


def test_amounts_outside_the_rules_are_refused_with_a_clear_message(stack: Stack, merchant: MerchantClient) -> None:
    _, browser, url = _open(merchant, amounts=[5000])
    pay_url = _link(browser.get(url), url, "action-pay")
    for amount, message in [("1", "entre 5,00"), ("60", "entre 5,00"), ("doce", "como 25,50"), ("12.345", "como")]:
        action, token, _ = _form(browser, pay_url, "pay")
        reply = browser.post(action, {"csrf_token": token, "amount": amount})
        assert reply.status == 400 and 'role="alert"' in reply.text, amount
        assert message in reply.text, (amount, reply.text)


def test_a_promise_pauses_reminders_until_the_day_after(stack: Stack, merchant: MerchantClient) -> None:
    claim, browser, url = _open(merchant, amounts=[5000, 5000])
    promise_url = _link(browser.get(url), url, "action-promise")
    by = date.today() + timedelta(days=10)
    action, token, _ = _form(browser, promise_url, "promise")
    done = browser.post(action, {"csrf_token": token, "amount": "30,00", "date": by.isoformat()})
    assert done.status == 200 and 'data-testid="promise-confirmed"' in done.text, done.text

    after = _get_claim(merchant, claim["id"])
    assert after["promise"]["amount"] == 3000 and after["promise"]["due_date"] == by.isoformat()
    assert after["promise"]["state"] == "active"
    assert after["next_reminder_at"] >= (by + timedelta(days=1)).isoformat()
    timeline = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    assert any(e["type"] == "promise.made" and "3000" in e["summary"] for e in timeline)
    assert 'data-testid="promise-active"' in browser.get(url).text
    receipts = [i for i in stack.outbox(claim["id"]) if i["message_id"] == "receipt#promise"]
    assert len(receipts) == 1 and "30,00" in str(receipts[0])


def test_a_promise_beyond_the_merchants_limit_changes_nothing(stack: Stack, merchant: MerchantClient) -> None:
    claim, browser, url = _open(merchant, amounts=[5000])
    before = _get_claim(merchant, claim["id"])
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-promise"), "promise")
    late = (date.today() + timedelta(days=60)).isoformat()
    reply = browser.post(action, {"csrf_token": token, "amount": "50", "date": late})
    assert reply.status == 400 and 'data-testid="form-error"' in reply.text
    assert _get_claim(merchant, claim["id"]) == before


def test_help_with_a_wrong_amount_holds_the_claim_and_tells_the_merchant(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim, browser, url = _open(merchant)
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-help"), "help")
    text = "El importe no coincide <script>alert(1)</script>"
    done = browser.post(action, {"csrf_token": token, "reason": "amount_wrong", "message": text})
    assert done.status == 200 and 'data-testid="help-confirmed"' in done.text
    after = _get_claim(merchant, claim["id"])
    assert (after["status"], after["status_reason"], after["next_reminder_at"]) == ("disputed", "amount_wrong", None)
    assert after["help_request"]["reason"] == "amount_wrong"
    timeline = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    assert any(e["type"] == "help.requested" and e["data"]["message"] == text for e in timeline)
    assert "<script>alert(1)</script>" not in browser.get(url).text
    assert [i["message_id"] for i in stack.outbox(claim["id"])] == ["receipt#help"]


def test_a_help_request_reaches_the_merchants_webhook(stack: Stack, merchant: MerchantClient) -> None:
    receiver = Receiver().start()
    try:
        reply = merchant.call(
            "POST", "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["help.requested"]}
        )
        assert reply.status == 201, reply.text
        claim, browser, url = _open(merchant)
        action, token, _ = _form(browser, _link(browser.get(url), url, "action-help"), "help")
        browser.post(action, {"csrf_token": token, "reason": "goods_not_received", "message": "No llegó"})
        (delivered,) = receiver.wait_for(1)
        assert delivered.event["type"] == "help.requested", delivered.event
        data = delivered.event["data"]["object"]
        assert (data["claim_id"], data["reason"], data["message"], data["status"]) == (
            claim["id"],
            "goods_not_received",
            "No llegó",
            "disputed",
        )
    finally:
        receiver.stop()


def test_hardship_holds_the_claim_and_still_offers_plan_date_and_promise(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim, browser, url = _open(merchant)
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-help"), "help")
    done = browser.post(action, {"csrf_token": token, "reason": "cannot_pay_now", "message": ""})
    assert 'data-testid="help-confirmed"' in done.text
    assert _get_claim(merchant, claim["id"])["status"] == "hardship"
    overview = browser.get(url)
    for testid in ("action-pay", "action-plan", "action-promise", "action-move-date"):
        assert f'data-testid="{testid}"' in overview.text
    resumed = merchant.call("POST", f"/v1/claims/{claim['id']}/resume", {})
    assert resumed.status == 200 and resumed.json()["status"] == "open"


def test_opting_out_of_sms_is_stored_on_the_debtor(stack: Stack, merchant: MerchantClient) -> None:
    claim, browser, url = _open(merchant)
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-opt-out"), "opt-out")
    done = browser.post(action, {"csrf_token": token, "channel": "sms"})
    assert 'data-testid="opted-out"' in done.text
    debtor = merchant.call("GET", f"/v1/debtors/{claim['debtor']['id']}").json()
    assert debtor["opted_out_channels"] == ["sms"]
    assert [i["message_id"] for i in stack.outbox(claim["id"])] == ["receipt#opt_out"]


def test_the_language_can_be_switched_and_stays_switched(stack: Stack, merchant: MerchantClient) -> None:
    _, browser, url = _open(merchant)
    english = browser.get(_link(browser.get(url), url, "lang-en"))
    assert 'lang="en"' in english.text and "Amount due" in english.text
    assert 'lang="pt"' in browser.get(url + "?lang=pt-BR").text
    assert "Valor devido" in browser.get(url).text or "Valor em aberto" in browser.get(url).text


def test_forms_need_the_session_and_the_csrf_token(stack: Stack, merchant: MerchantClient) -> None:
    claim, browser, url = _open(merchant)
    before = _get_claim(merchant, claim["id"])
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-help"), "help")
    assert browser.post(action, {"csrf_token": "x", "reason": "other", "message": ""}).status == 403
    stranger = Browser(cookies={k: v for k, v in browser.cookies.items() if k != "recobro_session"})
    reply = stranger.post(action, {"csrf_token": token, "reason": "other", "message": ""})
    assert 'data-testid="identity-form"' in reply.text
    other_claim, other_browser, _ = _open(merchant)
    assert other_browser.post(action, {"csrf_token": token, "reason": "other", "message": ""}).status in (200, 403)
    assert _get_claim(merchant, claim["id"]) == before
    assert _get_claim(merchant, other_claim["id"])["help_request"] is None


def test_the_funnel_counts_each_step_per_merchant_and_day(stack: Stack, merchant: MerchantClient) -> None:
    _, browser, url = _open(merchant)
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-promise"), "promise")
    browser.post(action, {"csrf_token": token, "amount": "10", "date": (date.today() + timedelta(days=3)).isoformat()})
    action, token, _ = _form(browser, _link(browser.get(url), url, "action-help"), "help")
    browser.post(action, {"csrf_token": token, "reason": "other", "message": "Hola"})
    (today,) = merchant.call("GET", "/v1/funnel").json()["data"]
    assert today["verification_passed"] == 1 and today["promise_made"] == 1 and today["help_requested"] == 1
    assert today["page_view"] >= 3 and today["payment_started"] == 0
    assert merchant.call("GET", "/v1/funnel?since=2026-02-01&until=2026-01-01").status == 400


def test_a_plan_saves_the_card_and_starts_only_when_stripe_says_it_is_saved(
    stack: Stack, merchant: MerchantClient
) -> None:
    claim, browser, url = _open(merchant, amounts=[3000, 3000])
    action, token, form_page = _form(browser, _link(browser.get(url), url, "action-plan"), "plan")
    assert 'name="installments" value="2"' in form_page.text
    card = browser.post(action, {"csrf_token": token, "installments": "3", "day_of_month": "5"})
    assert card.status == 200 and 'data-mode="setup"' in card.text, card.text
    secret = re.search(r'data-secret="([^"]+)"', card.text)
    assert secret
    setup_intent = secret.group(1).split("_secret")[0]
    confirm_url = urljoin(action + "/", f"confirm?setup_intent={setup_intent}")

    refused = browser.get(confirm_url)  # Stripe has not saved the card yet: the browser's word is not enough
    assert refused.status == 400 and 'data-testid="form-error"' in refused.text
    assert _get_claim(merchant, claim["id"])["plan"] is None

    stripe_api.reset()
    stripe_api.client().v1.setup_intents.confirm(setup_intent, params={"payment_method": "pm_card_visa"})
    done = browser.get(confirm_url)
    assert done.status == 200 and 'data-testid="plan-confirmed"' in done.text, done.text
    assert done.text.count("20,00") == 3  # 60,00 in three payments
    after = _get_claim(merchant, claim["id"])
    assert (after["plan"]["status"], after["plan"]["installment_count"], after["plan"]["day_of_month"]) == (
        "active",
        3,
        5,
    )
    assert after["next_reminder_at"] is None  # no reminders while the plan is on track
    assert 'data-testid="plan-active"' in browser.get(url).text
    assert browser.get(confirm_url).text.count("20,00") == 3  # confirming again starts nothing new


def test_the_payment_day_moves_within_the_merchants_limit(stack: Stack, merchant: MerchantClient) -> None:
    later = date.today() + timedelta(days=20)
    claim, browser, url = _open(merchant, due=[later.replace(day=10)], amounts=[4000])
    action, token, page = _form(browser, _link(browser.get(url), url, "action-move-date"), "move-date")
    assert '<option value="15">' in page.text and '<option value="28">' not in page.text  # at most 10 days later
    refused = browser.post(action, {"csrf_token": token, "day_of_month": "28"})
    assert refused.status == 400 and _get_claim(merchant, claim["id"])["installments"][0]["due_date"].endswith("-10")
    done = browser.post(action, {"csrf_token": token, "day_of_month": "15"})
    assert 'data-testid="date-moved"' in done.text, done.text
    assert _get_claim(merchant, claim["id"])["installments"][0]["due_date"] == later.replace(day=15).isoformat()
