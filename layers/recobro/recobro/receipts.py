"""Receipts: the debtor's written confirmation of what they just did, by email, in their language.

A receipt answers an action of the debtor's (a payment, a plan, a promise, a request for help,
an opt-out, a new payment date) or a problem they must act on (a plan charge that failed). It is
transactional, not a collection message: it goes out even when the debtor opted out of email
reminders, and it carries no opt-out. Sent through SES like reminders (recobro.channels.email,
text + HTML parts), rendered from templates/email/receipt.* with the merchant's name and support
address, money in the claim's currency formatted for the debtor's locale.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, get_args

from aws_lambda_powertools import Logger

from recobro.channels import email as email_channel
from recobro.merchants import cached_merchant
from recobro.rendering import render
from recobro.storage.models import Claim, Debtor

logger = Logger(child=True)

ReceiptKind = Literal["payment", "plan", "promise", "help", "opt_out", "date_moved", "plan_missed"]
KINDS: tuple[str, ...] = get_args(ReceiptKind)
# What the receipts call each code, in English: the templates translate them with _().
HELP_REASON_LABELS = {
    "cannot_pay_now": "I cannot pay right now",
    "amount_wrong": "The amount is wrong",
    "already_paid": "I have already paid",
    "goods_not_received": "I did not receive what I bought",
    "other": "Something else",
}
CHANNEL_LABELS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}
HELP_REASONS = tuple(HELP_REASON_LABELS)
CHANNELS = tuple(CHANNEL_LABELS)


class BadFacts(ValueError):
    """The caller passed facts that do not fit the receipt's kind (a programming error)."""


def _amount(facts: dict[str, Any], name: str, *, positive: bool = True) -> int:
    value = facts.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        raise BadFacts(f"{name} must be an integer amount in minor units")
    return value


def _iso_date(value: Any, name: str) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise BadFacts(f"{name} must be an ISO date")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadFacts(f"{name} must be an ISO date") from None


def _one_of(facts: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = facts.get(name)
    if value not in allowed:
        raise BadFacts(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def facts_context(kind: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Check the facts of one kind of receipt and shape them for the templates."""
    if kind == "payment":
        return {
            "amount": _amount(facts, "amount"),
            "balance_after": _amount(facts, "balance_after", positive=False),
            # The early-payment discount the payment earned (recobro.claims.early_payment), if any.
            "discount": _amount(facts, "discount", positive=False) if "discount" in facts else 0,
        }
    if kind == "plan":
        charges = facts.get("charges")
        if not isinstance(charges, list | tuple) or not charges:
            raise BadFacts("charges must be a non-empty list of (ISO date, amount)")
        shaped = []
        for charge in charges:
            if not isinstance(charge, list | tuple) or len(charge) != 2:
                raise BadFacts("each charge is (ISO date, amount)")
            shaped.append({"date": _iso_date(charge[0], "charge date"), "amount": _amount({"a": charge[1]}, "a")})
        return {"charges": shaped, "total": sum(c["amount"] for c in shaped)}
    if kind == "promise":
        return {"amount": _amount(facts, "amount"), "due_date": _iso_date(facts.get("due_date"), "due_date")}
    if kind == "help":
        reason = _one_of(facts, "reason", HELP_REASONS)
        return {"reason": reason, "reason_label": HELP_REASON_LABELS[reason]}
    if kind == "opt_out":
        channel = _one_of(facts, "channel", CHANNELS)
        return {"channel": channel, "channel_label": CHANNEL_LABELS[channel]}
    if kind == "date_moved":
        day_of_month = facts.get("day_of_month")
        if not isinstance(day_of_month, int) or isinstance(day_of_month, bool) or not 1 <= day_of_month <= 31:
            raise BadFacts("day_of_month must be 1..31")
        due_dates = facts.get("due_dates")
        if not isinstance(due_dates, list | tuple):
            raise BadFacts("due_dates must be a list of ISO dates")
        return {"day_of_month": day_of_month, "due_dates": [_iso_date(d, "due date") for d in due_dates]}
    if kind == "plan_missed":
        link = facts.get("link")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise BadFacts("link must be the URL of the page to update the card")
        return {"link": link}
    raise BadFacts(f"unknown receipt kind {kind!r}; known: {', '.join(KINDS)}")


def compose(kind: ReceiptKind, claim: Claim, debtor: Debtor, facts: dict[str, Any]) -> email_channel.Email:
    """The receipt as an email to the debtor (who must have an address)."""
    context = facts_context(kind, facts)
    merchant = cached_merchant(claim.merchant_id)
    merchant_name = merchant.display_name if merchant else claim.merchant_id
    context.update(
        kind=kind,
        merchant_name=merchant_name,
        support_email=merchant.support_email if merchant else "",
        debtor_name=debtor.name,
        description=claim.description,
        currency=claim.currency,
    )
    return email_channel.Email(
        to=str(debtor.email),
        subject=render("email/receipt.subject.txt.j2", debtor.locale, **context).strip(),
        text=render("email/receipt.txt.j2", debtor.locale, **context),
        html=render("email/receipt.html.j2", debtor.locale, **context),
        from_name=merchant_name,
        headers={
            "X-Recobro-Claim-Id": claim.claim_id,
            "X-Recobro-Message-Id": f"receipt#{kind}",
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation replies to a receipt
        },
    )


def send_receipt(kind: ReceiptKind, claim: Claim, debtor: Debtor, facts: dict[str, Any]) -> str | None:
    """Email the debtor a receipt; return SES's message id, or None when the debtor has no email.

    Opt-outs do not apply (receipts are transactional). Raises BadFacts for facts that do not fit
    `kind`, and SES's error if sending fails (the caller decides whether that matters).
    """
    if not debtor.email:
        facts_context(kind, facts)  # still a programming error to pass bad facts
        return None
    message_id = email_channel.send(compose(kind, claim, debtor, facts))
    logger.info("receipt sent", extra={"receipt": kind, "claim_id": claim.claim_id})
    return message_id
