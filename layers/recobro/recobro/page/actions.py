"""What a verified debtor can do on the page, each ending in a clear confirmation.

Every GET shows one small form; every POST checks the CSRF token, validates, acts through the
claims domain and answers a confirmation (or the form again with a message, status 400).
Paying goes through a Stripe PaymentIntent whose metadata names the claim; the page never
records money itself: the reconciler does when Stripe says so (ADR 0007), and the "paid" page
only reads what is recorded.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from recobro import clock, events, funnel, receipts
from recobro.claims import early_payment, lifecycle
from recobro.claims.amounts import installment_owed
from recobro.claims.help_requests import HELP_REASONS, MAX_MESSAGE_LENGTH, request_help
from recobro.claims.promises import make_promise, rules_for, state_of
from recobro.claims.service import amount_due
from recobro.errors import RecobroError
from recobro.page import forms
from recobro.page.context import PageContext
from recobro.page.identity import csrf_token
from recobro.page.response import Page, not_found
from recobro.payments import stripe_api
from recobro.storage.models import LedgerEntry, claim_ref
from recobro.storage.transactions import Write, commit

logger = Logger(child=True)

CHANNELS = ("email", "sms", "whatsapp")


# ---------------------------------------------------------------- shared bits


def _send_receipt(ctx: PageContext, kind: str, facts: dict[str, Any]) -> None:
    """Email the debtor what they just did; a failed receipt never undoes the action."""
    if ctx.debtor is None:
        return
    try:
        receipts.send_receipt(kind, ctx.claim, ctx.debtor, facts)  # type: ignore[arg-type]
    except Exception:
        logger.exception("receipt not sent", extra={"kind": kind})


def _can_pay(ctx: PageContext) -> bool:
    return amount_due(ctx.claim) > 0 and ctx.claim.status not in lifecycle.FINAL_STATUSES


def _minimum(ctx: PageContext) -> int:
    return rules_for(ctx.claim, ctx.merchant).min_amount


def _offer(ctx: PageContext) -> early_payment.Offer | None:
    """The early-payment offer a reminder made, while it stands (only while the debtor can pay)."""
    return early_payment.offer_of(ctx.claim, clock.now()) if _can_pay(ctx) else None


def _offer_values(offer: early_payment.Offer | None) -> dict[str, object] | None:
    if offer is None:
        return None
    return {
        "installment": offer.installment,
        "amount_to_pay": offer.amount_to_pay,
        "discount": offer.discount,
        "percent": offer.discount_percent,
        "due_date": offer.due_date.isoformat(),
    }


def _form_values(ctx: PageContext, **values: object) -> dict[str, object]:
    return {"csrf_token": csrf_token(ctx), "currency": ctx.claim.currency, **values}


def overview(ctx: PageContext) -> Page:
    claim = ctx.claim
    promise = claim.promise
    plan = claim.plan
    return ctx.render(
        "pages/overview.html.j2",
        {
            "description": claim.description,
            "status": claim.status,
            "amount_due": amount_due(claim),
            "amount_paid": int(claim.amount_paid),
            "currency": claim.currency,
            "installments": [
                {"number": int(i.number), "due_date": i.due_date, "amount_due": installment_owed(i)}
                for i in claim.installments
            ],
            "promise": None
            if promise is None
            else {"amount": int(promise.amount), "due_date": promise.due_date, "state": state_of(claim)},
            "plan_status": plan.status if plan is not None else None,
            "can_pay": _can_pay(ctx),
            "offer": _offer_values(_offer(ctx)),
            "actions": {name: ctx.url(name) for name in ("pay", "plan", "promise", "move-date", "help", "opt-out")},
        },
    )


# ---------------------------------------------------------------- pay


def pay_form(ctx: PageContext, error: str | None = None, amount_text: str | None = None, status: int = 200) -> Page:
    if not _can_pay(ctx):
        return overview(ctx)
    due = amount_due(ctx.claim)
    offer = _offer_values(_offer(ctx))
    values = _form_values(
        ctx,
        amount_due=due,
        minimum=_minimum(ctx),
        amount_text=amount_text,
        error=error,
        action=ctx.url("pay"),
        offer=offer,
        # Taking the offer is the default; it may be below the minimum payment.
        default_amount=offer["amount_to_pay"] if offer else due,
    )
    return ctx.render("pages/pay.html.j2", values, status=status)


def pay(ctx: PageContext, form: dict[str, str]) -> Page:
    if not _can_pay(ctx):
        return overview(ctx)
    amount = forms.amount_in_minor_units(form.get("amount"), ctx.claim.currency)
    due = amount_due(ctx.claim)
    if amount is None:
        return pay_form(ctx, "amount_invalid", form.get("amount"), 400)
    offer = _offer(ctx)
    takes_offer = offer is not None and amount == offer.amount_to_pay
    if not (_minimum(ctx) <= amount <= due or takes_offer):
        return pay_form(ctx, "amount_out_of_range", form.get("amount"), 400)
    params: dict[str, Any] = {
        "amount": amount,
        "currency": ctx.claim.currency.lower(),
        "metadata": {"merchant_id": ctx.claim.merchant_id, "claim_id": ctx.claim.claim_id},
    }
    if stripe_api.ui() == "card_element":
        params["payment_method_types"] = ["card"]
    else:
        params["automatic_payment_methods"] = {"enabled": True}
    intent = stripe_api.client().v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    funnel.count(ctx.claim.merchant_id, "payment_started")
    return card_page(ctx, "payment", str(intent.client_secret), amount, ctx.url("paid"))


def card_page(ctx: PageContext, mode: str, client_secret: str, amount: int, return_url: str) -> Page:
    """The one page with JavaScript: Stripe's card field, confirmed in the browser."""
    values = {
        "mode": mode,
        "client_secret": client_secret,
        "publishable_key": stripe_api.publishable_key(),
        "stripe_js": stripe_api.js_url(),
        "stripe_ui": stripe_api.ui(),
        "amount": amount,
        "currency": ctx.claim.currency,
        "return_url": return_url,
        "back_url": ctx.url(),
    }
    return ctx.render("pages/card.html.j2", values, stripe=True)


def paid(ctx: PageContext, query: dict[str, str]) -> Page:
    """After Stripe.js: what the ledger says about this PaymentIntent (never what the browser says)."""
    intent_id = query.get("payment_intent", "")
    if not intent_id.startswith("pi_") or len(intent_id) > 100 or not intent_id.isascii():
        return not_found(ctx.locale)
    ref = claim_ref(ctx.claim.merchant_id, ctx.claim.claim_id)
    try:
        entry = LedgerEntry.get(ref, f"payment#{intent_id}", consistent_read=True)
    except LedgerEntry.DoesNotExist:
        entry = None
    if entry is not None:
        values = {
            "state": "confirmed",
            "amount": int(entry.amount),
            "discount": int(entry.discount or 0),
            "amount_due": amount_due(ctx.claim),
        }
        return ctx.render("pages/paid.html.j2", {**values, "currency": ctx.claim.currency, "refresh_url": ""})
    try:
        intent = stripe_api.client().v1.payment_intents.retrieve(intent_id)
    except Exception:
        return not_found(ctx.locale)
    metadata: dict[str, Any] = intent.metadata.to_dict() if intent.metadata else {}
    if metadata.get("claim_id") != ctx.claim.claim_id or metadata.get("merchant_id") != ctx.claim.merchant_id:
        return not_found(ctx.locale)
    state = "processing" if intent.status in ("succeeded", "processing", "requires_capture") else "not_completed"
    values = {
        "state": state,
        "amount": int(intent.amount),
        "currency": ctx.claim.currency,
        "amount_due": amount_due(ctx.claim),
        "refresh_url": f"paid?payment_intent={intent_id}",
        "pay_url": ctx.url("pay"),
    }
    return ctx.render("pages/paid.html.j2", values)


# ---------------------------------------------------------------- promise


def promise_form(
    ctx: PageContext, error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> Page:
    if not _can_pay(ctx):
        return overview(ctx)
    rules = rules_for(ctx.claim, ctx.merchant)
    values = _form_values(
        ctx,
        earliest=rules.earliest.isoformat(),
        latest=rules.latest.isoformat(),
        minimum=rules.min_amount,
        amount_due=rules.max_amount,
        amount_text=(form or {}).get("amount"),
        date_text=(form or {}).get("date"),
        error=error,
        action=ctx.url("promise"),
    )
    return ctx.render("pages/promise.html.j2", values, status=status)


def promise(ctx: PageContext, form: dict[str, str]) -> Page:
    if not _can_pay(ctx):
        return overview(ctx)
    amount = forms.amount_in_minor_units(form.get("amount"), ctx.claim.currency)
    when = forms.iso_date(form.get("date"))
    if amount is None or when is None:
        return promise_form(ctx, "incomplete", form, 400)
    try:
        claim = make_promise(ctx.claim.merchant_id, ctx.claim.claim_id, ctx.merchant, amount, when)
    except RecobroError as error:
        return promise_form(ctx, "out_of_range" if error.status == 422 else "not_possible", form, 400)
    ctx.claim = claim
    funnel.count(claim.merchant_id, "promise_made")
    _send_receipt(ctx, "promise", {"amount": amount, "due_date": when.isoformat()})
    values = {"amount": amount, "currency": claim.currency, "due_date": when.isoformat()}
    return ctx.render("pages/promise_done.html.j2", values)


# ---------------------------------------------------------------- help


def help_form(
    ctx: PageContext, error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> Page:
    values = _form_values(
        ctx,
        reasons=HELP_REASONS,
        chosen=(form or {}).get("reason"),
        message=(form or {}).get("message", ""),
        max_length=MAX_MESSAGE_LENGTH,
        error=error,
        action=ctx.url("help"),
    )
    return ctx.render("pages/help.html.j2", values, status=status)


def ask_for_help(ctx: PageContext, form: dict[str, str]) -> Page:
    reason = form.get("reason")
    message = forms.plain_text(form.get("message"), MAX_MESSAGE_LENGTH)
    if reason not in HELP_REASONS:
        return help_form(ctx, "reason_missing", form, 400)
    if message is None:
        return help_form(ctx, "message_too_long", form, 400)
    try:
        claim = request_help(ctx.claim.merchant_id, ctx.claim.claim_id, reason, message)
    except RecobroError:
        return help_form(ctx, "not_possible", form, 400)
    ctx.claim = claim
    funnel.count(claim.merchant_id, "help_requested")
    _send_receipt(ctx, "help", {"reason": reason})
    values = {
        "reason": reason,
        "held": claim.status in lifecycle.HOLD_STATUSES,
        "hardship": reason == "cannot_pay_now",
        "actions": {name: ctx.url(name) for name in ("plan", "promise", "move-date")},
    }
    return ctx.render("pages/help_done.html.j2", values)


# ---------------------------------------------------------------- opt out


def _opted_out(ctx: PageContext) -> set[str]:
    return set(ctx.debtor.opted_out_channels or []) if ctx.debtor else set()


def opt_out_form(ctx: PageContext, error: str | None = None, status: int = 200) -> Page:
    values = _form_values(
        ctx, channels=CHANNELS, opted_out=sorted(_opted_out(ctx)), error=error, action=ctx.url("opt-out")
    )
    return ctx.render("pages/opt_out.html.j2", values, status=status)


def opt_out(ctx: PageContext, form: dict[str, str]) -> Page:
    channel = form.get("channel")
    debtor = ctx.debtor
    if channel not in CHANNELS or debtor is None:
        return opt_out_form(ctx, "channel_missing", 400)
    if channel not in _opted_out(ctx):
        debtor.opted_out_channels = _opted_out(ctx) | {channel}
        debtor.updated_at = clock.now()
        happened = [
            events.Event(
                "debtor.opted_out",
                ctx.claim.merchant_id,
                ctx.claim.claim_id,
                {"debtor_id": debtor.debtor_id, "channel": channel, "source": "payment_page"},
            )
        ]
        commit([Write(debtor), *(Write(e.to_item()) for e in happened)])
        events.published(happened)
        funnel.count(ctx.claim.merchant_id, "opted_out")
        if channel != "email":  # a confirmation by email right after leaving email would be one too many
            _send_receipt(ctx, "opt_out", {"channel": channel})
    return ctx.render("pages/opt_out_done.html.j2", {"channel": channel})
