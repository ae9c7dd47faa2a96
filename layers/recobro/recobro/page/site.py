"""The page's front door: a request (token, path, cookies, query or form) in, a Page out.

Unverified visitors get the identity question on any path; verified ones the overview or the
action they asked for. Page views are counted here, once per overview or question shown.
"""

from __future__ import annotations

from collections.abc import Callable

from recobro import funnel
from recobro.page import actions, identity, plan_actions
from recobro.page.context import PageContext, load
from recobro.page.response import Page, forbidden, not_found

# GET /p/{token}/<action>: the action's form, or (with a query) where Stripe sends the browser back.
FORMS: dict[str, Callable[[PageContext], Page]] = {
    "pay": actions.pay_form,
    "plan": plan_actions.plan_form,
    "promise": actions.promise_form,
    "move-date": plan_actions.move_date_form,
    "help": actions.help_form,
    "opt-out": actions.opt_out_form,
}
RETURNS: dict[str, Callable[[PageContext, dict[str, str]], Page]] = {
    "paid": actions.paid,
    "plan/confirm": plan_actions.confirm,
}
# POST /p/{token}/<action>: the form sent.
SUBMITS: dict[str, Callable[[PageContext, dict[str, str]], Page]] = {
    "pay": actions.pay,
    "plan": plan_actions.start_plan,
    "promise": actions.promise,
    "move-date": plan_actions.move_date,
    "help": actions.ask_for_help,
    "opt-out": actions.opt_out,
}


def _depth(action: str | None) -> int:
    return 0 if not action else action.count("/") + 1


def get(token: str, action: str | None, cookie_header: str | None, query: dict[str, str]) -> Page:
    if action and action not in FORMS and action not in RETURNS:
        return not_found()
    ctx = load(token, cookie_header, _depth(action), query.get("lang"))
    if ctx is None:
        return not_found()
    if not action:
        funnel.count(ctx.claim.merchant_id, "page_view")
    if not ctx.verified:
        return identity.identity_form(ctx)
    if not action:
        return actions.overview(ctx)
    shown = RETURNS.get(action)
    return shown(ctx, query) if shown else FORMS[action](ctx)


def post(token: str, action: str, cookie_header: str | None, form: dict[str, str]) -> Page:
    if action != "verify" and action not in SUBMITS:
        return not_found()
    ctx = load(token, cookie_header, _depth(action))
    if ctx is None:
        return not_found()
    if action == "verify":
        return identity.verify(ctx, form)
    if not ctx.verified:
        return identity.identity_form(ctx)  # the session ended meanwhile: ask again, nothing done
    if not identity.csrf_ok(ctx, form):
        return forbidden(ctx.locale)
    return SUBMITS[action](ctx, form)
