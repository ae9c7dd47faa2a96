"""One HTTP POST of a signed delivery: short timeout, no redirects, nothing read but the status."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from recobro import __version__
from recobro.webhooks import signature
from recobro.webhooks.urls import resolves_to_public

TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
USER_AGENT = f"Recobro-Webhooks/{__version__}"


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@functools.lru_cache(maxsize=1)
def _pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(
        retries=False,
        timeout=urllib3.Timeout(total=TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        maxsize=4,
    )


def post(url: str, body: bytes, secret: str, timestamp: int) -> AttemptResult:
    """POST `body` to `url` signed for `timestamp`; any non-2xx or transport problem is a failure."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> AttemptResult:
        return AttemptResult(status, error, int((time.monotonic() - started) * 1000))

    parts = urlsplit(url)
    if not resolves_to_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)):
        return done(None, "blocked_address")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signature.HEADER: signature.header_value(body, secret, timestamp),
    }
    try:
        response = _pool().request("POST", url, body=body, headers=headers, redirect=False, preload_content=False)
    except urllib3.exceptions.NewConnectionError:  # refused, DNS failure (a ConnectTimeoutError subclass)
        return done(None, "connection_error")
    except urllib3.exceptions.TimeoutError:
        return done(None, "timeout")
    except urllib3.exceptions.SSLError:
        return done(None, "tls_error")
    except urllib3.exceptions.HTTPError:
        return done(None, "connection_error")
    status = int(response.status)
    response.close()  # the body is never read: receivers answer with a status, not content
    return done(status, None if 200 <= status < 300 else f"http_{status}")
