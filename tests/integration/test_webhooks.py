"""Outbound webhooks on the real local stack: a receiver on 127.0.0.1 gets signed deliveries.

Retries are driven by the stack's clock: after a failed attempt the test moves the clock past
the next attempt's time (POST /clock), and the delivery job, which hops through SQS every second
locally, notices within a second. No test waits minutes of real time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from recobro import clock
from recobro.events import Event
from recobro.webhooks import publish, signature

from tests.integration.conftest import MerchantClient, Stack


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny HTTP server that records every POST and answers with the next scripted status."""

    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recobro"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.received)} of {count} deliveries"
            time.sleep(0.05)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def travel(stack: Stack) -> Iterator[Callable[[timedelta], None]]:
    """Move the stack's clock forward by a duration; back to real time afterwards."""

    def forward(by: timedelta) -> None:
        reply = stack.control("POST", "/clock", {"now": (clock.now() + by).isoformat()})
        assert reply.status == 200, reply.text

    try:
        yield forward
    finally:
        clock.reset()


def _endpoint(merchant: MerchantClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    reply = merchant.call(
        "POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": events or ["*"], "description": "tests"}
    )
    assert reply.status == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def _event(merchant: MerchantClient, type_: str = "claim.created") -> Event:
    claim_id = f"clm_{uuid.uuid4().hex[:20]}"
    return Event(type=type_, merchant_id=merchant.merchant_id, claim_id=claim_id, data={"id": claim_id, "amount": 5000})


def _deliveries(merchant: MerchantClient, endpoint_id: str, query: str = "") -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/webhook_endpoints/{endpoint_id}/deliveries{query}")
    assert reply.status == 200, reply.text
    listed: dict[str, Any] = reply.json()
    return listed


def _wait_for_attempts(merchant: MerchantClient, endpoint_id: str, count: int, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = _deliveries(merchant, endpoint_id)["data"]
        assert len(found) <= 1, found
        if found and found[0]["attempt_count"] >= count:
            return found[0]
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def _assert_signed(got: Received, secret: str) -> None:
    assert got.headers["content-type"] == "application/json"
    header = got.headers["recobro-signature"]
    assert signature.verify(got.body, header, secret, now=clock.now().timestamp())
    assert not signature.verify(got.body + b" ", header, secret, now=clock.now().timestamp())


# ---------------------------------------------------------------- delivery


def test_an_event_reaches_a_subscribed_endpoint_signed(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url, ["claim.created", "claim.paid"])
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["enabled_events"] == ["claim.created", "claim.paid"]
    event = _event(merchant)
    publish([event])
    stack.drain()

    (got,) = receiver.wait_for(1)
    _assert_signed(got, endpoint["secret"])
    assert got.event == json.loads(json.dumps(event.envelope()))
    assert got.event["type"] == "claim.created" and got.event["object"] == "event"

    listed = _deliveries(merchant, endpoint["id"])
    (delivery,) = listed["data"]
    assert listed["has_more"] is False
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] == event.id and delivery["event_type"] == "claim.created"
    assert delivery["attempt_count"] == 1 and delivery["attempts"][0]["status_code"] == 200
    assert delivery["mode"] == "automatic" and delivery["next_attempt_at"] is None


def test_events_the_endpoint_did_not_subscribe_to_are_not_sent(
    stack: Stack, merchant: MerchantClient, receiver: Receiver
):
    endpoint = _endpoint(merchant, receiver.url, ["claim.paid"])
    publish([_event(merchant, "claim.created"), _event(merchant, "payment.succeeded")])
    paid = _event(merchant, "claim.paid")
    publish([paid])
    stack.drain()
    (got,) = receiver.wait_for(1)
    assert got.event["id"] == paid.id
    assert [d["event_type"] for d in _deliveries(merchant, endpoint["id"])["data"]] == ["claim.paid"]


def test_one_event_reaches_every_subscribed_endpoint_once(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    first = _endpoint(merchant, receiver.url, ["claim.created"])
    second = _endpoint(merchant, receiver.url + "?second=1", ["*"])
    event = _event(merchant)
    publish([event])
    publish([event])  # a republished event (e.g. by a sweep) is not delivered twice
    stack.drain()
    got = receiver.wait_for(2)
    time.sleep(0.3)
    assert len(got) == 2
    assert {r.event["id"] for r in got} == {event.id}
    now = clock.now().timestamp()
    for secret in (first["secret"], second["secret"]):  # each endpoint's copy is signed with its own secret
        assert sum(signature.verify(r.body, r.headers["recobro-signature"], secret, now=now) for r in got) == 1


def test_a_batch_of_many_events_is_published_and_delivered(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url, ["payment.succeeded"])
    events = [_event(merchant, "payment.succeeded") for _ in range(23)]
    publish(events)
    stack.drain()
    receiver.wait_for(23)
    assert {r.event["id"] for r in receiver.received} == {e.id for e in events}
    first_page = _deliveries(merchant, endpoint["id"], "?limit=10")
    assert len(first_page["data"]) == 10 and first_page["has_more"] is True
    second_page = _deliveries(merchant, endpoint["id"], f"?limit=10&starting_after={first_page['data'][-1]['id']}")
    third_page = _deliveries(merchant, endpoint["id"], f"?limit=10&starting_after={second_page['data'][-1]['id']}")
    assert len(second_page["data"]) == 10 and len(third_page["data"]) == 3 and third_page["has_more"] is False
    ids = [d["id"] for page in (first_page, second_page, third_page) for d in page["data"]]
    assert len(set(ids)) == 23
    created = [d["created_at"] for page in (first_page, second_page, third_page) for d in page["data"]]
    assert created == sorted(created, reverse=True)


# ---------------------------------------------------------------- retries


def test_a_failed_delivery_is_retried_after_its_backoff(
    stack: Stack, merchant: MerchantClient, receiver: Receiver, travel: Callable[[timedelta], None]
):
    receiver.statuses = [500]
    endpoint = _endpoint(merchant, receiver.url)
    publish([_event(merchant)])
    first = _wait_for_attempts(merchant, endpoint["id"], 1)
    assert first["status"] == "pending"
    assert first["attempts"][0]["status_code"] == 500 and first["attempts"][0]["error"] == "http_500"
    assert first["next_attempt_at"] is not None

    time.sleep(1.5)
    assert len(receiver.received) == 1  # the retry waits for its time, however many hops pass
    travel(timedelta(seconds=61))
    stack.drain()
    second = _wait_for_attempts(merchant, endpoint["id"], 2)
    assert second["status"] == "succeeded" and second["next_attempt_at"] is None
    assert [a["status_code"] for a in second["attempts"]] == [500, 200]
    one, two = receiver.wait_for(2)
    assert one.body == two.body
    _assert_signed(two, endpoint["secret"])


def test_after_three_days_of_failures_a_delivery_is_failed_and_dead_lettered(
    stack: Stack, merchant: MerchantClient, receiver: Receiver, travel: Callable[[timedelta], None]
):
    receiver.default_status = 503
    endpoint = _endpoint(merchant, receiver.url, ["claim.paused"])
    publish([_event(merchant, "claim.paused")])
    delivery = _wait_for_attempts(merchant, endpoint["id"], 1)
    # Walk through the first retries (1 min, 5 min, 30 min later), then jump past three days.
    for attempt, wait in ((2, timedelta(minutes=1)), (3, timedelta(minutes=5)), (4, timedelta(minutes=30))):
        travel(wait + timedelta(seconds=1))
        delivery = _wait_for_attempts(merchant, endpoint["id"], attempt)
        assert delivery["status"] == "pending"
    travel(timedelta(days=3))
    stack.drain()
    delivery = _wait_for_attempts(merchant, endpoint["id"], 5)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    assert [a["status_code"] for a in delivery["attempts"]] == [503] * 5
    assert len(receiver.received) == 5

    sqs = stack.runtime._sqs
    dlq = stack.runtime.queue_urls["WebhookJobsDLQ"]
    found = None
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        found = next((m for m in messages if json.loads(m["Body"]).get("delivery_id") == delivery["id"]), None)
        if found:
            break
    assert found is not None, "the exhausted job is not in the dead-letter queue"
    assert found["MessageAttributes"]["reason"]["StringValue"] == "retries_exhausted"
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=found["ReceiptHandle"])


# ---------------------------------------------------------------- redeliver and ping


def test_redeliver_sends_the_same_event_again(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url)
    publish([_event(merchant)])
    stack.drain()
    (original,) = _deliveries(merchant, endpoint["id"])["data"]
    reply = merchant.call("POST", f"/v1/webhook_deliveries/{original['id']}/redeliver")
    assert reply.status == 202, reply.text
    again = reply.json()
    assert again["id"] != original["id"] and again["redelivery_of"] == original["id"]
    assert again["mode"] == "manual" and again["status"] == "pending"
    stack.drain()
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    _assert_signed(second, endpoint["secret"])
    listed = _deliveries(merchant, endpoint["id"])["data"]
    assert [d["id"] for d in listed] == [again["id"], original["id"]]
    assert listed[0]["status"] == "succeeded"


def test_a_failed_manual_delivery_is_not_retried(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    receiver.default_status = 404
    endpoint = _endpoint(merchant, receiver.url)
    reply = merchant.call("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping")
    assert reply.status == 202, reply.text
    stack.drain()
    (delivery,) = _deliveries(merchant, endpoint["id"])["data"]
    assert delivery["status"] == "failed" and delivery["attempts"][0]["error"] == "http_404"


def test_ping_sends_a_signed_test_event_now(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url, ["claim.paid"])
    reply = merchant.call("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping")
    assert reply.status == 202, reply.text
    assert reply.json()["event_type"] == "ping"
    stack.drain()
    (got,) = receiver.wait_for(1)
    _assert_signed(got, endpoint["secret"])
    assert got.event["type"] == "ping"
    assert got.event["data"]["object"] == {"id": endpoint["id"], "object": "webhook_endpoint"}
    (delivery,) = _deliveries(merchant, endpoint["id"])["data"]
    assert delivery["status"] == "succeeded" and delivery["event_type"] == "ping"


def test_unreachable_endpoints_record_the_error(stack: Stack, merchant: MerchantClient):
    closed = Receiver().start()
    url = closed.url
    closed.stop()  # nothing listens on that port any more
    endpoint = _endpoint(merchant, url)
    assert merchant.call("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping").status == 202
    stack.drain()
    (delivery,) = _deliveries(merchant, endpoint["id"])["data"]
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0] == {**delivery["attempts"][0], "status_code": None, "error": "connection_error"}


# ---------------------------------------------------------------- endpoints: secrets, isolation, bad input


def test_the_secret_is_shown_only_at_creation(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url)
    secret = endpoint["secret"]
    replies = [
        merchant.call("GET", "/v1/webhook_endpoints"),
        merchant.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}"),
        merchant.call("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping"),
        merchant.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries"),
        merchant.call("GET", "/v1/openapi.json"),
    ]
    stack.drain()
    for reply in replies:
        assert reply.status in (200, 202), reply.text
        assert secret not in reply.text and "whsec_" not in reply.text.replace("whsec_...", "")
    listed = replies[0].json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert replies[1].json() == {k: v for k, v in endpoint.items() if k != "secret"}


def test_another_merchants_ids_are_not_found(
    stack: Stack, merchant: MerchantClient, other_merchant: MerchantClient, receiver: Receiver
):
    endpoint = _endpoint(merchant, receiver.url)
    assert merchant.call("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping").status == 202
    stack.drain()
    (delivery,) = _deliveries(merchant, endpoint["id"])["data"]
    calls = [
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}"),
        ("DELETE", f"/v1/webhook_endpoints/{endpoint['id']}"),
        ("POST", f"/v1/webhook_endpoints/{endpoint['id']}/ping"),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries"),
        ("POST", f"/v1/webhook_deliveries/{delivery['id']}/redeliver"),
    ]
    for method, path in calls:
        reply = other_merchant.call(method, path)
        assert reply.status == 404, (method, path, reply.text)
        assert reply.json()["error"]["code"] == "not_found"
    assert other_merchant.call("GET", "/v1/webhook_endpoints").json()["data"] == []
    # The other merchant's events never reach this merchant's endpoint.
    publish([_event(other_merchant)])
    stack.drain()
    assert len(receiver.received) == 1  # the ping only
    assert merchant.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}").status == 200


def test_a_deleted_endpoint_is_gone_and_gets_nothing(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url)
    reply = merchant.call("DELETE", f"/v1/webhook_endpoints/{endpoint['id']}")
    assert reply.status == 200, reply.text
    assert reply.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    assert merchant.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}").status == 404
    assert merchant.call("DELETE", f"/v1/webhook_endpoints/{endpoint['id']}").status == 404
    publish([_event(merchant)])
    stack.drain()
    assert receiver.received == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/x", "enabled_events": ["*"]}, "url"),
        ({"url": "https://10.0.0.1/x", "enabled_events": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/x", "enabled_events": ["claim.exploded"]}, "enabled_events"),
        ({"url": "https://hooks.example.com/x", "enabled_events": []}, "enabled_events"),
        ({"url": "https://hooks.example.com/x"}, "enabled_events"),
        ({"url": "https://hooks.example.com/x", "enabled_events": ["*"], "secret": "whsec_x"}, "secret"),
        ({"url": 7, "enabled_events": ["*"]}, "url"),
    ],
)
def test_bad_endpoint_bodies_are_400(stack: Stack, merchant: MerchantClient, body: dict, field: str):
    reply = merchant.call("POST", "/v1/webhook_endpoints", body)
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] == "validation_error"
    assert reply.json()["error"]["field"] == field


def test_bad_ids_and_queries_are_clean_4xx(stack: Stack, merchant: MerchantClient, receiver: Receiver):
    endpoint = _endpoint(merchant, receiver.url)
    for method, path, status in [
        ("GET", "/v1/webhook_endpoints/we_nope", 404),
        ("GET", "/v1/webhook_endpoints/%C3%A9%00", 404),
        ("POST", "/v1/webhook_deliveries/dlv_nope/redeliver", 404),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?limit=0", 400),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?limit=abc", 400),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?limit=101", 400),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?colour=red", 400),
        ("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?starting_after=dlv_nope", 404),
    ]:
        reply = merchant.call(method, path)
        assert reply.status == status, (path, reply.text)
        assert set(reply.json()["error"]) >= {"code", "message"}
    reply = merchant.call(
        "POST", "/v1/webhook_endpoints", body="not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400 and reply.json()["error"]["code"] == "invalid_json"
    unauthenticated = merchant.call("GET", "/v1/webhook_endpoints", headers={"Authorization": "Bearer nope"})
    assert unauthenticated.status == 401


def test_the_webhook_routes_are_in_the_openapi_document(stack: Stack, merchant: MerchantClient):
    paths = merchant.call("GET", "/v1/openapi.json").json()["paths"]
    assert set(paths["/v1/webhook_endpoints"]) == {"get", "post"}
    assert set(paths["/v1/webhook_endpoints/{endpoint_id}"]) == {"get", "delete"}
    assert "post" in paths["/v1/webhook_endpoints/{endpoint_id}/ping"]
    assert "get" in paths["/v1/webhook_endpoints/{endpoint_id}/deliveries"]
    assert "post" in paths["/v1/webhook_deliveries/{delivery_id}/redeliver"]
