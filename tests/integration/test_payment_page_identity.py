"""The payment page over HTTP: one identity question, a session cookie, CSRF, the lockout,
revoked links and the security headers (issue #5, ADR 0008)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin

import pytest
from recobro import clock

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import DOB, WRONG_DOB, Browser, _action, _answer, _claim, _csrf


@pytest.fixture
def travel(stack: Stack) -> Iterator[None]:
    yield
    clock.reset()


def test_the_link_asks_one_question_in_spanish_and_hides_the_claim(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    page = Browser().get(claim["payment_url"])
    assert page.status == 200
    assert "Confirma que eres tú" in page.text and "Tu fecha de nacimiento" in page.text
    assert 'lang="es"' in page.text
    assert "Zapatillas" not in page.text and "50,00" not in page.text  # nothing owed shown yet
    assert "<script" not in page.text


def test_a_right_answer_sets_a_session_cookie_and_shows_what_is_owed(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant, amounts=[2500, 2500])
    browser = Browser()
    reply = _answer(browser, claim["payment_url"], DOB)
    assert reply.status == 303
    assert urljoin(claim["payment_url"] + "/verify", reply.headers["location"]) == claim["payment_url"]
    (session_cookie,) = [c for c in reply.set_cookies if c.startswith("recobro_session=")]
    flags = [part.strip().lower() for part in session_cookie.split(";")[1:]]
    assert {"httponly", "secure", "path=/p"} <= set(flags)
    assert any(f in ("samesite=strict", "samesite=lax") for f in flags)
    max_age = next(int(f.split("=")[1]) for f in flags if f.startswith("max-age="))
    assert 0 < max_age <= 30 * 60
    value = session_cookie.split(";")[0].split("=", 1)[1]
    assert claim["id"] not in value and merchant.merchant_id not in value  # an id, not the claim

    page = browser.get(claim["payment_url"])
    assert page.status == 200
    assert "Tienda Demo" in page.text and "Zapatillas Runner X" in page.text
    assert re.search(r"50,00(\xa0| )€", page.text) and "Importe pendiente" in page.text

    # The cookie opens this claim only; without it the question comes back.
    assert "Confirma que eres tú" in Browser().get(claim["payment_url"]).text
    other = _claim(merchant)
    assert "Confirma que eres tú" in browser.get(other["payment_url"]).text


def test_a_postal_code_check_normalises_like_the_stored_hash(stack: Stack, merchant: MerchantClient):
    reply = merchant.call("PATCH", "/v1/settings", {"identity_check": "postal_code"})
    assert reply.status == 200, reply.text
    claim = _claim(merchant, locale="en-GB", timezone="Europe/London")
    browser = Browser()
    page = browser.get(claim["payment_url"])
    assert "Your postal code" in page.text and "date of birth" not in page.text
    reply = browser.post(_action(claim["payment_url"], page), {"csrf_token": _csrf(page), "postal_code": " 28 013 "})
    assert reply.status == 303
    assert "Zapatillas Runner X" in browser.get(claim["payment_url"]).text


def test_a_wrong_answer_gets_a_kind_error(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    browser = Browser()
    reply = _answer(browser, claim["payment_url"], WRONG_DOB)
    assert reply.status == 400
    assert "Esa respuesta no coincide con nuestros datos" in reply.text
    assert "Zapatillas" not in reply.text
    assert not any(c.startswith("recobro_session=") for c in reply.set_cookies)
    incomplete = _answer(browser, claim["payment_url"], {"day": "31", "month": "2", "year": "1990"})
    assert incomplete.status == 400 and "Completa tu respuesta" in incomplete.text


def _travel(stack: Stack, minutes: int) -> None:
    reply = stack.control("POST", "/clock", {"now": (clock.now() + timedelta(minutes=minutes)).isoformat()})
    assert reply.status == 200, reply.text


def test_five_wrong_answers_lock_the_page_for_fifteen_minutes(stack: Stack, merchant: MerchantClient, travel: None):
    claim = _claim(merchant)
    url = claim["payment_url"]
    browser = Browser()
    for _ in range(3):
        assert _answer(browser, url, WRONG_DOB).status == 400
    fourth = _answer(browser, url, WRONG_DOB)
    assert fourth.status == 400
    csrf = _csrf(fourth)  # a genuine form from before the lock
    fifth = browser.post(url + "/verify", {"csrf_token": csrf, **WRONG_DOB})
    assert fifth.status == 429
    assert "Demasiados intentos" in fifth.text and "15 minutos" in fifth.text

    page = browser.get(url)
    assert page.status == 429 and "bloqueada" in page.text and "csrf_token" not in page.text
    refused = browser.post(url + "/verify", {"csrf_token": csrf, **DOB})  # the right answer, while locked
    assert refused.status == 429 and "Zapatillas" not in refused.text
    assert not any(c.startswith("recobro_session=") for c in refused.set_cookies)

    _travel(stack, 14)
    assert browser.post(url + "/verify", {"csrf_token": csrf, **DOB}).status == 429
    _travel(stack, 2)
    opened = browser.post(url + "/verify", {"csrf_token": csrf, **DOB})
    assert opened.status == 303
    assert "Zapatillas Runner X" in browser.get(url).text


def test_a_session_opened_while_the_stacks_clock_is_behind_the_machines_lasts(stack: Stack, merchant: MerchantClient):
    """The demo's clock can travel back (and every test starts at 14:00 UTC): a session it opens
    has already "expired" by the machine's clock, which DynamoDB Local's TTL sweep (every ~10 s)
    would go by. The stack's own clock decides, so the debtor stays on the page."""

    clock.travel_to(datetime.now(UTC) - timedelta(hours=6))
    claim = _claim(merchant)
    browser = Browser()
    assert _answer(browser, claim["payment_url"], DOB).status == 303
    time.sleep(12)
    page = browser.get(claim["payment_url"])
    assert "Zapatillas Runner X" in page.text and "Confirma que eres tú" not in page.text


def test_wrong_answers_only_count_within_fifteen_minutes(stack: Stack, merchant: MerchantClient, travel: None):
    claim = _claim(merchant)
    browser = Browser()
    for _ in range(4):
        assert _answer(browser, claim["payment_url"], WRONG_DOB).status == 400
    _travel(stack, 16)
    for _ in range(4):
        assert _answer(browser, claim["payment_url"], WRONG_DOB).status == 400
    assert _answer(browser, claim["payment_url"], DOB).status == 303


def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    url = claim["payment_url"]
    browser = Browser()
    page = browser.get(url)
    genuine = _csrf(page)
    other_browser = Browser()
    other_browser.get(url)
    attempts = [
        (browser, {**DOB}),  # no token
        (browser, {"csrf_token": "", **DOB}),
        (browser, {"csrf_token": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"), **DOB}),
        (other_browser, {"csrf_token": genuine, **DOB}),  # someone else's token: not bound to this cookie
    ]
    for client, form in attempts:
        reply = client.post(url + "/verify", form)
        assert reply.status == 403, (form, reply.text)
        assert "Zapatillas" not in reply.text
        assert not any(c.startswith("recobro_session=") for c in reply.set_cookies)
    no_cookie = browser.request("POST", url + "/verify", {"csrf_token": genuine, **DOB}, cookies=False)
    assert no_cookie.status == 403
    # Forty refused posts later, wrong answers have not been counted: the page is not locked.
    for _ in range(8):
        assert browser.post(url + "/verify", {"csrf_token": "nope", **WRONG_DOB}).status == 403
    assert browser.post(url + "/verify", {"csrf_token": genuine, **DOB}).status == 303


def test_an_older_link_is_revoked_by_a_newer_one(stack: Stack, merchant: MerchantClient):
    today = date.today()
    claim = _claim(merchant, due=[today - timedelta(days=2)], amounts=[2500])
    old_url = claim["payment_url"]
    browser = Browser()
    assert _answer(browser, old_url, DOB).status == 303
    assert browser.get(old_url).status == 200

    stack.fire_planner()
    stack.drain()
    (email,) = stack.outbox(claim["id"])
    (new_url,) = [link for link in email["links"] if "/p/" in link]
    assert new_url != old_url

    for client in (browser, Browser()):  # the session of the old link ends with it
        page = client.get(old_url)
        assert page.status == 404
        assert "not valid or has expired" in page.text and "Zapatillas" not in page.text
    assert browser.post(old_url + "/verify", {"csrf_token": "x", **DOB}).status == 404
    fresh = Browser()
    assert _answer(fresh, new_url, DOB).status == 303
    assert "Zapatillas Runner X" in fresh.get(new_url).text
    # The merchant API now shows a link of the newest version (its expiry moves with the clock).
    from recobro import links

    shown = merchant.call("GET", f"/v1/claims/{claim['id']}").json()["payment_url"]
    shown_link, new_link = (links.verify(u.rsplit("/", 1)[1]) for u in (shown, new_url))
    assert shown_link is not None and new_link is not None
    assert (
        (shown_link.claim_id, shown_link.link_version) == (new_link.claim_id, new_link.link_version) == (claim["id"], 1)
    )
    assert Browser().get(shown).status == 200


def test_every_page_response_carries_the_security_headers_with_a_fresh_nonce(stack: Stack, merchant: MerchantClient):
    claim = _claim(merchant)
    url = claim["payment_url"]
    browser = Browser()
    replies = [browser.get(url), browser.get(url), _answer(browser, url, WRONG_DOB)]
    replies.append(browser.post(url + "/verify", {"csrf_token": "bad"}))
    replies.append(Browser().get(stack.urls["pages"] + "/p/nothing"))
    replies.append(_answer(browser, url, DOB))
    replies.append(browser.get(url))
    nonces = []
    for reply in replies:
        csp = reply.headers["content-security-policy"]
        for directive in (
            "default-src 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ):
            assert directive in csp, (reply.status, csp)
        assert "unsafe-inline" not in csp
        nonce = re.search(r"style-src 'nonce-([A-Za-z0-9_-]+)'", csp)
        assert nonce, csp
        nonces.append(nonce.group(1))
        if reply.status != 303:
            assert f'<style nonce="{nonce.group(1)}">' in reply.text
        assert reply.headers["strict-transport-security"].startswith("max-age=")
        assert reply.headers["referrer-policy"] == "no-referrer"
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert len(set(nonces)) == len(nonces)


def test_merchant_text_is_escaped(stack: Stack, merchant: MerchantClient):
    reply = merchant.call("PATCH", "/v1/settings", {"display_name": '<script>alert("x")</script>'})
    assert reply.status == 200, reply.text
    claim = _claim(merchant)
    browser = Browser()
    page = browser.get(claim["payment_url"])
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert _answer(browser, claim["payment_url"], DOB).status == 303
    owed = browser.get(claim["payment_url"])
    assert "<script>" not in owed.text and "&lt;script&gt;" in owed.text


def test_a_debtor_without_the_chosen_answer_falls_back_or_is_sent_to_the_merchant(
    stack: Stack, merchant: MerchantClient
):
    from recobro.storage.models import Debtor

    body = claim_body()
    del body["debtor"]["date_of_birth"]
    reply = merchant.call("POST", "/v1/claims", body)
    assert reply.status == 201, reply.text
    claim = reply.json()
    browser = Browser()
    page = browser.get(claim["payment_url"])
    assert "Tu código postal" in page.text  # the merchant asks for a date of birth; none on file
    assert (
        browser.post(_action(claim["payment_url"], page), {"csrf_token": _csrf(page), "postal_code": "28013"}).status
        == 303
    )

    debtor = Debtor.get(merchant.merchant_id, claim["debtor"]["id"])
    debtor.update(actions=[Debtor.postal_code_hash.remove()])
    page = Browser().get(claim["payment_url"])
    assert page.status == 200 and "csrf_token" not in page.text
    assert f"ayuda@{merchant.merchant_id}.example" in page.text and "Zapatillas" not in page.text
