"""Claims through their life over HTTP: lists, bulk, holds and endings, timeline, debtors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack


def create(merchant: MerchantClient, **kwargs) -> dict:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def test_lists_are_newest_first_and_pages_never_repeat_or_skip(merchant: MerchantClient):
    ids = [create(merchant)["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        path = "/v1/claims?limit=3" + (f"&starting_after={cursor}" if cursor else "")
        page = merchant.call("GET", path).json()
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert seen == list(reversed(ids))


def test_lists_filter_by_status_external_id_and_debtor(merchant: MerchantClient):
    first = create(merchant, debtor_external_id="cust-filter")
    second = create(merchant, debtor_external_id="cust-filter")
    other = create(merchant)
    assert merchant.call("POST", f"/v1/claims/{second['id']}/pause", {"reason": "customer called"}).status == 200

    paused = merchant.call("GET", "/v1/claims?status=paused").json()["data"]
    assert [c["id"] for c in paused] == [second["id"]]
    by_ref = merchant.call("GET", f"/v1/claims?external_id={other['external_id']}").json()["data"]
    assert [c["id"] for c in by_ref] == [other["id"]]
    by_debtor = merchant.call("GET", f"/v1/claims?debtor_id={first['debtor']['id']}").json()["data"]
    assert [c["id"] for c in by_debtor] == [second["id"], first["id"]]
    mine = merchant.call("GET", "/v1/claims?debtor_external_id=cust-filter&status=open").json()["data"]
    assert [c["id"] for c in mine] == [first["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=lost",
        "created_gte=yesterday",
        "created_gte=2026-01-01T00:00:00",
        "surprise=1",
    ],
)
def test_bad_list_queries_are_4xx(merchant: MerchantClient, query: str):
    reply = merchant.call("GET", f"/v1/claims?{query}")
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] == "validation_error"


def test_an_empty_time_range_is_an_empty_list(merchant: MerchantClient):
    create(merchant)
    reply = merchant.call("GET", "/v1/claims?created_gte=2026-06-01T00:00:00Z&created_lte=2026-01-01T00:00:00Z")
    assert reply.status == 200 and reply.json()["data"] == []


def test_an_unknown_cursor_is_404_naming_it(merchant: MerchantClient):
    reply = merchant.call("GET", "/v1/claims?starting_after=clm_nope")
    assert reply.status == 404 and reply.json()["error"]["field"] == "starting_after"


def test_bulk_create_gives_a_result_per_item_and_one_bad_item_blocks_nothing(merchant: MerchantClient):
    good = [claim_body() for _ in range(4)]
    bad = claim_body()
    bad["installments"][0]["amount"] = -1
    duplicate = dict(good[0])
    reply = merchant.call("POST", "/v1/claims/bulk", {"claims": [*good[:2], bad, *good[2:], duplicate]})
    assert reply.status == 200, reply.text
    result = reply.json()
    assert (result["created"], result["failed"]) == (4, 2)
    statuses = [r["status"] for r in result["results"]]
    assert statuses == [201, 201, 400, 201, 201, 409]
    assert result["results"][2]["error"]["field"] == "claims[2].installments[0].amount"
    listed = merchant.call("GET", "/v1/claims?limit=100").json()["data"]
    assert len(listed) == 4


def test_bulk_create_refuses_more_than_500(merchant: MerchantClient):
    reply = merchant.call("POST", "/v1/claims/bulk", {"claims": [claim_body() for _ in range(501)]})
    assert reply.status == 400
    assert reply.json()["error"]["field"] == "claims"


def test_pause_and_resume_stop_and_restart_reminders(stack: Stack, merchant: MerchantClient):
    claim = create(merchant, due=[date.today() - timedelta(days=3)], amounts=[4000])
    paused = merchant.call("POST", f"/v1/claims/{claim['id']}/pause", {"reason": "talking to the customer"}).json()
    assert paused["status"] == "paused" and paused["status_reason"] == "talking to the customer"
    assert paused["next_reminder_at"] is None
    stack.fire_planner()
    stack.drain()
    assert stack.outbox(claim["id"]) == []

    resumed = merchant.call("POST", f"/v1/claims/{claim['id']}/resume")
    assert resumed.status == 200, resumed.text
    assert resumed.json()["status"] == "open" and resumed.json()["next_reminder_at"] is not None
    stack.fire_planner()
    stack.drain()
    assert len(stack.outbox(claim["id"])) == 1


@pytest.mark.parametrize(
    ("first", "then", "status_after_first"),
    [
        ("pause", "pause", "paused"),
        ("cancel", "resume", "cancelled"),
        ("cancel", "write-off", "cancelled"),
        ("write-off", "pause", "written_off"),
    ],
)
def test_disallowed_transitions_are_409_with_the_current_status(merchant, first, then, status_after_first):
    claim = create(merchant)
    assert merchant.call("POST", f"/v1/claims/{claim['id']}/{first}", {"reason": "r"}).status == 200
    reply = merchant.call("POST", f"/v1/claims/{claim['id']}/{then}", {"reason": "r"})
    assert reply.status == 409
    assert reply.json()["error"]["code"] == "invalid_status_transition"
    assert reply.json()["error"]["current_status"] == status_after_first


def test_resume_of_an_open_claim_is_409(merchant: MerchantClient):
    claim = create(merchant)
    reply = merchant.call("POST", f"/v1/claims/{claim['id']}/resume")
    assert reply.status == 409 and reply.json()["error"]["current_status"] == "open"


def test_pause_needs_a_reason(merchant: MerchantClient):
    claim = create(merchant)
    reply = merchant.call("POST", f"/v1/claims/{claim['id']}/pause", {})
    assert reply.status == 400 and reply.json()["error"]["field"] == "reason"


def test_the_timeline_tells_the_story_in_order(stack: Stack, merchant: MerchantClient):
    claim = create(merchant, due=[date.today() - timedelta(days=3)], amounts=[3000])
    stack.fire_planner()
    stack.drain()
    merchant.call(
        "POST", f"/v1/claims/{claim['id']}/payments", {"amount": 1000, "currency": "EUR", "external_reference": "t-1"}
    )
    merchant.call("POST", f"/v1/claims/{claim['id']}/pause", {"reason": "promised to pay Friday"})
    entries = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    types = [e["type"] for e in entries]
    assert types[0] == "claim.created"
    assert "message.sent" in types
    assert types.index("message.sent") < types.index("payment.succeeded") < types.index("claim.paused")
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    summaries = " | ".join(e["summary"] for e in entries)
    assert "Payment of 1000 EUR recorded (t-1)" in summaries
    assert "Collection paused (promised to pay Friday)" in summaries


def test_debtor_contact_updates_and_opt_outs(merchant: MerchantClient):
    claim = create(merchant, due=[date.today() + timedelta(days=10)])
    debtor_id = claim["debtor"]["id"]
    updated = merchant.call("PATCH", f"/v1/debtors/{debtor_id}", {"email": "nueva@example.com", "locale": "en-GB"})
    assert updated.status == 200, updated.text
    assert updated.json()["email"] == "nueva@example.com" and updated.json()["locale"] == "en-GB"
    assert merchant.call("GET", f"/v1/claims/{claim['id']}").json()["debtor"]["email"] == "nueva@example.com"

    bad = merchant.call("PATCH", f"/v1/debtors/{debtor_id}", {"phone": "12"})
    assert bad.status == 400 and bad.json()["error"]["field"] == "phone"

    opted = merchant.call("POST", f"/v1/debtors/{debtor_id}/opt-outs", {"channel": "sms"})
    assert opted.json()["opted_out_channels"] == ["sms"]
    back = merchant.call("DELETE", f"/v1/debtors/{debtor_id}/opt-outs/sms")
    assert back.status == 200 and back.json()["opted_out_channels"] == []
    assert merchant.call("POST", f"/v1/debtors/{debtor_id}/opt-outs", {"channel": "fax"}).status == 400


def test_a_timezone_change_moves_the_next_reminder(merchant: MerchantClient):
    claim = create(merchant, due=[date.today() + timedelta(days=10)], timezone="Europe/Madrid")
    before = claim["next_reminder_at"]
    reply = merchant.call("PATCH", f"/v1/claims/{claim['id']}/debtor", {"timezone": "America/Sao_Paulo"})
    assert reply.status == 200, reply.text
    after = merchant.call("GET", f"/v1/claims/{claim['id']}").json()["next_reminder_at"]
    # The default strategy's first step, three days before the due date at 10:00 local: 13:00 UTC in São Paulo.
    assert after != before and after[11:13] == "13"


def test_a_returning_customer_keeps_their_verification_and_older_claims_follow_their_timezone(
    merchant: MerchantClient,
):
    from recobro.storage.models import Debtor

    first = create(merchant, debtor_external_id="cust-back", due=[date.today() + timedelta(days=9)])
    before = Debtor.get(merchant.merchant_id, first["debtor"]["id"])
    again = claim_body(debtor_external_id="cust-back", timezone="America/New_York", email="new@example.com")
    del again["debtor"]["date_of_birth"]
    assert merchant.call("POST", "/v1/claims", again).status == 201
    after = Debtor.get(merchant.merchant_id, first["debtor"]["id"])
    assert after.date_of_birth_hash == before.date_of_birth_hash  # still verifiable by birth date
    assert after.created_at == before.created_at
    assert after.email == "new@example.com"
    older = merchant.call("GET", f"/v1/claims/{first['id']}").json()
    assert older["debtor"]["timezone"] == "America/New_York"
    assert older["next_reminder_at"][11:13] in ("14", "15")  # 10:00 in New York, in UTC
