"""The page's front door: a request (token, path, cookies, query or form) in, a Page out.

Unverified visitors get the identity question on any path; verified ones the overview or the
action they asked for. Page views are counted here, once per overview or question shown.
"""

from __future__ import annotations

from recobro import funnel
from recobro.page import actions, identity
from recobro.page.context import load
from recobro.page.response import Page, not_found


def _depth(action: str | None) -> int:
    return 0 if not action else action.count("/") + 1


def get(token: str, action: str | None, cookie_header: str | None, query: dict[str, str]) -> Page:
    ctx = load(token, cookie_header, _depth(action), query.get("lang"))
    if ctx is None:
        return not_found()
    if not action:
        funnel.count(ctx.claim.merchant_id, "page_view")
    if not ctx.verified:
        return identity.identity_form(ctx)
    return actions.overview(ctx) if not action else actions.show(ctx, action, query)


def post(token: str, action: str, cookie_header: str | None, form: dict[str, str]) -> Page:
    ctx = load(token, cookie_header, _depth(action))
    if ctx is None:
        return not_found()
    if action == "verify":
        return identity.verify(ctx, form)
    if not ctx.verified:
        return identity.identity_form(ctx)  # the session ended meanwhile: ask again, nothing done
    return actions.submit(ctx, action, form)
