"""The walking skeleton's slice: an overdue claim becomes one email with a link to its page."""

from __future__ import annotations

import re
from datetime import date, timedelta

from recobro import clock

from tests.http import request
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack


def _create(merchant: MerchantClient, **kwargs) -> dict:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def test_an_overdue_installment_becomes_exactly_one_spanish_email(stack: Stack, merchant: MerchantClient):
    today = date.today()
    claim = _create(merchant, due=[today - timedelta(days=2), today + timedelta(days=28)], amounts=[2500, 2500])

    first = stack.fire_planner()
    assert first["enqueued"] >= 1
    second = stack.fire_planner()
    assert second["enqueued"] == 0  # firing again enqueues nothing new
    stack.drain()
    stack.fire_planner()
    stack.drain()

    emails = stack.outbox(claim["id"])
    assert len(emails) == 1
    email = emails[0]
    assert email["channel"] == "email"
    assert email["recipient"] == "lucia@example.com"
    assert "Recordatorio de pago" in email["subject"]
    assert "25,00\xa0€" in email["text"] or "25,00 €" in email["text"]
    assert "Hola, Lucía" in email["text"]
    links = [link for link in email["links"] if "/p/" in link]
    assert len(links) == 1
    assert links[0].startswith(stack.urls["pages"])

    page = request("GET", links[0])
    assert page.status == 200
    assert "text/html" in page.headers["content-type"]
    assert "Tienda Demo" in page.text
    assert "Zapatillas Runner X" in page.text
    assert re.search(r"50,00(\xa0| )€", page.text)  # the whole amount still due
    assert "Importe pendiente" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_an_english_debtor_reads_english(stack: Stack, merchant: MerchantClient):
    today = date.today()
    claim = _create(merchant, due=[today - timedelta(days=5)], amounts=[1999], locale="en-GB", timezone="Europe/London")
    stack.fire_planner()
    stack.drain()
    (email,) = stack.outbox(claim["id"])
    assert "Payment reminder" in email["subject"]
    assert "€19.99" in email["text"]
    page = request("GET", claim["payment_url"])
    assert page.status == 200 and "Amount due" in page.text and "€19.99" in page.text


def test_a_claim_not_yet_due_gets_no_reminder(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant, due=[date.today() + timedelta(days=10)], amounts=[5000])
    stack.fire_planner()
    stack.drain()
    assert stack.outbox(claim["id"]) == []
    assert claim["next_reminder_at"] > clock.now().isoformat()


def test_tampered_and_unknown_links_get_a_plain_404(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant)
    url = claim["payment_url"]
    token = url.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, token + "x", "nothing", token.split(".")[0], "%00%ff", "a" * 2000]:
        page = request("GET", f"{stack.urls['pages']}/p/{bad}")
        assert page.status == 404, bad
        assert "Zapatillas" not in page.text and "Tienda Demo" not in page.text
        assert "not valid or has expired" in page.text
    assert request("GET", f"{stack.urls['pages']}/p/").status == 404
    assert request("GET", url).status == 200


def test_a_link_stops_working_when_it_expires(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant)
    assert request("GET", claim["payment_url"]).status == 200
    reply = stack.control("POST", "/clock", {"now": (clock.now() + timedelta(days=31)).isoformat()})
    try:
        assert reply.status == 200, reply.text
        page = request("GET", claim["payment_url"])
        assert page.status == 404
        assert "Zapatillas" not in page.text
    finally:
        clock.reset()
