"""API keys over HTTP on the local stack: list, create, roll with an overlap, revoke at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from recobro import clock
from recobro.auth import hash_key
from recobro.storage.models import ApiKey

from tests.integration.conftest import MerchantClient, Stack


def as_key(merchant: MerchantClient, secret: str) -> MerchantClient:
    return MerchantClient(merchant.merchant_id, secret, merchant.api)


def only_key_id(merchant: MerchantClient) -> str:
    listed = merchant.call("GET", "/v1/api_keys")
    assert listed.status == 200, listed.text
    (key,) = listed.json()["data"]
    return str(key["id"])


def works(merchant: MerchantClient) -> bool:
    reply = merchant.call("GET", "/v1/api_keys")
    assert reply.status in (200, 401), reply.text
    return reply.status == 200


def test_list_shows_each_key_without_its_secret(merchant: MerchantClient):
    created = merchant.call("POST", "/v1/api_keys", {"description": "CI deploys"})
    assert created.status == 201, created.text
    new = created.json()
    assert new["secret"].startswith("rk_live_") and new["object"] == "api_key"
    assert new["prefix"] == new["secret"][:12] and new["last4"] == new["secret"][-4:]
    assert (new["status"], new["description"], new["expires_at"], new["revoked_at"]) == (
        "active",
        "CI deploys",
        None,
        None,
    )

    listed = merchant.call("GET", "/v1/api_keys")
    assert listed.status == 200
    body = listed.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert body["data"][0]["id"] == new["id"]  # newest first
    assert len(body["data"]) == 2
    for secret in (new["secret"], merchant.api_key):
        assert secret not in listed.text
        assert hash_key(secret) not in listed.text
    for key in body["data"]:
        assert set(key) == {
            "id",
            "object",
            "prefix",
            "last4",
            "description",
            "status",
            "created_at",
            "expires_at",
            "revoked_at",
        }
    assert works(as_key(merchant, new["secret"]))


def test_the_stored_item_holds_only_the_hash(merchant: MerchantClient):
    secret = merchant.call("POST", "/v1/api_keys", {}).json()["secret"]
    item = ApiKey.get(hash_key(secret), consistent_read=True)
    assert secret not in str(item.attribute_values)


def test_a_rolled_key_works_until_it_expires_then_only_the_new_one_does(stack: Stack, merchant: MerchantClient):
    old_id = only_key_id(merchant)
    rolled = merchant.call("POST", f"/v1/api_keys/{old_id}/roll", {"expires_in_hours": 2})
    assert rolled.status == 201, rolled.text
    new = rolled.json()
    assert new["id"] != old_id and new["status"] == "active"
    assert new["rolled_key"]["id"] == old_id and new["rolled_key"]["status"] == "expiring"
    new_client = as_key(merchant, new["secret"])

    # The overlap: both keys work.
    assert works(merchant) and works(new_client)
    statuses = {k["id"]: k["status"] for k in new_client.call("GET", "/v1/api_keys").json()["data"]}
    assert statuses == {old_id: "expiring", new["id"]: "active"}

    try:
        later = clock.now() + timedelta(hours=2, minutes=1)
        assert stack.control("POST", "/clock", {"now": later.isoformat()}).status == 200
        refused = merchant.call("GET", "/v1/api_keys")
        assert refused.status == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert "expired" in refused.json()["error"]["message"]
        assert works(new_client)
        listed = new_client.call("GET", "/v1/api_keys").json()["data"]
        assert {k["id"]: k["status"] for k in listed} == {old_id: "expired", new["id"]: "active"}
    finally:
        clock.reset()


def test_a_roll_with_no_overlap_ends_the_old_key_at_once(merchant: MerchantClient):
    rolled = merchant.call("POST", f"/v1/api_keys/{only_key_id(merchant)}/roll", {"expires_in_hours": 0})
    assert rolled.status == 201, rolled.text
    assert not works(merchant)
    assert works(as_key(merchant, rolled.json()["secret"]))


def test_roll_defaults_to_a_day_of_overlap_and_refuses_a_second_roll(merchant: MerchantClient):
    old_id = only_key_id(merchant)
    rolled = merchant.call("POST", f"/v1/api_keys/{old_id}/roll", {})
    assert rolled.status == 201, rolled.text
    created = clock.now()
    expires = rolled.json()["rolled_key"]["expires_at"]
    assert expires.startswith((created + timedelta(hours=24)).date().isoformat())

    again = merchant.call("POST", f"/v1/api_keys/{old_id}/roll", {})
    assert again.status == 409
    assert "already rolled" in again.json()["error"]["message"]


def test_create_roll_and_revoke_need_no_body(merchant: MerchantClient):
    created = merchant.call("POST", "/v1/api_keys")
    assert created.status == 201, created.text
    rolled = merchant.call("POST", f"/v1/api_keys/{created.json()['id']}/roll")
    assert rolled.status == 201, rolled.text
    assert merchant.call("POST", f"/v1/api_keys/{created.json()['id']}/revoke").status == 200


def test_a_revoked_key_fails_on_the_next_request(merchant: MerchantClient):
    spare = merchant.call("POST", "/v1/api_keys", {"description": "spare"}).json()
    spare_client = as_key(merchant, spare["secret"])
    assert works(spare_client)

    revoked = merchant.call("POST", f"/v1/api_keys/{spare['id']}/revoke", {})
    assert revoked.status == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    refused = spare_client.call("GET", "/v1/api_keys")
    assert refused.status == 401
    assert "revoked" in refused.json()["error"]["message"]

    # Revoking again changes nothing; rolling a revoked key is refused.
    again = merchant.call("POST", f"/v1/api_keys/{spare['id']}/revoke", {})
    assert again.status == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert merchant.call("POST", f"/v1/api_keys/{spare['id']}/roll", {}).status == 409


def test_a_merchant_can_revoke_the_key_it_is_using_when_another_remains(merchant: MerchantClient):
    spare = merchant.call("POST", "/v1/api_keys", {}).json()
    own_id = next(k["id"] for k in merchant.call("GET", "/v1/api_keys").json()["data"] if k["id"] != spare["id"])
    assert merchant.call("POST", f"/v1/api_keys/{own_id}/revoke", {}).status == 200
    assert not works(merchant)
    assert works(as_key(merchant, spare["secret"]))


def test_the_last_active_key_cannot_be_revoked(merchant: MerchantClient):
    key_id = only_key_id(merchant)
    refused = merchant.call("POST", f"/v1/api_keys/{key_id}/revoke", {})
    assert refused.status == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict" and error["field"] == "key_id"
    assert "last active API key" in error["message"] and "lock your integration out" in error["message"]
    assert works(merchant)


def test_after_a_roll_the_replacement_is_the_last_key_and_the_rolled_one_can_go(merchant: MerchantClient):
    old_id = only_key_id(merchant)
    new = merchant.call("POST", f"/v1/api_keys/{old_id}/roll", {"expires_in_hours": 5}).json()
    new_client = as_key(merchant, new["secret"])
    assert new_client.call("POST", f"/v1/api_keys/{new['id']}/revoke", {}).status == 409
    assert new_client.call("POST", f"/v1/api_keys/{old_id}/revoke", {}).status == 200
    assert not works(merchant) and works(new_client)


def test_another_merchants_key_ids_are_not_found(merchant: MerchantClient, other_merchant: MerchantClient):
    theirs = other_merchant.call("POST", "/v1/api_keys", {}).json()
    for action in ("roll", "revoke"):
        reply = merchant.call("POST", f"/v1/api_keys/{theirs['id']}/{action}", {})
        assert reply.status == 404, (action, reply.text)
        assert reply.json()["error"]["code"] == "not_found"
    assert works(as_key(other_merchant, theirs["secret"]))
    assert theirs["id"] not in merchant.call("GET", "/v1/api_keys").text


@pytest.mark.parametrize("key_id", ["key_nope", "key_" + "a" * 200, "KEY_AAAAAAAAAAAAAAAAAAAA", "%00"])
def test_malformed_key_ids_are_not_found(merchant: MerchantClient, key_id: str):
    reply = merchant.call("POST", f"/v1/api_keys/{key_id}/roll", {})
    assert reply.status == 404, reply.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("roll", {"expires_in_hours": "24"}, "expires_in_hours"),
        ("roll", {"expires_in_hours": 24.5}, "expires_in_hours"),
        ("roll", {"expires_in_hours": True}, "expires_in_hours"),
        ("roll", {"expires_in_hours": -1}, "expires_in_hours"),
        ("roll", {"expires_in_hours": 169}, "expires_in_hours"),
        ("roll", {"expires_in_hours": 10**30}, "expires_in_hours"),
        ("roll", {"overlap": 1}, "overlap"),
        ("revoke", {"now": True}, "now"),
        ("create", {"description": 7}, "description"),
        ("create", {"description": ""}, "description"),
        ("create", {"description": "x" * 101}, "description"),
        ("create", {"secret": "rk_live_mine"}, "secret"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(merchant: MerchantClient, path: str, body: dict, field: str):
    url = "/v1/api_keys" if path == "create" else f"/v1/api_keys/{only_key_id(merchant)}/{path}"
    reply = merchant.call("POST", url, body)
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] == "validation_error"
    assert reply.json()["error"]["field"] == field
    assert len(merchant.call("GET", "/v1/api_keys").json()["data"]) == 1  # nothing was created


def test_creating_a_key_honours_idempotency_key(merchant: MerchantClient):
    headers = {"Idempotency-Key": "new-key-1"}
    first = merchant.call("POST", "/v1/api_keys", {"description": "one"}, headers=headers)
    again = merchant.call("POST", "/v1/api_keys", {"description": "one"}, headers=headers)
    assert first.status == again.status == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["secret"].startswith("rk_live_") and works(as_key(merchant, first.json()["secret"]))
    assert again.json()["secret"] is None  # shown once; the replay comes from a record without it
    assert len(merchant.call("GET", "/v1/api_keys").json()["data"]) == 2
    other = merchant.call("POST", "/v1/api_keys", {"description": "two"}, headers=headers)
    assert other.status == 409 and other.json()["error"]["code"] == "idempotency_conflict"


def test_without_a_key_nothing_is_listed(stack: Stack):
    from tests.http import request

    reply = request("GET", stack.urls["api"] + "/v1/api_keys")
    assert reply.status == 401
    assert reply.json()["error"]["code"] == "unauthorized"


def test_authentication_is_one_strongly_consistent_get_item(merchant: MerchantClient, monkeypatch: pytest.MonkeyPatch):
    """The handlers run in this process, so their DynamoDB calls can be watched."""
    from pynamodb.connection.base import Connection

    calls: list[tuple[str, dict]] = []
    original = Connection.dispatch

    def watching(self: Connection, operation_name: str, operation_kwargs: dict) -> dict:
        if operation_kwargs.get("TableName") == ApiKey.Meta.table_name:
            calls.append((operation_name, operation_kwargs))
        return original(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", watching)
    assert merchant.call("GET", "/v1/settings").status == 200
    assert [name for name, _ in calls] == ["GetItem"]
    assert calls[0][1].get("ConsistentRead") is True


def test_no_secret_is_kept_in_the_idempotency_table(merchant: MerchantClient):
    import boto3
    from recobro import config

    created = merchant.call("POST", "/v1/api_keys", {}, headers={"Idempotency-Key": "k-secret"}).json()
    rolled = merchant.call(
        "POST", f"/v1/api_keys/{created['id']}/roll", {}, headers={"Idempotency-Key": "k-roll"}
    ).json()
    endpoint = merchant.call(
        "POST",
        "/v1/webhook_endpoints",
        {"url": "https://hooks.example.com/recobro", "enabled_events": ["*"]},
        headers={"Idempotency-Key": "k-endpoint"},
    ).json()
    stored = str(boto3.client("dynamodb").scan(TableName=config.IDEMPOTENCY_TABLE)["Items"])
    for secret in (created["secret"], rolled["secret"], endpoint["secret"]):
        assert secret and secret not in stored
