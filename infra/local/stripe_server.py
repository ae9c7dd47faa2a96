"""Run localstripe's aiohttp app on 127.0.0.1 only, with a fresh store.

localstripe's own CLI binds `::` (every interface) and reloads a pickle from the temp folder;
this launcher binds loopback and starts from scratch so each local stack sees a clean Stripe.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)

    from localstripe.server import app  # imported here: it builds the app at import time

    from infra.local import stripe_js

    stripe_js.install(app)  # confirmCardPayment charges the card typed into the card element

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
