"""Make localstripe's stand-in Stripe.js charge the card typed into its card element.

The stand-in's `confirmCardPayment` ignores its `payment_method.card` argument: it only opens a
"3D Secure" box and authenticates a PaymentIntent that already has a payment method, so a page
that creates the intent server-side and confirms it in the browser (Stripe's own card-element
flow, and the payment page's) gets "Bad request" for every card. localstripe cannot attach a card
to an intent from the browser either (its confirm endpoint refuses `payment_method`). This adds
one endpoint that does what Stripe does for that call (make a card PaymentMethod from the typed
details, confirm the intent with it) and wraps `confirmCardPayment` to use it; 3-D Secure cards
still go through the stand-in's own box. Cards Stripe always declines (4000 0000 0000 0002...)
decline here too: localstripe only refuses them when attached, not when charged.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

CONFIRM_PATH = "/js.stripe.com/local/payment_intents/{id}/confirm_card"  # /js.stripe.com/ needs no API key

_CONFIRM_WITH_CARD = """
;(function () {
  const standIn = Stripe;
  Stripe = function (apiKey) {
    const stripe = standIn(apiKey);
    const authenticate = stripe.confirmCardPayment;  // the stand-in's 3-D Secure box
    stripe.confirmCardPayment = async function (clientSecret, data) {
      const card = data && data.payment_method && data.payment_method.card;
      if (!card || typeof card !== 'object' || !('_inputs' in card)) {
        return authenticate(clientSecret, data);
      }
      if (!card.value) {
        return {error: {type: 'validation_error', code: 'incomplete_number',
                        message: 'Your card number is incomplete.'}};
      }
      const pi = clientSecret.match(/^(pi_\\w+)_secret_/)[1];
      const response = await fetch(
        `${LOCALSTRIPE_BASE_API}/js.stripe.com/local/payment_intents/${pi}/confirm_card`, {
          method: 'POST',
          body: JSON.stringify({
            client_secret: clientSecret,
            card: card.value.card,
            billing_details: Object.assign(
              {address: {postal_code: card.value.postal_code || null}},
              data.payment_method.billing_details || {}),
          }),
        });
      const body = await response.json().catch(() => ({}));
      if (response.status !== 200 || body.error) {
        return {error: body.error || {message: 'Bad request'}};
      }
      if (body.status === 'requires_action') {
        return authenticate(clientSecret, data);
      }
      return {paymentIntent: body};
    };
    return stripe;
  };
})();
"""


async def _confirm_card(request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import Charge, PaymentIntent, PaymentMethod
    from localstripe.server import json_response

    data: dict[str, Any] = await request.json()
    intent = PaymentIntent._api_retrieve(request.match_info["id"])
    if data.get("client_secret") != intent.client_secret:
        raise UserError(401, "Unauthorized")
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise UserError(400, "Bad request")
    card = PaymentMethod(type="card", card=data.get("card"), billing_details=data.get("billing_details"))
    intent.payment_method = card.id
    intent.latest_charge = None  # a retry after a declined card
    intent._authentication_failed = False
    if card._attaching_is_declined():
        charge = Charge(amount=intent.amount, currency=intent.currency, customer=intent.customer, source=card.id)
        charge.payment_intent = intent.id
        charge._authorized = False
        intent.latest_charge = charge
        charge._initialize_charge(intent._on_success, intent._report_failure, intent._report_async_failure)
    else:
        intent._confirm(on_failure_now=intent._report_failure)
    response: web.Response = json_response(intent._export())
    return response


@web.middleware
async def _complete_stand_in(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if request.method == "GET" and request.path == "/js.stripe.com/v3/" and isinstance(response, web.Response):
        return web.Response(text=str(response.text) + _CONFIRM_WITH_CARD, content_type="application/javascript")
    return response


def install(app: web.Application) -> None:
    """Call before the app starts (its routes and middlewares freeze then)."""
    app.middlewares.append(_complete_stand_in)
    app.router.add_post(CONFIRM_PATH, _confirm_card)
