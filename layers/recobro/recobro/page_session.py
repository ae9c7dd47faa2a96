"""What stands between a payment link and the claim: sessions, CSRF tokens and the lockout.

- Session: after a right identity answer the page stores a PageSession item and gives the
  browser a cookie holding only its id, signed (the claim's data never goes in the cookie). A
  session names the claim and the link version it was opened with, so a newer link ends it.
- CSRF: every form carries a token that is an HMAC of what binds the browser: the session id
  once verified, before that a random nonce in its own cookie (signed double submit).
- Lockout: wrong answers count per claim in a 15-minute window, with conditional updates; the
  fifth locks the claim's page for 15 minutes.

The signing key is derived from the link secret with a label, so it needs no secret of its own
and can never sign a link (nor a link a session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from http.cookies import SimpleCookie

from pynamodb.exceptions import DoesNotExist, UpdateError

from recobro import clock, links
from recobro.storage.models import PageSession, VerificationAttempts

SESSION_COOKIE = "recobro_session"
CSRF_COOKIE = "recobro_csrf"
COOKIE_PATH = "/p"
SESSION_LIFETIME = timedelta(minutes=30)
CSRF_COOKIE_LIFETIME = timedelta(hours=2)
ATTEMPT_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
MAX_FAILURES = 5
_SIG_BYTES = 16


def _key() -> bytes:
    return hmac.new(links._secret(), b"recobro/page-session/v1", hashlib.sha256).digest()


def _mac(message: str) -> str:
    digest = hmac.new(_key(), message.encode(), hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _signed(kind: str, value: str) -> str:
    return f"{value}.{_mac(f'{kind}|{value}')}"


def _unsigned(kind: str, text: str | None) -> str | None:
    if not text or len(text) > 200 or not text.isascii() or text.count(".") != 1:
        return None
    value, signature = text.split(".")
    if not value or not hmac.compare_digest(signature.encode(), _mac(f"{kind}|{value}").encode()):
        return None
    return value


def read_cookies(header: str | None) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except Exception:  # a malformed Cookie header counts as no cookies
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie(name: str, value: str, max_age: int) -> str:
    return f"{name}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"


# ---------------------------------------------------------------- sessions


def start_session(merchant_id: str, claim_id: str, link_version: int) -> str:
    """Store a new session and return its Set-Cookie header value."""
    now = clock.now()
    session_id = secrets.token_urlsafe(24)
    PageSession(
        pk=f"session#{session_id}",
        merchant_id=merchant_id,
        claim_id=claim_id,
        link_version=link_version,
        created_at=now,
        expires_at=int((now + SESSION_LIFETIME).timestamp()),
    ).save(condition=PageSession.pk.does_not_exist())
    return _cookie(SESSION_COOKIE, _signed("session", session_id), int(SESSION_LIFETIME.total_seconds()))


def session_id(cookies: dict[str, str]) -> str | None:
    """The session id in a genuinely signed cookie (not yet checked against the table)."""
    return _unsigned("session", cookies.get(SESSION_COOKIE))


def session_key(sid: str) -> str:
    return f"session#{sid}"


def valid_session(cookies: dict[str, str], merchant_id: str, claim_id: str, link_version: int) -> str | None:
    """The session id if the cookie names a live session for exactly this claim and link."""
    sid = session_id(cookies)
    if sid is None:
        return None
    try:
        session = PageSession.get(session_key(sid), consistent_read=True)
    except DoesNotExist:
        return None
    return sid if session_matches(session, merchant_id, claim_id, link_version) else None


def session_matches(session: PageSession | None, merchant_id: str, claim_id: str, link_version: int) -> bool:
    """A stored session is live and was opened for exactly this claim and link."""
    return not (
        session is None
        or session.merchant_id != merchant_id
        or session.claim_id != claim_id
        or int(session.link_version) != link_version
        or int(session.expires_at) <= clock.now().timestamp()
    )


# ---------------------------------------------------------------- CSRF


def csrf_nonce(cookies: dict[str, str]) -> str | None:
    return _unsigned("csrf-cookie", cookies.get(CSRF_COOKIE))


def new_csrf_cookie() -> tuple[str, str]:
    """A fresh nonce and the Set-Cookie header value that carries it."""
    nonce = secrets.token_urlsafe(18)
    return nonce, _cookie(CSRF_COOKIE, _signed("csrf-cookie", nonce), int(CSRF_COOKIE_LIFETIME.total_seconds()))


def csrf_token(binding: str, claim_id: str) -> str:
    """The hidden-field value for forms of this claim, bound to a session id or CSRF nonce."""
    return _mac(f"csrf|{binding}|{claim_id}")


def csrf_ok(binding: str | None, claim_id: str, submitted: str | None) -> bool:
    if not binding or not submitted or not submitted.isascii():
        return False
    return hmac.compare_digest(submitted.encode(), csrf_token(binding, claim_id).encode())


# ---------------------------------------------------------------- wrong answers and the lock


def attempts_key(merchant_id: str, claim_id: str) -> str:
    return f"attempts#{merchant_id}#{claim_id}"


def locked_for(merchant_id: str, claim_id: str) -> int:
    """Seconds the claim's page stays locked; 0 when it is open."""
    try:
        item = VerificationAttempts.get(attempts_key(merchant_id, claim_id), consistent_read=True)
    except DoesNotExist:
        return 0
    return lock_remaining(item)


def lock_remaining(item: VerificationAttempts | None) -> int:
    """Seconds a loaded attempts item keeps the page locked; 0 when it is open."""
    if item is None or item.locked_until is None:
        return 0
    return max(0, int(item.locked_until) - int(clock.now().timestamp()))


def record_failure(merchant_id: str, claim_id: str) -> bool:
    """Count one wrong answer; True when this one locks the page (or it was locked already)."""
    key = attempts_key(merchant_id, claim_id)
    for _ in range(5):
        now = int(clock.now().timestamp())
        window_floor = now - int(ATTEMPT_WINDOW.total_seconds())
        item = VerificationAttempts(key)
        try:
            # Within the current window (and not locked): one more failure.
            item.update(
                actions=[
                    VerificationAttempts.failures.add(1),
                    VerificationAttempts.expires_at.set(now + int((ATTEMPT_WINDOW + LOCK_DURATION).total_seconds())),
                ],
                condition=(VerificationAttempts.window_started > window_floor)
                & (VerificationAttempts.locked_until.does_not_exist() | (VerificationAttempts.locked_until <= now)),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        else:
            if int(item.failures) < MAX_FAILURES:
                return False
            locked_until = now + int(LOCK_DURATION.total_seconds())
            try:
                VerificationAttempts(key).update(
                    actions=[
                        VerificationAttempts.locked_until.set(locked_until),
                        VerificationAttempts.expires_at.set(locked_until + int(ATTEMPT_WINDOW.total_seconds())),
                    ],
                    condition=VerificationAttempts.locked_until.does_not_exist()
                    | (VerificationAttempts.locked_until <= now),
                )
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise  # another request locked it first: locked either way
            return True
        if locked_for(merchant_id, claim_id) > 0:
            return True
        # No item, or its window (and any lock) is over: start a new window with this failure.
        try:
            VerificationAttempts(key).update(
                actions=[
                    VerificationAttempts.failures.set(1),
                    VerificationAttempts.window_started.set(now),
                    VerificationAttempts.locked_until.remove(),
                    VerificationAttempts.expires_at.set(now + int((ATTEMPT_WINDOW + LOCK_DURATION).total_seconds())),
                ],
                condition=VerificationAttempts.pk.does_not_exist()
                | (VerificationAttempts.window_started <= window_floor),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue  # someone else started the window meanwhile: count in it
        return MAX_FAILURES <= 1
    raise RuntimeError("could not record a failed identity check")


def clear_failures(merchant_id: str, claim_id: str) -> None:
    VerificationAttempts(attempts_key(merchant_id, claim_id)).delete()
