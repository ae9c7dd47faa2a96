"""POST /v1/claims and GET /v1/claims/{id} over HTTP on the local stack: what an integrator sees."""

from __future__ import annotations

import json

import pytest
from pynamodb.connection import Connection
from recobro.storage.models import Claim, Debtor

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient


def stored_items(merchant_id: str) -> list[Claim]:
    return list(Claim.query(merchant_id))


def test_a_created_claim_is_stored_and_read_back(merchant: MerchantClient):
    body = claim_body(amounts=[2500, 2500])
    created = merchant.call("POST", "/v1/claims", body)
    assert created.status == 201, created.text
    claim = created.json()
    assert claim["id"].startswith("clm_")
    assert (claim["status"], claim["currency"], claim["amount_due"], claim["amount_paid"]) == ("open", "EUR", 5000, 0)
    assert [i["amount"] for i in claim["installments"]] == [2500, 2500]
    assert claim["payment_url"].startswith(merchant_url_prefix(merchant))

    fetched = merchant.call("GET", f"/v1/claims/{claim['id']}")
    assert fetched.status == 200
    assert fetched.json()["external_id"] == body["external_id"]
    assert fetched.json()["debtor"]["email"] == "lucia@example.com"


def merchant_url_prefix(merchant: MerchantClient) -> str:
    return "http://127.0.0.1:"


def test_same_idempotency_key_and_body_returns_the_first_response(merchant: MerchantClient):
    body = claim_body()
    headers = {"Idempotency-Key": "create-order-1"}
    first = merchant.call("POST", "/v1/claims", body, headers=headers)
    again = merchant.call("POST", "/v1/claims", body, headers=headers)
    assert first.status == again.status == 201
    assert again.json()["id"] == first.json()["id"]
    assert len(stored_items(merchant.merchant_id)) == 2  # one claim + its external-id marker

    changed = merchant.call("POST", "/v1/claims", {**body, "description": "Otra cosa"}, headers=headers)
    assert changed.status == 409
    assert changed.json()["error"]["code"] == "idempotency_conflict"


def test_a_duplicate_external_id_is_a_conflict_that_changes_nothing(merchant: MerchantClient):
    body = claim_body(email="first@example.com")
    first = merchant.call("POST", "/v1/claims", body)
    assert first.status == 201
    again = claim_body(email="changed@example.com", external_id=body["external_id"])
    again["debtor"]["external_id"] = body["debtor"]["external_id"]
    reply = merchant.call("POST", "/v1/claims", again)
    assert reply.status == 409
    assert reply.json()["error"] == {
        "code": "conflict",
        "message": "A claim with this external_id already exists.",
        "field": "external_id",
        "claim_id": first.json()["id"],
    }
    # The failed create wrote nothing: the debtor's contact data was not overwritten either.
    debtor = Debtor.get(merchant.merchant_id, first.json()["debtor"]["id"])
    assert debtor.email == "first@example.com"
    assert len(stored_items(merchant.merchant_id)) == 2


def test_a_create_that_fails_half_way_leaves_nothing_stored(merchant: MerchantClient, monkeypatch):
    """The store fails while the write is in flight: the caller gets a 5xx and no trace is left."""

    def lose_the_connection(self, *args, **kwargs):
        raise ConnectionError("network went away mid-write")

    monkeypatch.setattr(Connection, "transact_write_items", lose_the_connection)
    body = claim_body()
    reply = merchant.call("POST", "/v1/claims", body, headers={"Idempotency-Key": "half-way"})
    assert reply.status == 500
    assert reply.json()["error"]["code"] == "internal_error"
    assert "Traceback" not in reply.text
    assert stored_items(merchant.merchant_id) == []

    monkeypatch.undo()
    retried = merchant.call("POST", "/v1/claims", body, headers={"Idempotency-Key": "half-way"})
    assert retried.status == 201  # the failed attempt did not poison the idempotency key
    assert len(stored_items(merchant.merchant_id)) == 2


BAD_BODIES = [
    ("{not json", "invalid_json", None),
    ("[]", "validation_error", None),
    ('"claim"', "validation_error", None),
    ("", "invalid_json", None),
    ('{"a": NaN}', "invalid_json", None),
    ("[" * 5000 + "]" * 5000, "invalid_json", None),
]


@pytest.mark.parametrize(("raw", "code", "field"), BAD_BODIES)
def test_malformed_bodies_get_a_clear_400(merchant: MerchantClient, raw: str, code: str, field: str | None):
    reply = merchant.call("POST", "/v1/claims", body=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == code
    assert stored_items(merchant.merchant_id) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["installments"][0].update(amount="2500"), "installments[0].amount"),
        (lambda b: b["installments"][0].update(amount=-1), "installments[0].amount"),
        (lambda b: b["installments"][0].update(amount=2**70), "installments[0].amount"),
        (lambda b: b["installments"][0].update(due_date="2026-13-01"), "installments[0].due_date"),
        (lambda b: b.update(currency="XYZ"), "currency"),
        (lambda b: b["debtor"].update(phone="12345"), "debtor.phone"),
        (lambda b: b["debtor"].update(email="not-an-email"), "debtor.email"),
        (lambda b: b["debtor"].update(timezone="Mars/Olympus"), "debtor.timezone"),
        (lambda b: b["debtor"].update(locale="zz-ZZ-ZZ"), "debtor.locale"),
        (lambda b: b.pop("installments"), "installments"),
        (lambda b: b.pop("currency"), "currency"),
    ],
)
def test_invalid_fields_get_a_400_naming_the_field(merchant: MerchantClient, mutate, field: str):
    body = claim_body()
    mutate(body)
    reply = merchant.call("POST", "/v1/claims", body)
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] == "validation_error"
    assert reply.json()["error"]["field"] == field
    assert stored_items(merchant.merchant_id) == []


def test_a_body_over_one_megabyte_is_refused(merchant: MerchantClient):
    body = claim_body()
    body["description"] = "x" * 1_100_000
    reply = merchant.call("POST", "/v1/claims", body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "payload_too_large"


def test_a_body_that_is_not_json_media_is_refused(merchant: MerchantClient):
    reply = merchant.call(
        "POST", "/v1/claims", body="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status == 415
    assert reply.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer rk_live_not-a-real-key", "Bearer " + "a" * 5000, "Béarer x"],
)
def test_missing_or_wrong_api_keys_are_401(stack, merchant: MerchantClient, authorization):
    from tests.http import request

    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path, body in [("POST", "/v1/claims", claim_body()), ("GET", "/v1/claims/clm_x", None)]:
        reply = request(method, stack.urls["api"] + path, json_body=body, headers=headers)
        assert reply.status == 401, (authorization, reply.text)
        assert reply.json()["error"]["code"] == "unauthorized"


def test_unknown_and_other_merchants_claims_are_404(merchant: MerchantClient, other_merchant: MerchantClient):
    mine = merchant.call("POST", "/v1/claims", claim_body()).json()["id"]
    for claim_id in ["clm_doesnotexist00000000", "not-even-an-id", mine]:
        reply = other_merchant.call("GET", f"/v1/claims/{claim_id}")
        assert reply.status == 404, reply.text
        assert reply.json() == {"error": {"code": "not_found", "message": "No such claim."}}
    assert merchant.call("GET", f"/v1/claims/{mine}").status == 200


@pytest.mark.parametrize(
    "raw_description",
    ['"\\ud800 lone surrogate"', '"nul \\u0000 byte"', '"\\udfff"'],
)
def test_unicode_that_cannot_be_stored_is_a_400(merchant: MerchantClient, raw_description: str):
    body = json.dumps(claim_body()).replace('"Zapatillas Runner X"', raw_description)
    reply = merchant.call("POST", "/v1/claims", body=body, headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] in ("validation_error", "invalid_json")
    assert stored_items(merchant.merchant_id) == []


def test_real_world_unicode_round_trips(merchant: MerchantClient):
    text = "Zapatillas 👟 «Runner» — שלום — Ñandú — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — e\u0301"
    body = claim_body()
    body["description"] = text
    body["debtor"]["name"] = "Zoë Ağaoğlu-Ñúñez"
    created = merchant.call("POST", "/v1/claims", body)
    assert created.status == 201, created.text
    fetched = merchant.call("GET", f"/v1/claims/{created.json()['id']}").json()
    assert fetched["description"] == text
    assert fetched["debtor"]["name"] == "Zoë Ağaoğlu-Ñúñez"
