"""The bandit's memory in DynamoDB: sends and rewards per variant, each counted at most once.

One VariantStats item per (merchant, step, segment, variant) holds two counters that only ever
grow by atomic ADDs, so concurrent senders and trackers never lose an increment, and reading a
step's arms is one Query. Counting is tied to the Message item: a send is counted in the same
transaction that writes the arm onto the message (condition: no arm yet), and a reward in the
same transaction that stamps `rewarded_at` on it (condition: not stamped yet). So a redelivered
job, a double click or a payment after a click never counts twice, and a crash between the two
writes cannot happen because there is no "between".

Reward (ADR 0014): a click within 3 days of the send (the tracking function) or a payment within
7 days of it (`credit_payment`, called after a payment is recorded: by the Stripe reconciler, the
nightly sweep through it, and the merchant API's "payment made elsewhere"). Holdout sends are counted under
"holdout:<control>", which the bandit ignores: comparing that row with the arms shows the lift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from recobro import clock
from recobro.optimise import bandit
from recobro.optimise.bandit import ArmStats, Choice
from recobro.storage.models import Message, VariantStats, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

logger = Logger(child=True)

RewardKind = Literal["click", "payment"]
REWARD_WINDOWS = {"click": bandit.CLICK_REWARD_WINDOW, "payment": bandit.PAYMENT_REWARD_WINDOW}


class ClaimLike(Protocol):
    merchant_id: str
    claim_id: str


@dataclass(frozen=True)
class Engagement:
    """What strategy conditions read about the claim's latest message."""

    last_message_opened: bool
    last_message_clicked: bool


def stats_key(merchant_id: str, step: str, segment: str) -> str:
    """The VariantStats hash key of one bandit: per merchant, strategy step and segment."""
    parts = (merchant_id, str(step), segment)
    if any(not part or "#" in part for part in parts):
        raise ValueError("merchant, step and segment must be non-empty and free of '#'")
    return "#".join(parts)


def read_stats(merchant_id: str, step: str, segment: str) -> dict[str, ArmStats]:
    """Every arm of the bandit (holdout rows included, which `bandit.choose` ignores): one Query."""
    return {
        row.variant: ArmStats(int(row.sends or 0), int(row.rewards or 0))
        for row in VariantStats.query(stats_key(merchant_id, step, segment))
    }


# The sender reads a step's arms at most once a minute per container: rewards arrive days after
# their sends, so a minute-old posterior chooses as well as a fresh one, and a reminder costs no
# Query. Choices within the minute stay random (each message key seeds its own draw).
STATS_CACHE_SECONDS = 60.0
MAX_CACHED_BANDITS = 4096
_stats_cache: dict[str, tuple[float, dict[str, ArmStats]]] = {}


def cached_stats(merchant_id: str, step: str, segment: str) -> dict[str, ArmStats]:
    key = stats_key(merchant_id, step, segment)
    now = time.monotonic()
    cached = _stats_cache.get(key)
    if cached is not None and now - cached[0] < STATS_CACHE_SECONDS:
        return cached[1]
    if len(_stats_cache) >= MAX_CACHED_BANDITS:
        _stats_cache.clear()
    arms = read_stats(merchant_id, step, segment)
    _stats_cache[key] = (now, arms)
    return arms


def forget_stats() -> None:
    _stats_cache.clear()


def choose_variant(
    merchant_id: str,
    step: str,
    segment: str,
    variants: Sequence[str],
    *,
    debtor_id: str,
    message_key: str,
    holdout: float = bandit.HOLDOUT_SHARE,
    control: str | None = None,
    cached: bool = False,
) -> Choice:
    """The sender's one call: read the arms, choose; the same message_key chooses the same again."""
    stats: dict[str, ArmStats] = {}
    if len(variants) > 1:
        stats = (cached_stats if cached else read_stats)(merchant_id, step, segment)
    return bandit.choose(variants, stats, bandit.rng_for(message_key), holdout, debtor_id=debtor_id, control=control)


def send_writes(
    merchant_id: str,
    claim_id: str,
    message_id: str,
    *,
    step: str,
    segment: str,
    choice: Choice,
    debtor_id: str | None = None,
    timezone: str | None = None,
    message_actions: Sequence[Any] = (),
) -> list[Write]:
    """The two writes that count a send under its arm, for the caller's own transaction: the
    Message item (which must exist and have no arm yet) gets variant, probabilities, stats key and
    arm (plus `message_actions`), and the arm's `sends` grows by one."""
    key = stats_key(merchant_id, step, segment)
    actions: list[Any] = [
        *message_actions,
        Message.variant.set(choice.variant),
        Message.probabilities.set(json.dumps(choice.probabilities, sort_keys=True)),
        Message.stats_key.set(key),
        Message.stats_arm.set(choice.arm),
    ]
    if debtor_id:
        actions.append(Message.debtor_id.set(debtor_id))
    if timezone:
        actions.append(Message.timezone.set(timezone))
    return [
        Write(
            Message(claim_ref=claim_ref(merchant_id, claim_id), message_id=message_id),
            condition=Message.message_id.exists() & Message.stats_arm.does_not_exist(),
            actions=actions,
        ),
        Write(
            VariantStats(stats_key=key, variant=choice.arm),
            actions=[VariantStats.sends.add(1), VariantStats.updated_at.set(clock.now())],
        ),
    ]


def record_send(
    merchant_id: str,
    claim_id: str,
    message_id: str,
    *,
    step: str,
    segment: str,
    choice: Choice,
    debtor_id: str | None = None,
    timezone: str | None = None,
) -> bool:
    """Count a sent message under its arm, once; write the arm on the message for its reward.

    One transaction (`send_writes`). False when the message already had an arm (a repeated call)
    or does not exist.
    """
    writes = send_writes(
        merchant_id,
        claim_id,
        message_id,
        step=step,
        segment=segment,
        choice=choice,
        debtor_id=debtor_id,
        timezone=timezone,
    )
    try:
        commit(writes)
    except TransactionConflict:
        return False
    return True


def record_reward(message: Message, kind: RewardKind, at: datetime | None = None) -> bool:
    """Credit the message's arm with one reward if `kind` happened inside its window; once per message.

    `message` needs its keys, `sent_at`, `stats_key` and `stats_arm` (as read from the table).
    False when the message was never counted, is outside the window, or was rewarded already.
    """
    moment = at or clock.now()
    if message.stats_key is None or message.stats_arm is None or message.sent_at is None:
        return False
    if not message.sent_at <= moment <= message.sent_at + REWARD_WINDOWS[kind]:
        return False
    try:
        commit(
            [
                Write(
                    Message(claim_ref=message.claim_ref, message_id=message.message_id),
                    condition=Message.rewarded_at.does_not_exist() & Message.stats_arm.exists(),
                    actions=[Message.rewarded_at.set(moment), Message.reward_kind.set(kind)],
                ),
                Write(
                    VariantStats(stats_key=message.stats_key, variant=message.stats_arm),
                    actions=[VariantStats.rewards.add(1), VariantStats.updated_at.set(clock.now())],
                ),
            ]
        )
    except TransactionConflict:
        return False
    return True


def credit_payment(claim: ClaimLike, paid_at: datetime) -> int:
    """Reward every counted message of the claim sent in the 7 days before `paid_at`, each once.

    For whoever has just recorded a payment (once per newly recorded payment, never for a replay);
    safe to call again for the same payment (already rewarded messages are skipped). One Query
    plus one transaction per credited message. Returns how many messages were credited.
    """
    since = paid_at - bandit.PAYMENT_REWARD_WINDOW
    candidates = Message.query(
        claim_ref(claim.merchant_id, claim.claim_id),
        filter_condition=Message.stats_arm.exists()
        & Message.rewarded_at.does_not_exist()
        & Message.sent_at.between(since, paid_at),
        consistent_read=True,
    )
    return sum(1 for message in candidates if record_reward(message, "payment", paid_at))


def credit_payment_quietly(claim: ClaimLike, paid_at: datetime) -> int:
    """`credit_payment` for a caller whose payment stands whatever happens here: a failure is logged, not raised.

    A lost credit only makes the bandit a little less informed; the payment itself is recorded.
    The log names ids and the error's type only (a DynamoDB error can quote item values).
    """
    try:
        return credit_payment(claim, paid_at)
    except Exception as exc:
        logger.warning(
            "payment not credited to reminder variants",
            extra={"merchant_id": claim.merchant_id, "claim_id": claim.claim_id, "error": type(exc).__name__},
        )
        return 0


def last_message_engagement(merchant_id: str, claim_id: str) -> Engagement:
    """Whether the claim's most recently sent message was opened / clicked: one Query."""
    sent = [m for m in Message.query(claim_ref(merchant_id, claim_id)) if m.sent_at is not None]
    if not sent:
        return Engagement(False, False)
    latest = max(sent, key=lambda m: m.sent_at)
    return Engagement(latest.last_opened_at is not None, latest.last_clicked_at is not None)
