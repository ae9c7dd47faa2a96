"""What the claim timeline says about a sent reminder: its variant and chance, opens, clicks, rewards.

Pure: Message items built in memory and turned into timeline entries, no engines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from recobro.claims.timeline import _message_entries
from recobro.storage.models import DecisionMap, Message

SENT_AT = datetime(2026, 10, 2, 8, 30, tzinfo=UTC)  # 10:30 in Madrid
NAME = "Reminder d+1.email for installment 1"


def _message(**fields: Any) -> Message:
    values: dict[str, Any] = {
        "claim_ref": "m-1#clm_1",
        "message_id": "msg#001#d+1.email",
        "channel": "email",
        "status": "sent",
        "created_at": SENT_AT,
        "sent_at": SENT_AT,
        "decisions": [DecisionMap(at=SENT_AT, outcome="sent", rule="thompson_sampling")],
        "variant": "firm",
        "probabilities": json.dumps({"firm": 0.62, "friendly": 0.38}),
        "stats_arm": "firm",
        "step": "d+1.email",
        **fields,
    }
    return Message(**values)


def _said(message: Message) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in _message_entries(message, "Europe/Madrid"):
        found.setdefault(entry.type, []).append(entry.summary)
    return found


def test_a_sent_reminder_names_its_variant_and_the_chance_it_was_chosen_with() -> None:
    assert _said(_message())["message.sent"] == [f"{NAME} sent by email, variant firm (chance 62%)"]
    rare = _message(variant="short", probabilities=json.dumps({"firm": 0.996, "short": 0.004}), stats_arm="short")
    assert _said(rare)["message.sent"] == [f"{NAME} sent by email, variant short (chance under 1%)"]
    only = _message(probabilities=json.dumps({"firm": 1.0}))
    assert _said(only)["message.sent"] == [f"{NAME} sent by email, variant firm (the only one)"]


def test_a_holdout_reminder_says_it_got_the_control() -> None:
    held = _message(variant="friendly", probabilities=json.dumps({"friendly": 1.0}), stats_arm="holdout:friendly")
    assert _said(held)["message.sent"] == [
        f"{NAME} sent by email, control variant friendly (holdout: this debtor always gets the control)"
    ]


def test_a_reminder_sent_before_variants_existed_reads_as_before() -> None:
    plain = _message(variant=None, probabilities=None, stats_arm=None, step=None)
    assert _said(plain)["message.sent"] == [f"{NAME} sent by email"]


def test_a_later_step_sent_in_the_slot_is_named() -> None:
    sms = _message(channel="sms", step="d+3.sms")
    assert _said(sms)["message.sent"] == [f"{NAME} sent by sms as step d+3.sms, variant firm (chance 62%)"]


def test_opens_clicks_and_the_reward_follow_the_send_in_plain_words() -> None:
    opened_at = SENT_AT + timedelta(hours=3)  # 13:30 Madrid, the same day
    clicked_at = SENT_AT + timedelta(days=1, hours=10)  # 20:30 Madrid, the next day
    message = _message(
        last_opened_at=opened_at,
        open_count=3,
        last_clicked_at=clicked_at,
        click_count=1,
        rewarded_at=clicked_at,
        reward_kind="click",
    )
    said = _said(message)
    assert said["message.opened"] == [f"{NAME} opened (3 times, last at 13:30 Europe/Madrid)"]
    assert said["message.clicked"] == [f"{NAME} clicked at 20:30 Europe/Madrid on 2026-10-03"]
    assert said["message.rewarded"] == [f"{NAME} counted as a success for variant firm (clicked within 3 days)"]


def test_a_payment_reward_of_a_holdout_reminder_names_the_holdout() -> None:
    paid = _message(
        variant="friendly",
        stats_arm="holdout:friendly",
        rewarded_at=SENT_AT + timedelta(days=4),
        reward_kind="payment",
    )
    (rewarded,) = [e for e in _message_entries(paid, "Europe/Madrid") if e.type == "message.rewarded"]
    assert rewarded.summary == (
        f"{NAME} counted as a success for the holdout's control variant friendly (paid within 7 days)"
    )
    assert rewarded.at.startswith("2026-10-06T08:30:00")
    assert rewarded.data["reward_kind"] == "payment" and rewarded.data["arm"] == "holdout:friendly"


def test_an_unopened_reminder_has_no_engagement_entries() -> None:
    assert set(_said(_message())) == {"message.sent"}
