"""The page's plan and payment-day actions, on top of recobro.plans.

Choosing a plan is two steps: the form (how many payments, which day of the month) opens a
SetupIntent and the card page saves the card; Stripe then sends the browser to plan/confirm,
where the plan starts only if Stripe itself says the card was saved. A missed plan offers the
same card step to update the card. Moving the payment day is one form. recobro.plans counts the
funnel and sends the receipts.
"""

from __future__ import annotations

from recobro.errors import RecobroError
from recobro.page import forms
from recobro.page.actions import _form_values, card_page
from recobro.page.context import PageContext
from recobro.page.response import Page
from recobro.plans import service as plans
from recobro.plans.schedule import DAYS_OF_MONTH


def _missed(ctx: PageContext) -> bool:
    return ctx.claim.plan is not None and ctx.claim.plan.status == "missed"


def plan_form(ctx: PageContext, error: str | None = None, status: int = 200) -> Page:
    if _missed(ctx):
        values = _form_values(ctx, update_card=True, error=error, action=ctx.url("plan"))
        return ctx.render("pages/plan.html.j2", values, status=status)
    offer = plans.plan_options(ctx.claim, ctx.merchant)
    values = _form_values(
        ctx,
        update_card=False,
        amount_due=offer.amount,
        options=[
            {"count": o.installment_count, "smallest": o.smallest_charge, "largest": o.largest_charge}
            for o in offer.options
        ],
        days=list(offer.days_of_month),
        unavailable=offer.unavailable,
        error=error,
        action=ctx.url("plan"),
    )
    return ctx.render("pages/plan.html.j2", values, status=status)


def start_plan(ctx: PageContext, form: dict[str, str]) -> Page:
    try:
        if _missed(ctx):
            setup = plans.prepare_card_update(ctx.claim)
        else:
            count = forms.whole_number(form.get("installments"), 2, 99)
            day = forms.whole_number(form.get("day_of_month"), 1, max(DAYS_OF_MONTH))
            if count is None or day is None or ctx.debtor is None:
                return plan_form(ctx, "incomplete", 400)
            setup = plans.prepare_plan(ctx.claim, ctx.debtor, count, day)
    except RecobroError:
        return plan_form(ctx, "not_possible", 400)
    return card_page(ctx, "setup", setup.client_secret, 0, ctx.url("plan/confirm"))


def confirm(ctx: PageContext, query: dict[str, str]) -> Page:
    """Stripe's redirect after saving the card: start (or resume) the plan if Stripe agrees."""
    setup_intent = query.get("setup_intent", "")
    if not setup_intent.startswith("seti_") or len(setup_intent) > 100 or not setup_intent.isascii():
        return plan_form(ctx, "card_not_saved", 400)
    merchant_id, claim_id = ctx.claim.merchant_id, ctx.claim.claim_id
    try:
        if _missed(ctx):
            plan = plans.confirm_card_update(merchant_id, claim_id, setup_intent)
        else:
            plan = plans.confirm_plan(merchant_id, claim_id, setup_intent)
    except RecobroError:
        return plan_form(ctx, "card_not_saved", 400)
    charges = [{"date": c.date, "amount": c.amount, "status": c.status} for c in plan.charges]
    values = {"charges": charges, "currency": plan.currency, "status": plan.status}
    return ctx.render("pages/plan_done.html.j2", values)


def move_date_form(ctx: PageContext, error: str | None = None, status: int = 200) -> Page:
    days = plans.payment_day_options(ctx.claim, ctx.merchant)
    limit = plans.rules_of(ctx.merchant).max_days_to_move
    values = _form_values(ctx, days=days, max_days=limit, error=error, action=ctx.url("move-date"))
    return ctx.render("pages/move_date.html.j2", values, status=status)


def move_date(ctx: PageContext, form: dict[str, str]) -> Page:
    day = forms.whole_number(form.get("day_of_month"), 1, 31)
    if day is None:
        return move_date_form(ctx, "incomplete", 400)
    try:
        moved = plans.move_payment_day(ctx.claim, day)
    except RecobroError:
        return move_date_form(ctx, "not_possible", 400)
    values = {"day_of_month": moved.day_of_month, "due_dates": [iso for _, iso in moved.due_dates]}
    return ctx.render("pages/move_date_done.html.j2", values)
