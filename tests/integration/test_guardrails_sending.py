"""Guardrails at send time on the local stack: night, payments, opt-outs, the weekly cap, promises.

Jobs are sometimes put on the queue by hand, built from the claim as the planner saw it before a
change (the stack's queue consumers run at once, so enqueueing first would race the change): the
sender then meets a claim that changed after planning. Send instants are read from the
claim's timeline (the outbox keeps no clock time).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import boto3
from recobro import clock
from recobro.reminders.jobs import ReminderJob

from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import DOB, Browser, _csrf, verified


def _create(merchant: MerchantClient, **kwargs: Any) -> dict[str, Any]:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def _timeline(merchant: MerchantClient, claim_id: str) -> list[dict[str, Any]]:
    reply = merchant.call("GET", f"/v1/claims/{claim_id}/timeline")
    assert reply.status == 200, reply.text
    entries: list[dict[str, Any]] = reply.json()["data"]
    return entries


def _messages(entries: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["type"] == f"message.{kind}"]


def _reminders(stack: Stack, claim_id: str) -> list[dict[str, Any]]:
    return [m for m in stack.outbox(claim_id) if str(m.get("message_id") or "").startswith("msg#")]


def _enqueue(merchant: MerchantClient, claim: dict[str, Any], step: str = "d+1.email", installment: int = 1) -> None:
    """A job exactly as the planner makes it, on the real queue."""
    job = ReminderJob(
        merchant_id=merchant.merchant_id,
        claim_id=claim["id"],
        installment=installment,
        step=step,
        planned_for=claim["next_reminder_at"] or "2026-01-01T00:00:00Z",
        debtor_id=claim["debtor"]["id"],
    )
    boto3.client("sqs").send_message(QueueUrl=os.environ["MESSAGE_JOBS_QUEUE_URL"], MessageBody=job.model_dump_json())


def _local(zone: str, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_a_reminder_reaching_the_sender_at_night_goes_out_at_half_past_eight_local(
    stack: Stack, merchant: MerchantClient
):
    """14:00 UTC is 23:00 in Tokyo: the job is deferred, then sent once at 08:30 Tokyo time."""
    zone = "Asia/Tokyo"
    tokyo_today = clock.now().astimezone(ZoneInfo(zone)).date()
    claim = _create(merchant, due=[tokyo_today - timedelta(days=2)], amounts=[1200], timezone=zone)
    morning = _local(zone, tokyo_today + timedelta(days=1), time(8, 30))
    # The planner already agrees: the claim's next reminder waits for the morning.
    assert claim["next_reminder_at"].startswith(morning.strftime("%Y-%m-%dT%H:%M"))
    stack.fire_planner()
    stack.drain()
    assert _messages(_timeline(merchant, claim["id"]), "planned") == []

    _enqueue(merchant, claim)  # as if a job planned before 21:00 reached the sender late
    stack.drain()
    assert _reminders(stack, claim["id"]) == []
    (deferred,) = _messages(_timeline(merchant, claim["id"]), "deferred")
    assert deferred["summary"] == (
        f"Reminder d+1.email for installment 1 deferred to 08:30 {zone} on {morning.astimezone(ZoneInfo(zone)).date()}:"
        " outside contact hours"
    )
    assert deferred["data"]["rule"] == "outside_window"

    clock.travel_to(morning)
    stack.fire_planner()
    stack.drain()
    stack.fire_planner()
    stack.drain()
    assert len(_reminders(stack, claim["id"])) == 1
    (sent,) = _messages(_timeline(merchant, claim["id"]), "sent")
    assert morning <= datetime.fromisoformat(sent["at"].replace("Z", "+00:00")) < morning + timedelta(minutes=5)
    _enqueue(merchant, claim)  # a late duplicate of the deferred job: still one email
    stack.drain()
    assert len(_reminders(stack, claim["id"])) == 1


def test_the_planner_defers_a_claim_due_outside_the_merchants_narrower_window(stack: Stack, merchant: MerchantClient):
    zone = "Europe/Madrid"
    reply = merchant.call("PATCH", "/v1/settings", {"contact_window": {"start": "10:00", "end": "18:00"}})
    assert reply.status == 200, reply.text
    today = clock.now().date()
    clock.travel_to(_local(zone, today, time(19, 30)))  # inside 08:00-21:00, outside 10:00-18:00
    claim = _create(merchant, due=[today - timedelta(days=2)], amounts=[900], timezone=zone)
    assert stack.fire_planner()["deferred"] >= 1
    stack.drain()
    assert _reminders(stack, claim["id"]) == []
    (deferred,) = _messages(_timeline(merchant, claim["id"]), "deferred")
    tomorrow = today + timedelta(days=1)
    assert f"deferred to 10:00 {zone} on {tomorrow}: outside contact hours" in deferred["summary"]

    assert _messages(_timeline(merchant, claim["id"]), "planned") == []  # not enqueued

    clock.travel_to(_local(zone, tomorrow, time(10, 0)))
    assert stack.fire_planner()["enqueued"] >= 1
    stack.drain()
    assert len(_reminders(stack, claim["id"])) == 1


def test_a_claim_paid_between_planning_and_sending_is_not_sent(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[1500])
    body = {"amount": 1500, "currency": "EUR", "external_reference": "bank-g1", "paid_at": "2026-11-20T10:00:00Z"}
    assert merchant.call("POST", f"/v1/claims/{claim['id']}/payments", body).status == 201
    _enqueue(merchant, claim)  # the job planned from the claim as it was before the payment
    stack.drain()
    assert _reminders(stack, claim["id"]) == []
    (blocked,) = _messages(_timeline(merchant, claim["id"]), "blocked")
    assert blocked["summary"] == "Reminder d+1.email for installment 1 blocked: the claim is paid"
    assert blocked["data"]["rule"] == "claim_paid"


def test_an_opted_out_channel_is_blocked_with_its_rule_on_the_timeline(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[800])
    reply = merchant.call("POST", f"/v1/debtors/{claim['debtor']['id']}/opt-outs", {"channel": "email"})
    assert reply.status in (200, 201), reply.text
    assert stack.fire_planner()["enqueued"] >= 1
    stack.drain()
    assert _reminders(stack, claim["id"]) == []
    entries = _timeline(merchant, claim["id"])
    (blocked,) = _messages(entries, "blocked")
    assert blocked["summary"] == "Reminder d+1.email for installment 1 blocked: the debtor opted out of email"
    assert blocked["data"]["rule"] == "opted_out"
    (planned,) = _messages(entries, "planned")  # the decision log has the planning too
    assert planned["summary"].startswith("Reminder d+1.email for installment 1 planned for ")


def test_the_weekly_cap_holds_with_many_due_steps(stack: Stack, merchant: MerchantClient):
    """Five installments falling due on consecutive days, a merchant cap of 2 a week: ten days of
    daily planner runs never put a third reminder within 168 hours, and nothing stalls."""
    assert merchant.call("PATCH", "/v1/settings", {"max_contacts_per_week": 2}).status == 200
    today = date.today()
    claim = _create(merchant, due=[today + timedelta(days=n - 1) for n in range(5)], amounts=[1000] * 5)
    for day in range(10):
        clock.travel_to(datetime.combine(today + timedelta(days=day), time(14, 0), tzinfo=UTC))
        stack.fire_planner()
        stack.drain()
    entries = _timeline(merchant, claim["id"])
    sent = sorted(datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in _messages(entries, "sent"))
    assert len(sent) == len(_reminders(stack, claim["id"])) >= 3
    for moment in sent:
        assert len([other for other in sent if moment - timedelta(hours=168) < other <= moment]) <= 2
    deferred = _messages(entries, "deferred")
    assert deferred and all("the weekly contact limit was reached" in e["summary"] for e in deferred)
    assert any(e["data"]["rule"] == "weekly_cap" for e in deferred)


def test_a_promise_made_after_planning_blocks_the_send(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[5000])
    browser = Browser()
    page = verified(browser, claim["payment_url"], DOB)  # the debtor promises on the page
    assert page.status == 200, page.text
    link = re.search(r'<a[^>]* href="([^"]+)"[^>]* data-testid="action-promise"', page.text)
    assert link
    promise_url = urljoin(claim["payment_url"], link.group(1).replace("&amp;", "&"))
    form = browser.get(promise_url)
    action = re.search(r'<form method="post" action="([^"]*)"', form.text)
    assert action
    by = date.today() + timedelta(days=5)
    done = browser.post(
        urljoin(promise_url, action.group(1)), {"csrf_token": _csrf(form), "amount": "30,00", "date": by.isoformat()}
    )
    assert done.status == 200 and 'data-testid="promise-confirmed"' in done.text, done.text
    _enqueue(merchant, claim)  # the job planned from the claim as it was before the promise
    stack.drain()
    assert _reminders(stack, claim["id"]) == []
    (blocked,) = _messages(_timeline(merchant, claim["id"]), "blocked")
    assert blocked["data"]["rule"] == "promise_active"
    assert "blocked: the debtor promised to pay" in blocked["summary"]
