"""The walking skeleton's slice: an overdue claim becomes one email with a link to its page."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

from recobro import clock

from tests.http import request
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import DOB, Browser, verified


def _create(merchant: MerchantClient, **kwargs) -> dict:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def test_an_overdue_installment_becomes_exactly_one_spanish_email(stack: Stack, merchant: MerchantClient):
    today = date.today()
    claim = _create(merchant, due=[today - timedelta(days=2), today + timedelta(days=28)], amounts=[2500, 2500])

    first = stack.fire_planner()
    assert first["enqueued"] >= 1
    planned = merchant.call("GET", f"/v1/claims/{claim['id']}").json()["next_reminder_at"]
    # Moved on to its next step: firing again enqueues it no more.
    assert datetime.fromisoformat(planned.replace("Z", "+00:00")) > clock.now()
    stack.fire_planner()
    stack.drain()
    stack.fire_planner()
    stack.drain()

    emails = stack.outbox(claim["id"])
    assert len(emails) == 1
    email = emails[0]
    assert email["channel"] == "email"
    assert email["recipient"] == "lucia@example.com"
    assert "Recordatorio de pago" in email["subject"]
    assert "25,00\xa0€" in email["text"] or "25,00 €" in email["text"]
    assert "Hola, Lucía" in email["text"]
    links = [link for link in email["links"] if "/p/" in link]
    assert len(links) == 1
    assert links[0].startswith(stack.urls["pages"])

    question = request("GET", links[0])  # the link first asks who you are, in Spanish
    assert question.status == 200
    assert "Confirma que eres tú" in question.text and "Zapatillas" not in question.text
    page = verified(Browser(), links[0], DOB)
    assert page.status == 200
    assert "text/html" in page.headers["content-type"]
    assert "Tienda Demo" in page.text
    assert "Zapatillas Runner X" in page.text
    assert re.search(r"50,00(\xa0| )€", page.text)  # the whole amount still due
    assert "Importe pendiente" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_an_english_debtor_reads_english(stack: Stack, merchant: MerchantClient):
    today = date.today()
    claim = _create(merchant, due=[today - timedelta(days=2)], amounts=[1999], locale="en-GB", timezone="Europe/London")
    stack.fire_planner()
    stack.drain()
    (email,) = stack.outbox(claim["id"])
    assert "Payment reminder" in email["subject"]
    assert "€19.99" in email["text"]
    (link,) = [link for link in email["links"] if "/p/" in link]  # the reminder's link replaced the first
    assert request("GET", claim["payment_url"]).status == 404
    assert "Confirm it is you" in request("GET", link).text
    page = verified(Browser(), link, DOB)
    assert page.status == 200 and "Amount due" in page.text and "€19.99" in page.text


def test_a_claim_not_yet_due_gets_no_reminder(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant, due=[date.today() + timedelta(days=10)], amounts=[5000])
    stack.fire_planner()
    stack.drain()
    assert stack.outbox(claim["id"]) == []
    assert claim["next_reminder_at"] > clock.now().isoformat()


def test_tampered_and_unknown_links_get_a_plain_404(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant)
    url = claim["payment_url"]
    token = url.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, token + "x", "nothing", token.split(".")[0], "%00%ff", "a" * 2000]:
        page = request("GET", f"{stack.urls['pages']}/p/{bad}")
        assert page.status == 404, bad
        assert "Zapatillas" not in page.text and "Tienda Demo" not in page.text
        assert "not valid or has expired" in page.text
    assert request("GET", f"{stack.urls['pages']}/p/").status == 404
    assert request("GET", url).status == 200


def test_a_link_stops_working_when_it_expires(stack: Stack, merchant: MerchantClient):
    claim = _create(merchant)
    assert request("GET", claim["payment_url"]).status == 200
    reply = stack.control("POST", "/clock", {"now": (clock.now() + timedelta(days=31)).isoformat()})
    try:
        assert reply.status == 200, reply.text
        page = request("GET", claim["payment_url"])
        assert page.status == 404
        assert "Zapatillas" not in page.text
    finally:
        clock.reset()


def test_the_planner_finds_due_claims_without_scanning(stack: Stack, merchant: MerchantClient, monkeypatch):
    from pynamodb.connection.base import Connection

    def no_scans(*args, **kwargs):
        raise AssertionError("the planner scanned a table")

    monkeypatch.setattr(Connection, "scan", no_scans)
    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[700])
    assert stack.fire_planner()["enqueued"] >= 1
    stack.drain()
    assert len(stack.outbox(claim["id"])) == 1


def test_overlapping_planner_runs_paging_through_the_index_send_each_reminder_once(
    stack: Stack, merchant: MerchantClient, monkeypatch
):
    """Two planner runs at once, each reading the time index two claims a page: every claim is
    enqueued in SQS batches, moved on once, and its debtor gets one email."""
    from concurrent.futures import ThreadPoolExecutor

    from pynamodb.connection.base import Connection
    from recobro.reminders import planner
    from recobro.reminders.schedule import ACTION_SHARDS
    from recobro.storage.models import Claim

    index_query = Claim.by_next_action.query
    monkeypatch.setattr(Claim.by_next_action, "query", lambda *a, **kw: index_query(*a, **{**kw, "page_size": 2}))
    pages = []
    real_query = Connection.query

    def counted(self, table_name, *args, **kwargs):
        pages.append(kwargs.get("index_name"))
        return real_query(self, table_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "query", counted)
    claims = [_create(merchant, due=[date.today() - timedelta(days=2)], amounts=[600 + n]) for n in range(24)]

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: planner.plan_due_reminders(), range(2)))
    index_pages = pages.count("by_next_action")
    stack.fire_planner()
    stack.drain()

    assert index_pages > 2 * ACTION_SHARDS  # more than one page per shard and run
    assert sum(run.enqueued for run in runs) >= len(claims)
    for claim in claims:
        assert len(stack.outbox(claim["id"])) == 1, claim["id"]
        after = merchant.call("GET", f"/v1/claims/{claim['id']}").json()
        assert datetime.fromisoformat(after["next_reminder_at"].replace("Z", "+00:00")) > clock.now()


def test_a_duplicated_job_sends_one_email(stack: Stack, merchant: MerchantClient):
    """SQS may deliver a job twice, and a crashed planner may enqueue it twice: one email."""
    import os

    import boto3
    from recobro.reminders.jobs import ReminderJob

    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[900])
    job = ReminderJob(
        merchant_id=merchant.merchant_id,
        claim_id=claim["id"],
        installment=1,
        step="d+1.email",
        planned_for=claim["next_reminder_at"],
    )
    sqs = boto3.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=os.environ["MESSAGE_JOBS_QUEUE_URL"], MessageBody=job.model_dump_json())
    stack.drain()
    assert len(stack.outbox(claim["id"])) == 1


def test_a_malformed_job_goes_to_the_dead_letter_queue_and_others_still_send(stack: Stack, merchant: MerchantClient):
    import os

    import boto3

    sqs = boto3.client("sqs")
    queue_url = os.environ["MESSAGE_JOBS_QUEUE_URL"]
    dlq_arn = __import__("json").loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )["deadLetterTargetArn"]
    dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[1])["QueueUrl"]
    sqs.purge_queue(QueueUrl=dlq_url)

    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[1100])
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"not": "a job"}')
    stack.fire_planner()
    stack.drain()
    assert len(stack.outbox(claim["id"])) == 1
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ['{"not": "a job"}']


def test_a_failure_while_preparing_a_reminder_leaves_it_to_be_retried(
    stack: Stack, merchant: MerchantClient, monkeypatch
):
    """A template or secret-store hiccup before the send must not burn the reminder's one slot."""
    from recobro.rendering import render as real_render

    failures = iter([True])

    def flaky_render(*args, **kwargs):
        if next(failures, False):
            raise RuntimeError("template store unavailable")
        return real_render(*args, **kwargs)

    monkeypatch.setattr("recobro.channels.email.render", flaky_render)
    claim = _create(merchant, due=[date.today() - timedelta(days=2)], amounts=[1300])
    stack.fire_planner()
    stack.drain()
    assert len(stack.outbox(claim["id"])) == 1


def test_a_reminder_carries_one_click_unsubscribe_headers_and_link(stack: Stack, merchant: MerchantClient):
    from tests.integration.test_channels import _raw_email_headers

    address = f"lucia-{uuid.uuid4().hex[:8]}@example.com"
    claim = merchant.call("POST", "/v1/claims", claim_body(email=address)).json()
    stack.fire_planner()
    stack.drain()
    headers = _raw_email_headers(stack, address)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    assert link.startswith(stack.urls["pages"] + "/u/")
    (email,) = stack.outbox(claim["id"])
    assert link in email["links"]  # the same link is in the text for people
    done = request(
        "POST", link, body="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert done.status == 200
    debtor = merchant.call("GET", f"/v1/debtors/{claim['debtor']['id']}").json()
    assert debtor["opted_out_channels"] == ["email"]
