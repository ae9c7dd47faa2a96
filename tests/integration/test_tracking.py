"""Open pixel and click redirect through the local stack: what a reminder's recipient triggers.

Each test sends a real reminder through planner and sender (which counts it under its variant's
arm) and follows the links the email really carries: the click redirect and the open pixel.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from pynamodb.exceptions import PutError
from recobro import clock, links
from recobro.optimise import bandit, send_hour, stats, tracking
from recobro.storage.models import Claim, Debtor, Message, VariantStats, claim_ref

from tests.integration import sent_messages
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient, Stack
from tests.integration.page_client import Browser

STEP = "d+1.email"
SEGMENT = "default"


@dataclass
class Sent:
    merchant_id: str
    claim_id: str
    debtor_id: str
    message: Message
    tracked: tracking.TrackedLinks

    def message_now(self) -> Message:
        return Message.get(self.message.claim_ref, self.message.message_id, consistent_read=True)

    def arm(self) -> VariantStats:
        key = stats.stats_key(self.merchant_id, STEP, SEGMENT)
        return VariantStats.get(key, str(self.message.stats_arm), consistent_read=True)


def _send_reminder(stack: Stack, merchant: MerchantClient) -> Sent:
    reply = merchant.call("POST", "/v1/claims", claim_body(due=[date.today() - timedelta(days=2)], amounts=[2500]))
    assert reply.status == 201, reply.text
    claim_id = reply.json()["id"]
    stack.fire_planner()
    stack.drain()
    assert len(stack.outbox(claim_id)) == 1
    (message,) = Message.query(claim_ref(merchant.merchant_id, claim_id), consistent_read=True)
    assert message.status == "sent"
    claim = Claim.get(merchant.merchant_id, claim_id, consistent_read=True)
    (email,) = stack.outbox(claim_id)
    pixel = re.search(r'<img src="([^"]+/t/o/[^"]+)"', str(email["html"]))
    assert pixel is not None
    tracked = tracking.TrackedLinks(
        payment_url=next(url for url in email["links"] if "/p/" in url),
        click_url=next(url for url in email["links"] if "/t/c/" in url),
        open_pixel_url=pixel.group(1),
    )
    message = Message.get(message.claim_ref, message.message_id, consistent_read=True)
    return Sent(merchant.merchant_id, claim_id, claim.debtor_id, message, tracked)


def _tampered(url: str) -> str:
    head, token = url.rsplit("/", 1)
    index = 5
    return f"{head}/{token[:index]}{'B' if token[index] != 'B' else 'C'}{token[index + 1 :]}"


def test_an_open_and_a_click_are_recorded_once_each_and_the_click_earns_one_reward(
    stack: Stack, merchant: MerchantClient
) -> None:
    sent = _send_reminder(stack, merchant)
    assert sent.arm().sends == 1 and sent.arm().rewards == 0

    pixel = Browser().get(sent.tracked.open_pixel_url)
    assert pixel.status == 200
    assert pixel.headers["content-type"] == "image/gif"
    assert pixel.body == tracking.PIXEL_GIF
    assert "no-store" in pixel.headers["cache-control"]
    opened = sent.message_now()
    assert opened.open_count == 1 and opened.last_opened_at is not None
    assert opened.click_count is None and opened.rewarded_at is None
    hour = send_hour.local_hour(clock.now(), "Europe/Madrid")
    debtor = Debtor.get(sent.merchant_id, sent.debtor_id, consistent_read=True)
    assert debtor.engagement_hours is not None
    assert int(debtor.engagement_hours.as_dict()[send_hour.hour_key("open", hour)]) == 1
    assert stats.last_message_engagement(sent.merchant_id, sent.claim_id) == stats.Engagement(True, False)
    claim = _claim_now(sent.merchant_id, sent.claim_id)  # what strategy conditions read
    assert claim.last_message_id == sent.message.message_id
    assert claim.last_message_opened is True and claim.last_message_clicked is None

    redirect = Browser().get(sent.tracked.click_url)
    assert redirect.status == 302
    assert redirect.headers["location"] == sent.tracked.payment_url
    clicked = sent.message_now()
    assert clicked.click_count == 1 and clicked.last_clicked_at is not None
    assert clicked.reward_kind == "click" and clicked.rewarded_at is not None
    assert sent.arm().rewards == 1
    assert stats.last_message_engagement(sent.merchant_id, sent.claim_id) == stats.Engagement(True, True)
    assert _claim_now(sent.merchant_id, sent.claim_id).last_message_clicked is True

    again = Browser().get(sent.tracked.click_url)
    assert again.status == 302
    assert sent.message_now().click_count == 2
    assert sent.arm().rewards == 1  # a message earns at most one reward
    assert sent.arm().sends == 1

    page = Browser().get(redirect.headers["location"])  # the redirect opens the claim's page
    assert page.status == 200 and "Confirma que eres tú" in page.text


def test_tampered_tokens_are_refused_and_record_nothing(stack: Stack, merchant: MerchantClient) -> None:
    sent = _send_reminder(stack, merchant)
    for url in (_tampered(sent.tracked.click_url), _tampered(sent.tracked.open_pixel_url.removesuffix(".gif"))):
        reply = Browser().get(url if "/t/c/" in url else url + ".gif")
        assert reply.status == 404
        assert reply.headers["content-type"].startswith("text/plain")
        assert "location" not in reply.headers
    open_as_click = sent.tracked.open_pixel_url.replace("/t/o/", "/t/c/").removesuffix(".gif")
    assert Browser().get(open_as_click).status == 404
    assert Browser().get(sent.tracked.click_url.replace("/t/c/", "/t/o/") + ".gif").status == 404
    assert Browser().get(f"{stack.urls['tracking']}/t/c/").status == 404
    untouched = sent.message_now()
    assert untouched.open_count is None and untouched.click_count is None and untouched.rewarded_at is None
    assert sent.arm().rewards == 0


def test_the_redirect_goes_only_to_the_claims_own_page(
    stack: Stack, merchant: MerchantClient, other_merchant: MerchantClient
) -> None:
    sent = _send_reminder(stack, merchant)
    other = _send_reminder(stack, other_merchant)

    # Whatever is appended, the target comes from the signed token alone.
    for suffix in ("?next=https://evil.example/", "?url=https://evil.example/&to=//evil.example"):
        reply = Browser().get(sent.tracked.click_url + suffix)
        assert reply.status == 302
        assert reply.headers["location"] == sent.tracked.payment_url
    target = urlsplit(sent.tracked.payment_url)
    assert f"{target.scheme}://{target.netloc}" == stack.urls["pages"]
    claims = links.verify(target.path.removeprefix("/p/"))
    assert claims is not None and (claims.merchant_id, claims.claim_id) == (sent.merchant_id, sent.claim_id)

    # Another merchant's message named in a forged payload with this token's signature: refused.
    token = sent.tracked.click_url.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    forged_fields = fields.replace(sent.merchant_id, other.merchant_id).replace(sent.claim_id, other.claim_id)
    forged = base64.urlsafe_b64encode(forged_fields.encode()).rstrip(b"=").decode() + "." + signature
    assert Browser().get(f"{stack.urls['tracking']}/t/c/{forged}").status == 404
    assert other.message_now().click_count is None


def test_a_click_after_three_days_counts_as_engagement_but_earns_no_reward(
    stack: Stack, merchant: MerchantClient
) -> None:
    sent = _send_reminder(stack, merchant)
    clock.travel_to(clock.now() + timedelta(days=3, hours=1))
    assert Browser().get(sent.tracked.click_url).status == 302
    late = sent.message_now()
    assert late.click_count == 1 and late.rewarded_at is None
    assert sent.arm().rewards == 0


def test_a_payment_within_seven_days_credits_each_counted_send_once(stack: Stack, merchant: MerchantClient) -> None:
    sent = _send_reminder(stack, merchant)
    claim = Claim.get(sent.merchant_id, sent.claim_id)
    assert stats.credit_payment(claim, sent.message.sent_at + timedelta(days=8)) == 0  # too late
    assert stats.credit_payment(claim, sent.message.sent_at + timedelta(days=6)) == 1
    assert stats.credit_payment(claim, sent.message.sent_at + timedelta(days=6)) == 0  # again: nothing more
    assert sent.arm().rewards == 1
    assert sent.message_now().reward_kind == "payment"
    # A click afterwards changes nothing: the message has its reward.
    assert Browser().get(sent.tracked.click_url).status == 302
    assert sent.arm().rewards == 1


def test_a_send_is_counted_once(stack: Stack, merchant: MerchantClient) -> None:
    sent = _send_reminder(stack, merchant)
    choice = bandit.Choice("friendly", {"friendly": 1.0}, False, "single_variant")
    assert not stats.record_send(
        sent.merchant_id, sent.claim_id, sent.message.message_id, step=STEP, segment=SEGMENT, choice=choice
    )
    assert sent.arm().sends == 1
    assert not stats.record_send(
        sent.merchant_id, sent.claim_id, "msg#009#99", step=STEP, segment=SEGMENT, choice=choice
    )
    read = stats.read_stats(sent.merchant_id, STEP, SEGMENT)
    assert sum(arm.sends for arm in read.values()) == 1


@pytest.mark.parametrize("path", ["/t/o/nothing.gif", "/t/c/nothing", "/t/x/y", "/"])
def test_unknown_paths_are_plain_404s(stack: Stack, path: str) -> None:
    reply = Browser().get(stack.urls["tracking"] + path)
    assert reply.status == 404


def _claim_now(merchant_id: str, claim_id: str) -> Claim:
    return Claim.get(merchant_id, claim_id, consistent_read=True)


def test_engagement_flags_the_claim_only_for_its_latest_reminder(stack: Stack, merchant: MerchantClient) -> None:
    later = date.today() + timedelta(days=40)  # no planner run sends this claim anything meanwhile
    reply = merchant.call("POST", "/v1/claims", claim_body(due=[later], amounts=[2500]))
    assert reply.status == 201, reply.text
    claim_id = reply.json()["id"]
    now = clock.now()
    older = sent_messages.send(
        merchant.merchant_id,
        claim_id,
        installment=1,
        step="d-3.email",
        sent_at=now - timedelta(days=3),
        chosen=sent_messages.choice("friendly"),
    )
    latest = sent_messages.send(
        merchant.merchant_id,
        claim_id,
        installment=1,
        step="d-1.email",
        sent_at=now - timedelta(hours=2),
        chosen=sent_messages.choice("firm"),
    )
    assert _claim_now(merchant.merchant_id, claim_id).last_message_id == latest.message_id

    older_links = older.links(stack.urls["tracking"])
    assert Browser().get(older_links.open_pixel_url).status == 200
    assert Browser().get(older_links.click_url).status == 302
    assert older.message().click_count == 1  # recorded on its own message ...
    claim = _claim_now(merchant.merchant_id, claim_id)
    assert claim.last_message_opened is None and claim.last_message_clicked is None  # ... not on the claim

    stale = _claim_now(merchant.merchant_id, claim_id)  # a writer's copy from before the open
    latest_links = latest.links(stack.urls["tracking"])
    assert Browser().get(latest_links.open_pixel_url).status == 200
    claim = _claim_now(merchant.merchant_id, claim_id)
    assert claim.last_message_opened is True and claim.last_message_clicked is None
    assert int(claim.version) == int(stale.version) + 1
    stale.description = "a concurrent full-item write"
    with pytest.raises(PutError):
        stale.save()  # under its old version: it re-reads instead of dropping the flag
    assert _claim_now(merchant.merchant_id, claim_id).last_message_opened is True

    assert Browser().get(latest_links.click_url).status == 302
    claim = _claim_now(merchant.merchant_id, claim_id)
    assert claim.last_message_opened is True and claim.last_message_clicked is True


def test_a_click_marks_the_latest_reminder_opened_too(stack: Stack, merchant: MerchantClient) -> None:
    later = date.today() + timedelta(days=40)
    reply = merchant.call("POST", "/v1/claims", claim_body(due=[later], amounts=[2500]))
    assert reply.status == 201, reply.text
    claim_id = reply.json()["id"]
    latest = sent_messages.send(
        merchant.merchant_id,
        claim_id,
        installment=1,
        step="d-1.email",
        sent_at=clock.now() - timedelta(hours=2),
        chosen=sent_messages.choice("firm"),
    )
    assert Browser().get(latest.links(stack.urls["tracking"]).click_url).status == 302  # images blocked: no open
    claim = _claim_now(merchant.merchant_id, claim_id)
    assert claim.last_message_opened is True and claim.last_message_clicked is True


def test_a_debtor_who_clicks_in_the_evening_gets_the_steps_without_an_hour_in_the_evening(
    stack: Stack, merchant: MerchantClient
) -> None:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    from recobro.claims.service import upcoming_reminder

    sent = _send_reminder(stack, merchant)
    madrid = ZoneInfo("Europe/Madrid")
    evening = datetime.combine(clock.now().astimezone(madrid).date(), time(19, 10), tzinfo=madrid)
    clock.travel_to(evening)
    assert Browser().get(sent.tracked.click_url).status == 302

    claim = Claim.get(sent.merchant_id, sent.claim_id, consistent_read=True)
    assert claim.send_time == "19:00"
    # The default strategy's +3 SMS states 12:00 and keeps it; the +7 email states no hour.
    due = date.fromisoformat(claim.installments[0].due_date)
    after_sms = datetime.combine(due + timedelta(days=3), time(12, 0), tzinfo=madrid).astimezone(UTC)
    upcoming = upcoming_reminder(claim, after_sms, after_sms)
    assert upcoming is not None and upcoming.step == "d+7.email"
    assert upcoming.at.astimezone(madrid).time() == time(19, 0)
