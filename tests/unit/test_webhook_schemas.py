"""Webhook endpoint bodies: https public URLs, known event types, strict shapes."""

from __future__ import annotations

import pytest
from recobro.claims.schemas import parse
from recobro.errors import ValidationFailed
from recobro.events import EVENT_TYPES
from recobro.webhooks.schemas import WebhookEndpointCreate
from recobro.webhooks.service import fanout_delivery_id


def _body(**overrides):
    return {"url": "https://hooks.example.com/recobro", "enabled_events": ["claim.created"], **overrides}


@pytest.fixture(autouse=True)
def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECOBRO_ALLOW_HTTP_WEBHOOKS", raising=False)


def test_a_good_body() -> None:
    body = parse(WebhookEndpointCreate, _body(description="orders", enabled_events=["*"]))
    assert body.url == "https://hooks.example.com/recobro" and body.enabled_events == ["*"]
    assert parse(WebhookEndpointCreate, _body(enabled_events=list(EVENT_TYPES))).enabled_events == list(EVENT_TYPES)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "public"),
        ("https://10.1.2.3/x", "public"),
        ("https://169.254.169.254/latest/meta-data", "public"),
        ("https://[::1]/x", "public"),
        ("https://[::ffff:10.0.0.1]/x", "public"),
        ("https://localhost/x", "public host"),
        ("https://printer.local/x", "public host"),
        ("https://intranet/x", "fully qualified"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:99999/x", "valid"),
        ("https:///x", "host"),
        ("https://exämple.com/x", "non-ASCII"),
        ("https://hooks.example.com/a b", "spaces"),
        ("not a url", "spaces"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(WebhookEndpointCreate, _body(url=url))
    assert caught.value.field == "url"
    assert why in caught.value.message


def test_local_http_receivers_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationFailed):
        parse(WebhookEndpointCreate, _body(url="http://127.0.0.1:8080/hook"))
    monkeypatch.setenv("RECOBRO_ALLOW_HTTP_WEBHOOKS", "1")
    assert parse(WebhookEndpointCreate, _body(url="http://127.0.0.1:8080/hook")).url.startswith("http://127")
    assert parse(WebhookEndpointCreate, _body(url="http://localhost:8080/hook"))
    with pytest.raises(ValidationFailed):
        parse(WebhookEndpointCreate, _body(url="http://10.0.0.1/hook"))


@pytest.mark.parametrize(
    ("events", "field"),
    [
        ([], "enabled_events"),
        (["claim.exploded"], "enabled_events"),
        (["*", "claim.paid"], "enabled_events"),
        (["claim.paid", "claim.paid"], "enabled_events"),
        ([1], "enabled_events[0]"),
        ("claim.paid", "enabled_events"),
        (["ping"], "enabled_events"),
    ],
)
def test_bad_event_lists(events: object, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(WebhookEndpointCreate, _body(enabled_events=events))
    assert caught.value.field == field


def test_unknown_and_missing_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(WebhookEndpointCreate, _body(secret="whsec_mine"))
    assert caught.value.field == "secret"
    with pytest.raises(ValidationFailed) as caught:
        parse(WebhookEndpointCreate, {"enabled_events": ["*"]})
    assert caught.value.field == "url"
    with pytest.raises(ValidationFailed):
        parse(WebhookEndpointCreate, _body(url="https://hooks.example.com/" + "a" * 2100))


def test_fanout_delivery_ids_are_stable_and_valid() -> None:
    first = fanout_delivery_id("we_a", "evt_1")
    assert first == fanout_delivery_id("we_a", "evt_1") != fanout_delivery_id("we_b", "evt_1")
    assert first.startswith("dlv_") and len(first) == 24
