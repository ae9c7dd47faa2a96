"""The OpenAPI document matches the routes, and no route lets one merchant touch another's data."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.http import request
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.template_helpers import api_events, load_template

OWNERS_SMS = "{{ merchant_name }}: {{ amount_due }} {{ payment_url }} {{ opt_out_text }}"
NAMED_BY_EACH_MERCHANT = {("PUT", "/v1/strategies/{name}"), ("PUT", "/v1/templates/{channel}/{name}")}


def _document(stack: Stack) -> dict[str, Any]:
    reply = request("GET", stack.urls["api"] + "/v1/openapi.json")
    assert reply.status == 200
    return reply.json()


def test_the_document_is_valid_openapi_3_1(stack: Stack):
    from openapi_spec_validator import validate

    document = _document(stack)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_template_route_is_documented_and_every_documented_route_is_served(stack: Stack):
    documented = {(path, method.upper()) for path, ops in _document(stack)["paths"].items() for method in ops}
    in_template = {(path, method.upper()) for path, method in api_events(load_template(), "MerchantApiFunction")}
    assert documented == in_template


def _operations(stack: Stack) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in _document(stack)["paths"].items()
        for method, op in ops.items()
        if op.get("security") != []
    ]


def _ids_of(owner: MerchantClient) -> dict[str, str]:
    """Real ids belonging to `owner`, one per kind of path parameter."""
    claim = owner.call("POST", "/v1/claims", claim_body()).json()
    owner.call(
        "POST",
        f"/v1/claims/{claim['id']}/payments",
        {"amount": 100, "currency": "EUR", "external_reference": "iso-1"},
    )
    ids = {"claim_id": claim["id"], "debtor_id": claim["debtor"]["id"], "channel": "sms"}
    strategy = owner.call(
        "PUT",
        "/v1/strategies/example",
        {"yaml": "name: example\nsteps: [{day: 1, channel: email, variants: [{template: reminder, control: true}]}]\n"},
    )
    template = owner.call("PUT", "/v1/templates/sms/example", {"texts": {"es": OWNERS_SMS}})
    if strategy.status == 200 and template.status == 201:
        ids["name"] = "example"  # both a strategy and an SMS template of the owner
    keys = owner.call("GET", "/v1/api_keys")
    if keys.status == 200 and keys.json().get("data"):
        ids["key_id"] = keys.json()["data"][0]["id"]
    endpoint = owner.call("POST", "/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})
    if endpoint.status == 201:
        ids["endpoint_id"] = endpoint.json()["id"]
        ping = owner.call("POST", f"/v1/webhook_endpoints/{ids['endpoint_id']}/ping")
        if ping.status in (200, 202):
            ids["delivery_id"] = ping.json()["id"]
    return ids


def test_every_route_with_another_merchants_ids_is_404(
    stack: Stack, merchant: MerchantClient, other_merchant: MerchantClient
):
    ids = _ids_of(merchant)
    before = merchant.call("GET", f"/v1/claims/{ids['claim_id']}").json()
    walked = 0
    for method, path, op in _operations(stack):
        names = re.findall(r"{(\w+)}", path)
        if not names or (method, path) in NAMED_BY_EACH_MERCHANT:
            continue  # a name is not an id: each merchant saves its own "example" (checked below)
        if any(name not in ids for name in names):
            pytest.fail(f"no id of the owner for {method} {path}: extend _ids_of")
        concrete = path
        for name in names:
            concrete = concrete.replace("{" + name + "}", ids[name])
        body = None
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"].get("example")
            assert body is not None, f"{method} {path} has no example body: add one to its Operation"
        reply = other_merchant.call(method, concrete, body)
        assert reply.status == 404, (method, path, reply.status, reply.text)
        assert reply.json()["error"]["code"] == "not_found"
        walked += 1
    assert walked >= 10
    after = merchant.call("GET", f"/v1/claims/{ids['claim_id']}").json()
    for view in (before, after):
        view.pop("payment_url")  # a fresh link, whose expiry moves with the clock
    assert after == before  # nothing the other merchant sent changed the owner's claim
    other_saved = other_merchant.call(
        "PUT",
        "/v1/strategies/example",
        {"yaml": "name: example\nsteps: [{day: 9, channel: sms, variants: [{template: reminder, control: true}]}]\n"},
    )
    assert other_saved.status == 200 and other_saved.json()["version"] == 1
    assert merchant.call("GET", "/v1/strategies/example").json()["steps"][0]["step"] == "d+1.email"
    others = other_merchant.call("PUT", "/v1/templates/sms/example", {"texts": {"en": OWNERS_SMS}})
    assert others.status == 201 and others.json()["version"] == 1  # its own, not a replacement of the owner's
    assert merchant.call("GET", "/v1/templates/sms/example").json()["texts"] == {"es": OWNERS_SMS}
