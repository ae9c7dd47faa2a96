"""Open pixel and click redirect: signed tracking tokens, and what an open or a click records.

A tracking token names (kind, merchant, claim, message, payment-link expiry, link version, debtor)
and carries a truncated HMAC-SHA256 under a key derived from the link secret for this purpose
only, so a tracking token is never a payment link and a payment link is never a tracking token.
A click token holds no URL: the redirect target is rebuilt from its signed fields as the very
payment link the message carried (same expiry, same link version), so it can only ever lead to
that claim's own page — there is nothing to turn into an open redirect — and a newer reminder
still revokes it exactly as it revokes the link itself (ADR 0008).

Recording never stands between the debtor and the page: a token that verifies always gets its
pixel or redirect; anything failing while recording is logged (ids only) and swallowed.
An open or a click stamps the Message item (last_opened_at / last_clicked_at and a count); sets
the Claim's last_message_opened / last_message_clicked, which strategy conditions read, while the
message is still the claim's latest; counts the local hour on the Debtor item (send-hour
learning); and a click within 3 days of the send earns the message's variant its reward.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pynamodb.exceptions import PynamoDBException, UpdateError

from recobro import clock, config, guardrails, links
from recobro.merchants import cached_merchant
from recobro.optimise import send_hour, stats
from recobro.storage.models import Claim, Debtor, Message, claim_ref

logger = Logger(child=True)

Kind = Literal["o", "c"]
_SIG_BYTES = 16
_MAX_TOKEN = 400
# A 1x1 transparent GIF (GIF89a, one transparent palette entry).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass(frozen=True)
class TrackingToken:
    kind: Kind  # "o" open pixel | "c" click
    merchant_id: str
    claim_id: str
    message_id: str
    expires_at: int  # the payment link's expiry, epoch seconds
    link_version: int
    debtor_id: str | None

    def expired(self, now: datetime | None = None) -> bool:
        return (now or clock.now()).timestamp() >= self.expires_at

    def payment_url(self, pages_base_url: str | None = None) -> str:
        """The payment link the message carried, rebuilt byte for byte from the signed fields."""
        issued = datetime.fromtimestamp(self.expires_at - links.LINK_LIFETIME.total_seconds(), UTC)
        token = links.issue(self.merchant_id, self.claim_id, issued, self.link_version, self.debtor_id)
        return f"{pages_base_url or config.pages_base_url()}/p/{token}"


@dataclass(frozen=True)
class TrackedLinks:
    """What a message carries: its payment link, the same link behind a click redirect, and a pixel."""

    payment_url: str
    click_url: str
    open_pixel_url: str


@functools.lru_cache(maxsize=1)
def _key() -> bytes:
    return hmac.new(links._secret(), b"recobro/tracking-token/v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(payload: str) -> str:
    return _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest()[:_SIG_BYTES])


def issue(
    kind: Kind,
    merchant_id: str,
    claim_id: str,
    message_id: str,
    *,
    expires_at: int,
    link_version: int = 0,
    debtor_id: str | None = None,
) -> str:
    fields = [kind, merchant_id, claim_id, message_id, str(expires_at), str(link_version), debtor_id or ""]
    if any("|" in f for f in fields) or not all(fields[:4]):
        raise ValueError("tracking token fields must be non-empty and free of '|'")
    payload = _b64("|".join(fields).encode())
    return f"{payload}.{_sign(payload)}"


def verify(token: str, kind: Kind) -> TrackingToken | None:
    """The fields of a genuine token of `kind` (expired or not); None for anything else."""
    if len(token) > _MAX_TOKEN or token.count(".") != 1 or not token.isascii():
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(payload).encode()):
        return None
    try:
        parts = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")
        token_kind, merchant_id, claim_id, message_id, expires, version, debtor_id = parts
        fields = TrackingToken(
            kind,
            merchant_id,
            claim_id,
            message_id,
            int(expires),
            int(version),
            debtor_id or None,
        )
    except ValueError:
        return None
    if token_kind != kind or not (merchant_id and claim_id and message_id) or fields.link_version < 0:
        return None
    return fields


def tracked_links(
    merchant_id: str,
    claim_id: str,
    message_id: str,
    *,
    link_version: int,
    debtor_id: str | None = None,
    pages_base_url: str | None = None,
    tracking_base_url: str | None = None,
    now: datetime | None = None,
) -> TrackedLinks:
    """Issue one message's links: the payment link, and the click and open URLs that go with it.

    For the sender, in place of `links.payment_url`: the click URL redirects to exactly
    `payment_url`; the pixel goes in the HTML part only.
    """
    moment = now or clock.now()
    expires_at = int((moment + links.LINK_LIFETIME).timestamp())
    base = (tracking_base_url or config.tracking_base_url()).rstrip("/")

    def token(kind: Kind) -> str:
        return issue(
            kind,
            merchant_id,
            claim_id,
            message_id,
            expires_at=expires_at,
            link_version=link_version,
            debtor_id=debtor_id,
        )

    click = TrackingToken("c", merchant_id, claim_id, message_id, expires_at, link_version, debtor_id)
    return TrackedLinks(
        payment_url=click.payment_url(pages_base_url),
        click_url=f"{base}/t/c/{token('c')}",
        open_pixel_url=f"{base}/t/o/{token('o')}.gif",
    )


# ---------------------------------------------------------------- recording


def _stamp(token: TrackingToken, kind: Literal["open", "click"], at: datetime) -> Message | None:
    """Stamp the open or click on the message (which must exist) and return the whole item."""
    message = Message(claim_ref=claim_ref(token.merchant_id, token.claim_id), message_id=token.message_id)
    if kind == "open":
        stamp, count = Message.last_opened_at, Message.open_count
    else:
        stamp, count = Message.last_clicked_at, Message.click_count
    try:
        message.update(actions=[stamp.set(at), count.add(1)], condition=Message.message_id.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return message


def flag_claim(token: TrackingToken, kind: Literal["open", "click"]) -> bool:
    """Mark the claim's latest message opened (or clicked, which implies opened); False if it is not the latest.

    Only while the claim's last_message_id is this message: a click on an older reminder says
    nothing about the newest one. The claim's version moves too, so a writer holding an older
    copy of the claim fails its conditional save and re-reads instead of dropping the flag.
    """
    actions = [Claim.last_message_opened.set(True), Claim.version.add(1)]
    if kind == "click":
        actions.append(Claim.last_message_clicked.set(True))
    try:
        Claim._get_connection().update_item(
            token.merchant_id,
            token.claim_id,
            actions=actions,
            condition=Claim.last_message_id == token.message_id,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def count_engagement_hour(
    merchant_id: str, debtor_id: str, kind: Literal["open", "click"], hour: int
) -> dict[str, Any] | None:
    """Add one to the debtor's count of `kind` at local `hour` (Debtor.engagement_hours); the
    counts after the change, or None if it could not be counted."""
    key = send_hour.hour_key(kind, hour)
    debtor = Debtor(merchant_id=merchant_id, debtor_id=debtor_id)
    path = Debtor.engagement_hours[key]
    for _ in range(2):  # the map may be created by a concurrent first engagement in between
        try:
            debtor.update(actions=[path.set((path | 0) + 1)], condition=Debtor.engagement_hours.exists())
            return _counts(debtor)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            debtor.update(
                actions=[Debtor.engagement_hours.set({key: 1})],
                condition=Debtor.debtor_id.exists() & Debtor.engagement_hours.does_not_exist(),
            )
            return _counts(debtor)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    logger.warning("engagement hour not counted", extra={"message_kind": kind})
    return None


def _counts(debtor: Debtor) -> dict[str, Any]:
    """The engagement counts as the update returned them (PynamoDB reads ALL_NEW back into the item)."""
    stored = debtor.engagement_hours
    if stored is None:
        return {}
    return dict(stored.as_dict() if hasattr(stored, "as_dict") else stored)  # type: ignore[no-untyped-call]


def learn_send_time(token: TrackingToken, counts: dict[str, Any]) -> str | None:
    """Put the debtor's best local send time (within the merchant's window) on the claim, so the
    planner times the claim's next steps that state no hour by it; the time, or None if unchanged."""
    merchant = cached_merchant(token.merchant_id)
    window = send_hour.DEFAULT_WINDOW
    if merchant is not None:
        window = (
            guardrails.parse_clock(str(merchant.contact_window.start)),
            guardrails.parse_clock(str(merchant.contact_window.end)),
        )
    best = send_hour.best_send_time(counts, window).strftime("%H:%M")
    try:
        Claim._get_connection().update_item(
            token.merchant_id,
            token.claim_id,
            actions=[Claim.send_time.set(best), Claim.version.add(1)],
            condition=Claim.claim_id.exists() & (Claim.send_time.does_not_exist() | (Claim.send_time != best)),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return best


def _record(token: TrackingToken, kind: Literal["open", "click"]) -> bool:
    at = clock.now()
    if token.expired(at):
        return False
    try:
        message = _stamp(token, kind, at)
        if message is None:
            return False
        try:
            flag_claim(token, kind)
        except PynamoDBException:  # the flag is one input among several: still count the hour and the reward
            logger.exception("claim engagement not flagged", extra={"claim_id": token.claim_id, "kind": kind})
        debtor_id = message.debtor_id or token.debtor_id
        if debtor_id and message.timezone:
            counts = count_engagement_hour(
                token.merchant_id, debtor_id, kind, send_hour.local_hour(at, message.timezone)
            )
            if counts:
                learn_send_time(token, counts)
        if kind == "click":
            stats.record_reward(message, "click", at)
    except PynamoDBException:
        logger.exception("engagement not recorded", extra={"claim_id": token.claim_id, "kind": kind})
        return False
    return True


def open_pixel(raw_token: str) -> bool:
    """GET /t/o/{token}.gif: record the open; False (answer 404) if the token is not genuine."""
    token = verify(raw_token, "o")
    if token is None:
        return False
    _record(token, "open")
    return True


def click(raw_token: str) -> str | None:
    """GET /t/c/{token}: record the click; the payment link to redirect to, or None (answer 404)."""
    token = verify(raw_token, "c")
    if token is None:
        return None
    _record(token, "click")
    return token.payment_url()
