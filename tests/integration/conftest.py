"""One local stack per test session (DynamoDB Local, moto, localstripe, the handlers), on free ports.

The scheduler is off: tests fire schedules through the control surface so they decide when
planning happens. Every test makes its own merchant, so tests never see each other's claims.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from infra.local.runtime import LocalStack, Ports
from tests.http import Reply, request


@dataclass
class Stack:
    urls: dict[str, str]
    runtime: LocalStack

    def control(self, method: str, path: str, json_body: Any = None) -> Reply:
        return request(method, self.urls["control"] + path, json_body=json_body, timeout=120)

    def fire_planner(self) -> dict[str, int]:
        reply = self.control("POST", "/schedules/ReminderPlannerFunction/fire")
        assert reply.status == 200, reply.text
        result: dict[str, int] = reply.json()["result"]
        return result

    def drain(self) -> None:
        reply = self.control("POST", "/drain?timeout=60")
        assert reply.status == 200, reply.text

    def outbox(self, claim_id: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control("GET", "/outbox.json").json()
        return [i for i in items if claim_id is None or i.get("claim_id") == claim_id]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The one stack of the session: handlers cache their clients, so a second one would confuse them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOBRO_LOCAL_DIR", str(tmp_path_factory.mktemp("local-state")))
        runtime = LocalStack(ports=Ports.free(), persist=False, visibility_scale=0.01, start_scheduler=False)
        runtime.start()
        try:
            yield runtime
        finally:
            runtime.stop()


@pytest.fixture(autouse=True)
def daytime_clock() -> Iterator[None]:
    """Every test starts at 14:00 UTC today, inside the contact hours of the debtors tests use
    (Madrid, London, São Paulo, New York), so reminders do not depend on when CI runs."""
    from recobro import clock

    clock.travel_to(datetime.combine(date.today(), time(14, 0), tzinfo=UTC))
    yield
    clock.reset()


@pytest.fixture(scope="session")
def stack(local_stack: LocalStack) -> Stack:
    return Stack(local_stack.urls, local_stack)


@dataclass
class MerchantClient:
    """A merchant with a fresh API key, calling the real HTTP API."""

    merchant_id: str
    api_key: str
    api: str

    def call(self, method: str, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        return request(method, self.api + path, json_body=json_body, headers=headers, **kwargs)


def make_merchant(stack: Stack, name: str = "Tienda Demo") -> MerchantClient:
    from recobro.auth import issue_api_key
    from recobro.merchants import create_merchant

    merchant_id = f"m-{uuid.uuid4().hex[:10]}"
    create_merchant(merchant_id, name, f"ayuda@{merchant_id}.example")
    return MerchantClient(merchant_id, issue_api_key(merchant_id), stack.urls["api"])


@pytest.fixture
def merchant(stack: Stack) -> MerchantClient:
    return make_merchant(stack)


@pytest.fixture
def other_merchant(stack: Stack) -> MerchantClient:
    return make_merchant(stack, "Otra Tienda")
