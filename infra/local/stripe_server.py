"""Run localstripe's aiohttp app on 127.0.0.1 only, with a fresh store.

localstripe's own CLI binds `::` (every interface) and reloads a pickle from the temp folder;
this launcher binds loopback and starts from scratch so each local stack sees a clean Stripe.
It also teaches localstripe's PaymentIntent list Stripe's `created[gte|gt|lte|lt]` filter and
newest-first order, which the nightly sweep (recobro.payments.sweep) relies on.
"""

from __future__ import annotations

import argparse
import logging
import operator
from typing import Any

from aiohttp import web

_BOUNDS = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}


def _list_payment_intents_by_created() -> None:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent

    listing = PaymentIntent._api_list_all  # StripeObject's, bound to PaymentIntent

    def list_all(cls: Any, /, url: str, created: Any = None, **kwargs: Any) -> Any:
        result = listing(url, **kwargs)
        if created is not None:
            try:
                bounds = [(_BOUNDS[op], int(value)) for op, value in created.items()]
            except (AttributeError, KeyError, TypeError, ValueError):
                raise UserError(400, "Bad request") from None
            result._list = [item for item in result._list if all(check(item.created, at) for check, at in bounds)]
        result._list.sort(key=lambda item: item.created, reverse=True)
        return result

    PaymentIntent._api_list_all = classmethod(list_all)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)

    from localstripe.server import app  # imported here: it builds the app at import time

    from infra.local import stripe_js

    stripe_js.install(app)  # confirmCardPayment charges the card typed into the card element

    _list_payment_intents_by_created()

    logging.basicConfig(level=logging.INFO)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log=logging.getLogger("aiohttp.access"),
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
