"""Installment plans end to end on the local stack: localstripe saves and charges the card, its
signed webhooks reach the reconciler, and the charger runs when the test fires its schedule.

The page (the lead's) calls recobro.plans.service; these tests call it the same way, in process,
and confirm SetupIntents server-side as Stripe.js would in the browser.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from recobro import clock, funnel, links
from recobro.errors import Conflict, RecobroError, ValidationFailed
from recobro.payments.stripe_api import client
from recobro.plans import cards, charger, service
from recobro.reminders.schedule import parse_utc_iso
from recobro.storage.models import Claim, ClaimEvent, Debtor, LedgerEntry, PlanCharge, claim_ref

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack

MADRID = ZoneInfo("Europe/Madrid")


# ---------------------------------------------------------------- helpers


_created: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def no_charges_left_behind():
    """The charger serves the whole stack: a later test travelling months ahead must not find
    this test's unfinished plans due (their charges are cancelled, as a cancelled plan's are)."""
    yield
    while _created:
        merchant_id, claim_id = _created.pop()
        for charge in PlanCharge.query(claim_ref(merchant_id, claim_id), consistent_read=True):
            if charge.due_at is not None:
                charge.update(
                    actions=[
                        PlanCharge.status.set("cancelled"),
                        PlanCharge.due_at.remove(),
                        PlanCharge.charge_shard.remove(),
                    ]
                )


def create_claim(merchant: MerchantClient, amounts: list[int], due: list[date] | None = None) -> dict[str, Any]:
    reply = merchant.call("POST", "/v1/claims", claim_body(amounts=amounts, due=due))
    assert reply.status == 201, reply.text
    claim: dict[str, Any] = reply.json()
    _created.append((merchant.merchant_id, claim["id"]))
    return claim


def api_claim(merchant: MerchantClient, claim_id: str) -> dict[str, Any]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}")
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def stored(merchant: MerchantClient, claim_id: str) -> Claim:
    return Claim.get(merchant.merchant_id, claim_id, consistent_read=True)


def debtor_of(claim: Claim) -> Debtor:
    return Debtor.get(claim.merchant_id, claim.debtor_id)


def charges_of(merchant: MerchantClient, claim_id: str) -> list[PlanCharge]:
    found = PlanCharge.query(claim_ref(merchant.merchant_id, claim_id), consistent_read=True)
    return sorted(found, key=lambda c: int(c.number))


def event_types(merchant: MerchantClient, claim_id: str) -> list[str]:
    return [e.type for e in ClaimEvent.query(claim_ref(merchant.merchant_id, claim_id), consistent_read=True)]


def save_card(setup_intent_id: str, payment_method: str) -> None:
    """What Stripe.js does in the browser: confirm the SetupIntent with the debtor's card."""
    intent = client().v1.setup_intents.confirm(setup_intent_id, params={"payment_method": payment_method})
    assert intent.status == "succeeded", intent.status


def start_plan(
    merchant: MerchantClient, claim_id: str, count: int, day: int, payment_method: str = "pm_card_visa"
) -> service.PlanView:
    claim = stored(merchant, claim_id)
    setup = service.prepare_plan(claim, debtor_of(claim), count, day)
    save_card(setup.setup_intent_id, payment_method)
    return service.confirm_plan(merchant.merchant_id, claim_id, setup.setup_intent_id)


def fire_charger(stack: Stack) -> dict[str, int]:
    """One run of the charger's schedule (it serves every merchant: tests look at their own claim)."""
    reply = stack.control("POST", "/schedules/PlanChargerFunction/fire")
    assert reply.status == 200, reply.text
    result: dict[str, int] = reply.json()["result"]
    assert result["errors"] == 0, result
    return result


def statuses(merchant: MerchantClient, claim_id: str) -> list[str]:
    return [c.status for c in charges_of(merchant, claim_id)]


def travel_to_charge(merchant: MerchantClient, claim_id: str, number: int) -> None:
    charge = charges_of(merchant, claim_id)[number - 1]
    assert charge.due_at is not None
    clock.travel_to(parse_utc_iso(charge.due_at) + timedelta(minutes=1))


def wait_for_amount_paid(merchant: MerchantClient, claim_id: str, expected: int, timeout: float = 30.0) -> dict:
    """localstripe sends payment_intent.succeeded about a second after the charge; the reconciler applies it."""
    deadline = time.monotonic() + timeout
    while True:
        claim = api_claim(merchant, claim_id)
        if claim["amount_paid"] >= expected or time.monotonic() > deadline:
            assert claim["amount_paid"] == expected, claim
            return claim
        time.sleep(0.2)


def stripe_charges(claim_id: str) -> list[Any]:
    """Every PaymentIntent localstripe holds for the claim."""
    found = client().v1.payment_intents.list(params={"limit": 100})
    return [pi for pi in found.auto_paging_iter() if pi.metadata and pi.metadata.to_dict().get("claim_id") == claim_id]


def local_day(moment: datetime) -> date:
    return moment.astimezone(MADRID).date()


# ---------------------------------------------------------------- a plan, charge by charge


def test_a_plan_collects_each_charge_once_on_its_date_and_completes(stack: Stack, merchant: MerchantClient):
    claim = create_claim(merchant, [3000, 3000, 3001])
    assert claim["next_reminder_at"] is not None  # overdue: reminders are planned
    offer = service.plan_options(stored(merchant, claim["id"]), None)
    assert offer.amount == 9001 and offer.unavailable is None
    assert [o.installment_count for o in offer.options] == [2, 3, 4, 5, 6]

    setup = service.prepare_plan(stored(merchant, claim["id"]), debtor_of(stored(merchant, claim["id"])), 3, 15)
    assert [c.amount for c in setup.charges] == [3001, 3000, 3000]
    assert setup.client_secret.startswith(setup.setup_intent_id)
    assert stored(merchant, claim["id"]).plan is None and charges_of(merchant, claim["id"]) == []  # nothing stored

    save_card(setup.setup_intent_id, "pm_card_visa")
    plan = service.confirm_plan(merchant.merchant_id, claim["id"], setup.setup_intent_id)
    assert (plan.status, plan.installment_count, plan.day_of_month, plan.amount) == ("active", 3, 15, 9001)
    assert [(c.date, c.amount, c.status) for c in plan.charges] == [
        (c.date, c.amount, "scheduled") for c in setup.charges
    ]
    assert api_claim(merchant, claim["id"])["next_reminder_at"] is None  # the plan collects; no reminders
    for charge in charges_of(merchant, claim["id"]):
        due = parse_utc_iso(str(charge.due_at)).astimezone(MADRID)
        assert (due.date().isoformat(), due.hour, due.minute) == (charge.charge_date, 10, 0)

    again = service.confirm_plan(merchant.merchant_id, claim["id"], setup.setup_intent_id)
    assert again.plan_id == plan.plan_id and len(charges_of(merchant, claim["id"])) == 3
    assert event_types(merchant, claim["id"]).count("plan.started") == 1
    today = clock.now().date()
    assert funnel.days(merchant.merchant_id, today, today)[0]["plan_started"] == 1

    paid = 0
    for number, amount in enumerate([3001, 3000, 3000], start=1):
        fire_charger(stack)
        assert statuses(merchant, claim["id"])[number - 1] == "scheduled"  # not due yet
        travel_to_charge(merchant, claim["id"], number)
        assert fire_charger(stack)["charged"] >= 1
        assert statuses(merchant, claim["id"])[number - 1] == "succeeded"
        paid += amount
        after = wait_for_amount_paid(merchant, claim["id"], paid)
        assert after["amount_due"] == 9001 - paid
        fire_charger(stack)
        assert len(stripe_charges(claim["id"])) == number  # charged once

    assert after["status"] == "paid"
    final = service.get_plan(merchant.merchant_id, claim["id"])
    assert final is not None and final.status == "completed"
    assert [c.status for c in final.charges] == ["succeeded"] * 3
    ledger = list(LedgerEntry.query(claim_ref(merchant.merchant_id, claim["id"]), consistent_read=True))
    assert sorted(int(e.amount) for e in ledger) == [3000, 3000, 3001]
    assert len(stripe_charges(claim["id"])) == 3
    assert "plan.completed" in event_types(merchant, claim["id"])


def test_the_charges_metadata_names_the_claim_and_plan(stack: Stack, merchant: MerchantClient):
    claim = create_claim(merchant, [2500, 2500])
    plan = start_plan(merchant, claim["id"], 2, 3)
    travel_to_charge(merchant, claim["id"], 1)
    fire_charger(stack)
    [intent] = stripe_charges(claim["id"])
    assert intent.metadata.to_dict() == {
        "merchant_id": merchant.merchant_id,
        "claim_id": claim["id"],
        "plan_id": plan.plan_id,
        "plan_charge": "1",
    }
    assert (intent.amount, intent.currency, intent.status) == (2500, "eur", "succeeded")
    assert charges_of(merchant, claim["id"])[0].payment_intent == intent.id


# ---------------------------------------------------------------- declines, a missed plan, a new card


def test_a_declining_card_retries_then_misses_the_plan_and_a_new_card_resumes_it(
    stack: Stack, merchant: MerchantClient, monkeypatch: pytest.MonkeyPatch
):
    asked: list[str] = []
    real_notify = charger._notify_plan_missed

    def spy(claim: Claim, debtor: Debtor, link: str) -> bool:
        asked.append(link)
        return real_notify(claim, debtor, link)

    monkeypatch.setattr(charger, "_notify_plan_missed", spy)
    claim = create_claim(merchant, [2500, 2500])
    # 4000000000000341: attaches to a customer fine, declines every charge.
    plan = start_plan(merchant, claim["id"], 2, 20, payment_method="pm_card_chargeCustomerFail")
    travel_to_charge(merchant, claim["id"], 1)

    for attempt in (1, 2):
        tried_at = clock.now()
        assert fire_charger(stack)["declined"] >= 1
        charge = charges_of(merchant, claim["id"])[0]
        assert (charge.status, charge.attempts, charge.last_error) == ("retrying", attempt, "card_declined")
        assert parse_utc_iso(str(charge.due_at)) >= tried_at.replace(microsecond=0) + timedelta(days=3)
        fire_charger(stack)
        assert charges_of(merchant, claim["id"])[0].attempts == attempt  # the retry waits three days
        travel_to_charge(merchant, claim["id"], 1)

    assert fire_charger(stack)["missed"] >= 1
    charge = charges_of(merchant, claim["id"])[0]
    assert (charge.status, charge.attempts) == ("failed", 3) and charge.due_at is None
    now_missed = stored(merchant, claim["id"])
    assert now_missed.plan is not None and now_missed.plan.status == "missed"
    assert api_claim(merchant, claim["id"])["next_reminder_at"] is not None  # reminders resume
    assert "plan.missed" in event_types(merchant, claim["id"])
    # The debtor is asked for another card through a fresh link, which is the one that opens now.
    assert len(asked) == 1
    token = asked[0].rsplit("/p/", 1)[1]
    opened = links.verify(token)
    assert opened is not None and (opened.claim_id, opened.debtor_id) == (claim["id"], now_missed.debtor_id)
    assert opened.link_version == int(now_missed.link_version) >= 1
    stack.drain()
    assert any(asked[0] in item["links"] for item in stack.outbox(claim["id"]))
    stack.drain()
    assert api_claim(merchant, claim["id"])["amount_paid"] == 0

    # Nothing more is charged while the plan is missed, even when the next date comes.
    travel_to_charge(merchant, claim["id"], 2)
    fire_charger(stack)
    parked = charges_of(merchant, claim["id"])[1]
    assert parked.status == "scheduled" and parked.due_at is None
    assert [pi.status for pi in stripe_charges(claim["id"])] == ["requires_payment_method"] * 3  # the declines

    with pytest.raises(ValidationFailed) as wrong_purpose:
        service.confirm_card_update(merchant.merchant_id, claim["id"], "seti_nope")
    assert wrong_purpose.value.code == "setup_intent_invalid"
    update = service.prepare_card_update(stored(merchant, claim["id"]))
    save_card(update.setup_intent_id, "pm_card_visa")
    resumed = service.confirm_card_update(merchant.merchant_id, claim["id"], update.setup_intent_id)
    assert resumed.status == "active" and resumed.plan_id == plan.plan_id
    assert service.confirm_card_update(merchant.merchant_id, claim["id"], update.setup_intent_id).status == "active"
    assert api_claim(merchant, claim["id"])["next_reminder_at"] is None

    fire_charger(stack)  # the failed charge is due again now, and so is the parked one
    assert statuses(merchant, claim["id"]) == ["succeeded", "succeeded"]
    after = wait_for_amount_paid(merchant, claim["id"], 5000)
    assert after["status"] == "paid"
    final = service.get_plan(merchant.merchant_id, claim["id"])
    assert final is not None and final.status == "completed"


# ---------------------------------------------------------------- overlapping runs, concurrent confirms


def test_overlapping_charger_runs_charge_once(stack: Stack, merchant: MerchantClient, monkeypatch):
    claim = create_claim(merchant, [2000, 2000])
    start_plan(merchant, claim["id"], 2, 7)
    travel_to_charge(merchant, claim["id"], 1)

    both_read = threading.Barrier(2, timeout=30)
    real_due = charger.due_charges

    ref = claim_ref(merchant.merchant_id, claim["id"])

    def read_then_wait(now: datetime):
        # Both runs see this claim's due charge before either takes it.
        found = [c for c in real_due(now) if c.plan_ref == ref]
        both_read.wait()
        yield from found

    monkeypatch.setattr(charger, "due_charges", read_then_wait)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: charger.run_due_charges(), range(2)))
    mine = [r for r in runs if r.due]
    assert sum(r.charged for r in runs) == 1, [r.as_dict() for r in runs]
    assert len(mine) == 2 and sum(r.skipped for r in runs) >= 1
    wait_for_amount_paid(merchant, claim["id"], 2000)
    stack.drain()
    assert len(stripe_charges(claim["id"])) == 1
    assert api_claim(merchant, claim["id"])["amount_paid"] == 2000


def test_a_run_that_dies_holding_a_charge_leaves_it_to_the_next_run_with_the_same_key(
    stack: Stack, merchant: MerchantClient, monkeypatch: pytest.MonkeyPatch
):
    claim = create_claim(merchant, [2000, 2000])
    start_plan(merchant, claim["id"], 2, 8)
    travel_to_charge(merchant, claim["id"], 1)
    keys: list[str] = []
    real_charge = cards.charge_off_session

    def crash_first_time(**request: Any) -> cards.ChargeOutcome:
        keys.append(request["idempotency_key"])
        if len(keys) == 1:
            raise TimeoutError("the function timed out while Stripe was answering")
        return real_charge(**request)

    monkeypatch.setattr(cards, "charge_off_session", crash_first_time)
    ref = claim_ref(merchant.merchant_id, claim["id"])
    real_due = charger.due_charges
    monkeypatch.setattr(charger, "due_charges", lambda now: (c for c in real_due(now) if c.plan_ref == ref))

    assert charger.run_due_charges().errors == 1
    held = charges_of(merchant, claim["id"])[0]
    assert held.status == "processing"
    assert charger.run_due_charges().due == 0  # its lease keeps other runs off it
    clock.travel_to(parse_utc_iso(str(held.due_at)) + timedelta(seconds=1))
    assert charger.run_due_charges().charged == 1
    assert keys[0] == keys[1]  # the very same Stripe request
    assert statuses(merchant, claim["id"]) == ["succeeded", "scheduled"]
    wait_for_amount_paid(merchant, claim["id"], 2000)


def test_confirming_one_setup_twice_at_once_makes_one_plan(merchant: MerchantClient):
    claim = create_claim(merchant, [3000, 3000])
    stored_claim = stored(merchant, claim["id"])
    setup = service.prepare_plan(stored_claim, debtor_of(stored_claim), 2, 10)
    save_card(setup.setup_intent_id, "pm_card_visa")
    with ThreadPoolExecutor(max_workers=4) as pool:
        plans = list(
            pool.map(lambda _: service.confirm_plan(merchant.merchant_id, claim["id"], setup.setup_intent_id), range(4))
        )
    assert len({p.plan_id for p in plans}) == 1
    assert len(charges_of(merchant, claim["id"])) == 2
    assert event_types(merchant, claim["id"]).count("plan.started") == 1


# ---------------------------------------------------------------- refusals: nothing stored


def test_a_plan_is_confirmed_only_on_stripes_word(merchant: MerchantClient, other_merchant: MerchantClient):
    claim = create_claim(merchant, [3000, 3000])
    stored_claim = stored(merchant, claim["id"])
    setup = service.prepare_plan(stored_claim, debtor_of(stored_claim), 2, 10)
    with pytest.raises(Conflict) as unsaved:  # the browser says nothing here: Stripe has no card yet
        service.confirm_plan(merchant.merchant_id, claim["id"], setup.setup_intent_id)
    assert unsaved.value.code == "setup_incomplete"
    save_card(setup.setup_intent_id, "pm_card_visa")

    other = create_claim(other_merchant, [3000, 3000])
    for merchant_id, claim_id in ((other_merchant.merchant_id, other["id"]), (merchant.merchant_id, "clm_nope")):
        with pytest.raises(RecobroError) as refused:
            service.confirm_plan(merchant_id, claim_id, setup.setup_intent_id)
        assert refused.value.status in (400, 404)
    with pytest.raises(ValidationFailed):
        service.confirm_plan(merchant.merchant_id, claim["id"], "seti_doesnotexist")
    assert stored(merchant, claim["id"]).plan is None and charges_of(merchant, claim["id"]) == []
    assert stored(other_merchant, other["id"]).plan is None


def test_choices_outside_the_merchants_rules_are_refused(merchant: MerchantClient):
    claim = create_claim(merchant, [1200, 1200])  # 24.00: only 2 x 12.00 reaches the 10.00 minimum
    stored_claim = stored(merchant, claim["id"])
    debtor = debtor_of(stored_claim)
    for count, day, field in ((3, 10, "installment_count"), (1, 10, "installment_count"), (2, 29, "day_of_month")):
        with pytest.raises(ValidationFailed) as refused:
            service.prepare_plan(stored_claim, debtor, count, day)
        assert (refused.value.code, refused.value.field) == ("plan_outside_rules", field)
    assert [o.installment_count for o in service.plan_options(stored_claim, None).options] == [2]
    start_plan(merchant, claim["id"], 2, 10)
    with pytest.raises(Conflict) as twice:
        service.prepare_plan(stored(merchant, claim["id"]), debtor, 2, 10)
    assert twice.value.code == "plan_exists"
    assert service.plan_options(stored(merchant, claim["id"]), None).unavailable == "plan_exists"


# ---------------------------------------------------------------- moving the payment day


def _next_months_day(day: int, months_ahead: int) -> date:
    today = local_day(clock.now())
    index = today.year * 12 + today.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, day)


def test_the_payment_day_moves_within_the_merchants_limit_and_not_beyond(merchant: MerchantClient):
    due = [_next_months_day(5, 1), _next_months_day(5, 2)]
    claim = create_claim(merchant, [2500, 2500], due=due)
    before = stored(merchant, claim["id"])
    assert service.payment_day_options(before, None) == list(range(1, 16))  # 5 + 10 days at most

    with pytest.raises(ValidationFailed) as refused:
        service.move_payment_day(before, 25)  # 20 days later than agreed: beyond the default 10
    assert refused.value.status == 400 and refused.value.code == "payment_day_outside_limits"
    assert refused.value.details["max_days_to_move"] == 10
    unchanged = stored(merchant, claim["id"])
    assert [i.due_date for i in unchanged.installments] == [d.isoformat() for d in due]
    assert unchanged.version == before.version
    assert "claim.payment_day_moved" not in event_types(merchant, claim["id"])

    moved = service.move_payment_day(before, 12)
    assert moved.due_dates == [(1, _next_months_day(12, 1).isoformat()), (2, _next_months_day(12, 2).isoformat())]
    shown = api_claim(merchant, claim["id"])
    assert [i["due_date"] for i in shown["installments"]] == [d for _, d in moved.due_dates]
    assert event_types(merchant, claim["id"]).count("claim.payment_day_moved") == 1
    timeline = merchant.call("GET", f"/v1/claims/{claim['id']}/timeline").json()["data"]
    assert any(e["type"] == "claim.payment_day_moved" for e in timeline)

    reply = merchant.call("PATCH", "/v1/settings", {"plan_rules": {"max_days_to_move": 20}})
    assert reply.status == 200 and reply.json()["plan_rules"]["max_days_to_move"] == 20
    assert service.move_payment_day(stored(merchant, claim["id"]), 28).day_of_month == 28


def test_with_an_active_plan_the_plans_charges_move(stack: Stack, merchant: MerchantClient):
    claim = create_claim(merchant, [3000, 3000])
    plan = start_plan(merchant, claim["id"], 2, 5)
    installments_before = [i["due_date"] for i in api_claim(merchant, claim["id"])["installments"]]
    moved = service.move_payment_day(stored(merchant, claim["id"]), 9)
    assert moved.plan_id == plan.plan_id
    charges = charges_of(merchant, claim["id"])
    assert [c.charge_date for c in charges] == [d for _, d in moved.due_dates]
    assert all(date.fromisoformat(c.charge_date).day == 9 for c in charges)
    for charge in charges:
        due = parse_utc_iso(str(charge.due_at)).astimezone(MADRID)
        assert (due.date().isoformat(), due.hour) == (charge.charge_date, 10)
    view = service.get_plan(merchant.merchant_id, claim["id"])
    assert view is not None and view.day_of_month == 9
    assert [i["due_date"] for i in api_claim(merchant, claim["id"])["installments"]] == installments_before
    with pytest.raises(ValidationFailed):
        service.move_payment_day(stored(merchant, claim["id"]), 28)  # 19 days later
    assert [c.charge_date for c in charges_of(merchant, claim["id"])] == [d for _, d in moved.due_dates]

    # The charger follows the new dates.
    travel_to_charge(merchant, claim["id"], 1)
    assert local_day(clock.now()).day == 9
    fire_charger(stack)
    assert statuses(merchant, claim["id"]) == ["succeeded", "scheduled"]
    wait_for_amount_paid(merchant, claim["id"], 3000)
