"""Strategies as code over HTTP on the local stack: versions, assignment, enrolment, simulation."""

from __future__ import annotations

from typing import Any

import pytest
from recobro.channels import message_templates
from recobro.storage.models import Claim, StrategyVersion

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient

GENTLE = """\
name: gentle
description: Email before the due date, then SMS.
steps:
  - day: -3
    channel: email
    early_payment_offer: {discount_percent: 2}
    variants:
      - {template: pre_due_offer, control: true}
      - {template: pre_due_offer_short}
  - day: 2
    channel: sms
    conditions:
      channel_available: {eq: sms}
    variants:
      - {template: sms_reminder, control: true}
"""


# The merchant's own templates GENTLE's variants name (a strategy may name only templates that exist).
GENTLE_TEMPLATES = {
    ("email", "pre_due_offer"): "Hola {{ debtor_first_name }}: paga {{ amount_due }} antes y ahorra. {{ payment_url }}",
    ("email", "pre_due_offer_short"): "Paga {{ amount_due }} aquí: {{ payment_url }}",
    ("sms", "sms_reminder"): "{{ merchant_name }}: debes {{ amount_due }}. {{ payment_url }} {{ opt_out_text }}",
}


def put(merchant: MerchantClient, name: str, text: str) -> Any:
    for (channel, template), source in GENTLE_TEMPLATES.items():
        subjects = {"es": "Tu pago a {{ merchant_name }}"} if channel == "email" else None
        message_templates.save_template(merchant.merchant_id, channel, template, {"es": source}, subjects)
    return merchant.call("PUT", f"/v1/strategies/{name}", {"yaml": text})


def saved(merchant: MerchantClient, name: str, text: str) -> dict[str, Any]:
    reply = put(merchant, name, text)
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_saving_a_strategy_makes_version_1_and_reads_back(merchant: MerchantClient):
    body = saved(merchant, "gentle", GENTLE)
    assert (body["name"], body["version"], body["created"], body["built_in"]) == ("gentle", 1, True, False)
    assert [s["step"] for s in body["steps"]] == ["d-3.email", "d+2.sms"]
    assert body["steps"][0]["early_payment_offer"] == {"discount_percent": 2}
    got = merchant.call("GET", "/v1/strategies/gentle").json()
    assert got["yaml"] == GENTLE and got["version"] == 1 and got["created"] is None


def test_an_unchanged_save_makes_no_version_and_a_change_makes_the_next(merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    again = saved(merchant, "gentle", GENTLE)
    assert (again["version"], again["created"]) == (1, False)
    changed = saved(merchant, "gentle", GENTLE.replace("discount_percent: 2", "discount_percent: 3"))
    assert (changed["version"], changed["created"]) == (2, True)
    versions = merchant.call("GET", "/v1/strategies/gentle/versions").json()
    assert [v["version"] for v in versions["data"]] == [2, 1] and versions["has_more"] is False
    # version 1 is exactly what was saved first, still
    first = merchant.call("GET", "/v1/strategies/gentle?version=1").json()
    assert first["yaml"] == GENTLE
    page = merchant.call("GET", "/v1/strategies/gentle/versions?limit=1").json()
    assert [v["version"] for v in page["data"]] == [2] and page["has_more"] is True
    rest = merchant.call("GET", "/v1/strategies/gentle/versions?limit=1&starting_after=2").json()
    assert [v["version"] for v in rest["data"]] == [1] and rest["has_more"] is False


def test_a_saved_version_cannot_be_overwritten(merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    from recobro.storage.transactions import TransactionConflict, Write, commit

    forged = StrategyVersion.get(merchant.merchant_id, "gentle#000001")
    forged.document = "name: gentle\nsteps: []\n"
    with pytest.raises(TransactionConflict):
        commit([Write(forged, condition=StrategyVersion.strategy_key.does_not_exist())])
    assert merchant.call("GET", "/v1/strategies/gentle?version=1").json()["yaml"] == GENTLE


def test_bad_yaml_is_a_400_naming_line_and_column(merchant: MerchantClient):
    reply = put(
        merchant,
        "gentle",
        GENTLE.replace("channel: sms", "channel: fax").replace(
            "{template: pre_due_offer_short}", "{template: x, control: true}"
        ),
    )
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "yaml"
    assert (error["line"], error["column"]) == (9, 32)
    assert error["message"].startswith("Line 9, column 32: exactly one variant must be the control")
    assert [(e["line"], e["column"], e["pointer"]) for e in error["errors"]] == [
        (9, 32, "/steps/0/variants/1/control"),
        (11, 14, "/steps/1/channel"),
    ]
    assert merchant.call("GET", "/v1/strategies/gentle").status == 404


def test_the_name_in_the_document_must_match_the_path(merchant: MerchantClient):
    reply = put(merchant, "firm", GENTLE)
    assert reply.status == 400 and "named 'gentle'" in reply.json()["error"]["message"]


def test_another_merchants_strategy_is_not_found(merchant: MerchantClient, other_merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    for path in ("/v1/strategies/gentle", "/v1/strategies/gentle/versions", "/v1/strategies/gentle?version=1"):
        reply = other_merchant.call("GET", path)
        assert reply.status == 404, path
    assert other_merchant.call("POST", "/v1/strategies/gentle/simulate", {"synthetic": 2}).status == 404


def test_every_merchant_has_the_built_in_default_as_version_0(merchant: MerchantClient):
    default = merchant.call("GET", "/v1/strategies/default").json()
    assert (default["version"], default["built_in"], default["created_at"]) == (0, True, None)
    assert [s["step"] for s in default["steps"]] == [
        "d-3.email",
        "d+1.email",
        "d+3.sms",
        "d+7.email",
        "d+15.whatsapp",
        "d+30.email",
    ]
    versions = merchant.call("GET", "/v1/strategies/default/versions").json()["data"]
    assert [v["version"] for v in versions] == [0]


def test_claims_enrol_by_segment_and_keep_their_version_until_migrated(merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    rules = {"default_strategy": "default", "rules": [{"segment": "new-customer", "strategy": "gentle"}]}
    reply = merchant.call("PUT", "/v1/strategy_assignments", rules)
    assert reply.status == 200, reply.text
    assert merchant.call("GET", "/v1/strategy_assignments").json()["rules"] == rules["rules"]

    new_customer = claim_body()
    new_customer["metadata"] = {"segment": "new-customer"}
    enrolled = merchant.call("POST", "/v1/claims", new_customer).json()["id"]
    other = merchant.call("POST", "/v1/claims", claim_body()).json()["id"]

    def strategy_of(claim_id: str) -> tuple[str | None, int | None, str | None]:
        claim = Claim.get(merchant.merchant_id, claim_id)
        version = int(claim.strategy_version) if claim.strategy_version is not None else None
        return claim.strategy, version, claim.segment

    assert strategy_of(enrolled) == ("gentle", 1, "new-customer")
    assert strategy_of(other) == ("default", 0, "default")

    saved(merchant, "gentle", GENTLE.replace("day: 2", "day: 4"))
    assert strategy_of(enrolled)[:2] == ("gentle", 1)  # a new version does not move enrolled claims
    later = merchant.call("POST", "/v1/claims", new_customer | {"external_id": "order-later"}).json()["id"]
    assert strategy_of(later)[:2] == ("gentle", 2)

    migrated = merchant.call("POST", "/v1/strategies/gentle/migrate", {"claim_ids": [enrolled, "clm_nope"]})
    assert migrated.status == 200, migrated.text
    assert migrated.json()["migrated"] == [enrolled] and migrated.json()["not_found"] == ["clm_nope"]
    assert strategy_of(enrolled)[:2] == ("gentle", 2)
    # Its next reminder is now the new version's next step: the SMS moved from day 2 to day 4, and
    # the offer three days before the due date lapsed when the due date came.
    assert str(Claim.get(merchant.merchant_id, enrolled).next_action).endswith(":d+4.sms")


def test_assignment_rules_name_only_strategies_that_exist(merchant: MerchantClient):
    reply = merchant.call("PUT", "/v1/strategy_assignments", {"rules": [{"segment": "vip", "strategy": "ghost"}]})
    assert reply.status == 400 and reply.json()["error"]["field"] == "rules[0].strategy"


def test_simulation_over_the_merchants_own_claims(merchant: MerchantClient, other_merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    claim = merchant.call("POST", "/v1/claims", claim_body()).json()
    other_merchant.call("POST", "/v1/claims", claim_body())
    reply = merchant.call("POST", "/v1/strategies/gentle/simulate", {"claims": 10})
    assert reply.status == 200, reply.text
    result = reply.json()
    assert (result["source"], result["version"]) == ("claims", 1)
    assert [c["claim_id"] for c in result["claims"]] == [claim["id"]]  # only its own
    steps = result["claims"][0]["steps"]
    # the claim's first installment fell due 2 days ago: its backlog is one SMS now, the offer lapsed
    first = [s for s in steps if s["installment"] == 1]
    assert [(s["step"], s["outcome"]) for s in first] == [("d-3.email", "skipped"), ("d+2.sms", "send")]
    assert first[0]["reason"] == "a step before the due date is not sent once the due date has come"
    assert first[1]["send_at_local"].endswith("+01:00") or first[1]["send_at_local"].endswith("+02:00")
    second = [s for s in steps if s["installment"] == 2]
    assert second[0]["variants"] == [
        {"template": "pre_due_offer", "weight": 1, "control": True},
        {"template": "pre_due_offer_short", "weight": 1, "control": False},
    ]


def test_simulation_shows_what_a_guardrail_blocks(merchant: MerchantClient):
    saved(merchant, "gentle", GENTLE)
    claim = merchant.call("POST", "/v1/claims", claim_body()).json()
    assert merchant.call("POST", f"/v1/claims/{claim['id']}/pause", {"reason": "checking a complaint"}).status == 200
    result = merchant.call("POST", "/v1/strategies/gentle/simulate", {}).json()
    steps = result["claims"][0]["steps"]
    sent = [s for s in steps if s["outcome"] != "skipped"]
    assert sent and all(s["outcome"] == "blocked" and s["reason"] == "the claim is paused" for s in sent)


def test_simulation_over_a_synthetic_sample_is_repeatable(merchant: MerchantClient):
    body = {"synthetic": 15, "seed": 7}
    first = merchant.call("POST", "/v1/strategies/default/simulate", body).json()
    assert first["source"] == "synthetic" and len(first["claims"]) == 15
    second = merchant.call("POST", "/v1/strategies/default/simulate", body | {"claims": 2}).json()
    # the same claims (backlog steps go out "now", which moves between the two requests)
    assert [(c["claim_id"], c["facts"]) for c in second["claims"]] == [
        (c["claim_id"], c["facts"]) for c in first["claims"]
    ]
    assert sum(first["totals"].values()) == sum(len(c["steps"]) for c in first["claims"])


def test_a_merchant_that_saves_its_own_default_enrols_new_claims_under_it(merchant: MerchantClient):
    own_default = GENTLE.replace("name: gentle", "name: default")
    assert saved(merchant, "default", own_default)["version"] == 1
    claim_id = merchant.call("POST", "/v1/claims", claim_body()).json()["id"]
    claim = Claim.get(merchant.merchant_id, claim_id)
    assert (claim.strategy, claim.strategy_version) == ("default", 1)
    versions = merchant.call("GET", "/v1/strategies/default/versions").json()["data"]
    assert [(v["version"], v["built_in"]) for v in versions] == [(1, False), (0, True)]
