"""Answering one inbound message: find who wrote, do what the keyword asks, reply, record.

The sender is found through the Debtors by_phone index (a keyed hash of the number; a person
may be a debtor of several merchants). The claim answered about is the newest open claim of
those debtors, else their newest claim. STOP/BAJA/PARAR/SAIR opts every one of those debtors out
of the channel it came from and confirms; SALDO/BALANCE answers the amount due with the payment
link; AYUDA/HELP/AJUDA answers the help link; anything else is recorded on the claim's timeline
(`message.received`) for the merchant, and balance and help questions are recorded too.

A provider's redelivery of the same message (same channel and message id) is handled once
(Powertools idempotency on the idempotency table). Replies are best effort: once the state
change is committed a failed reply is logged, not retried, so nothing is recorded twice.
Unknown senders get no answer. Nothing here logs a number or a text.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from recobro import config, events, links, opt_outs, phones
from recobro.channels import sms, texts, whatsapp
from recobro.claims.service import OPEN_STATUSES, amount_due
from recobro.inbound.keywords import Intent, intent_of
from recobro.inbound.requests import InboundMessage
from recobro.merchants import cached_merchant
from recobro.storage.models import Claim, Debtor, Merchant
from recobro.storage.transactions import Write, commit

logger = Logger(child=True)

REDELIVERY_WINDOW_SECONDS = 7 * 24 * 3600
MAX_RECORDED_TEXT = 1000
REPLY_SEGMENTS = 3  # replies are short; never more than this many SMS parts


@dataclass(frozen=True)
class Outcome:
    intent: Intent
    status: str  # handled | unknown_sender | duplicate
    replied: bool = False
    claim_id: str | None = None


def debtors_with_phone(phone: str) -> list[Debtor]:
    key = phones.lookup_key(phone)
    return list(Debtor.by_phone.query(key)) if key else []


def _newest_claims(debtors: list[Debtor]) -> tuple[Claim | None, dict[str, Claim]]:
    """(the newest open claim of any of them, else their newest claim; each debtor's newest claim)."""
    newest_open: Claim | None = None
    newest_any: dict[str, Claim] = {}
    for debtor in debtors:
        for claim in Claim.by_debtor.query(debtor.debtor_id, scan_index_forward=False):
            if claim.merchant_id != debtor.merchant_id:
                continue
            newest_any.setdefault(debtor.debtor_id, claim)
            if claim.status in OPEN_STATUSES:
                if newest_open is None or str(claim.created_key) > str(newest_open.created_key):
                    newest_open = claim
                break
    if newest_open is None and newest_any:
        newest_open = max(newest_any.values(), key=lambda c: str(c.created_key))
    return newest_open, newest_any


def _variables(claim: Claim, debtor: Debtor, merchant: Merchant | None, channel: str) -> dict[str, str]:
    url = links.payment_url(
        config.pages_base_url(), claim.merchant_id, claim.claim_id, int(claim.link_version or 0), claim.debtor_id
    )
    facts = texts.MessageFacts(
        locale=debtor.locale,
        channel=channel,
        debtor_name=debtor.name,
        merchant_name=merchant.display_name if merchant else claim.merchant_id,
        amount_due=amount_due(claim),
        currency=claim.currency,
        payment_url=url,
        description=claim.description,
        support_email=merchant.support_email if merchant else "",
        support_phone=(merchant.support_phone or "") if merchant else "",
    )
    return texts.variables(facts)


def _reply(message: InboundMessage, text: str, merchant: Merchant | None) -> bool:
    to = phones.normalise(message.sender)
    if to is None:
        return False
    try:
        if message.channel == "sms":
            cap = min(int(merchant.max_sms_segments), REPLY_SEGMENTS) if merchant else REPLY_SEGMENTS
            fitted = sms.fit(text, max(cap, 1))
            if isinstance(fitted, sms.Refused):
                logger.warning("inbound reply too long", extra={"detail": fitted.detail})
                return False
            sms.send(sms.Sms(to=to, text=fitted.text))
        else:
            whatsapp.send(whatsapp.text_message(to, text, reply_to=message.provider_id))
    except Exception as error:
        logger.warning("inbound reply failed", extra={"channel": message.channel, "error": type(error).__name__})
        return False
    return True


def _record(claim: Claim, debtor_id: str, message: InboundMessage, intent: Intent) -> None:
    data: dict[str, Any] = {
        "debtor_id": debtor_id,
        "channel": message.channel,
        "intent": intent,
        "text": message.text[:MAX_RECORDED_TEXT],
        "provider_message_id": message.provider_id,
    }
    happened = [events.Event("message.received", claim.merchant_id, claim.claim_id, data)]
    commit([Write(e.to_item()) for e in happened])
    events.published(happened)


def _process(message: InboundMessage) -> Outcome:
    intent = intent_of(message.text)
    debtors = debtors_with_phone(message.sender)
    if not debtors:
        return Outcome(intent, "unknown_sender")
    claim, newest = _newest_claims(debtors)
    by_id = {d.debtor_id: d for d in debtors}
    debtor = by_id[claim.debtor_id] if claim is not None and claim.debtor_id in by_id else debtors[0]
    merchant = cached_merchant(claim.merchant_id if claim else debtor.merchant_id)
    if intent == "opt_out":
        for each in debtors:
            newest_claim = newest.get(each.debtor_id)
            opt_outs.opt_out(
                each.merchant_id,
                each.debtor_id,
                message.channel,
                newest_claim.claim_id if newest_claim else None,
                f"{message.channel}_keyword",
            )
        if claim is None:
            return Outcome(intent, "handled")
        variables = _variables(claim, debtor, merchant, message.channel)
        text = texts.render_builtin("replies", "opted_out", debtor.locale, variables)
        return Outcome(intent, "handled", _reply(message, text, merchant), claim.claim_id)
    if claim is None:
        return Outcome(intent, "handled")
    _record(claim, debtor.debtor_id, message, intent)
    if intent == "other":
        return Outcome(intent, "handled", False, claim.claim_id)
    kind = intent if claim.status in OPEN_STATUSES else "nothing_due"
    text = texts.render_builtin("replies", kind, debtor.locale, _variables(claim, debtor, merchant, message.channel))
    return Outcome(intent, "handled", _reply(message, text, merchant), claim.claim_id)


@functools.lru_cache(maxsize=1)
def _idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[channel, provider_id]", expires_after_seconds=REDELIVERY_WINDOW_SECONDS
    )


def register_lambda_context(context: Any) -> None:
    """Lets an in-progress record expire with the invocation if it dies mid-way."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        _idempotency_config().register_lambda_context(context)


@functools.lru_cache(maxsize=1)
def _once() -> Any:

    def process_once(message: dict[str, Any]) -> dict[str, Any]:
        return asdict(_process(InboundMessage(**message)))

    return idempotent_function(
        process_once,
        data_keyword_argument="message",
        persistence_store=DynamoDBPersistenceLayer(table_name=config.IDEMPOTENCY_TABLE),
        config=_idempotency_config(),
        key_prefix="inbound_message",
    )


def handle(message: InboundMessage) -> Outcome:
    """Handle one inbound message once; a redelivery gets the first outcome back and changes nothing."""
    if not message.provider_id:
        return _process(message)
    try:
        first = _once()(message=asdict(message))
    except IdempotencyAlreadyInProgressError:
        return Outcome(intent_of(message.text), "duplicate")
    return Outcome(**first)
