"""Tracking tokens: a genuine click leads to the claim's own payment link and nowhere else."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro import links
from recobro.optimise import tracking

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "unit-test-secret")
    links._secret.cache_clear()
    tracking._key.cache_clear()
    yield
    links._secret.cache_clear()
    tracking._key.cache_clear()


def _links(**overrides: object) -> tracking.TrackedLinks:
    arguments: dict[str, object] = {
        "link_version": 3,
        "debtor_id": "dbt_1",
        "pages_base_url": "https://pages.example",
        "tracking_base_url": "https://t.example",
        "now": NOW,
    }
    arguments.update(overrides)
    return tracking.tracked_links("m-shop", "clm_1", "msg#001#7", **arguments)  # type: ignore[arg-type]


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_the_click_token_rebuilds_exactly_the_payment_link_the_message_carried() -> None:
    tracked = _links()
    token = tracking.verify(_token(tracked.click_url), "c")
    assert token is not None
    assert token.payment_url("https://pages.example") == tracked.payment_url
    page_token = tracked.payment_url.rsplit("/p/", 1)[1]
    claims = links.verify(page_token, now=NOW)
    assert claims is not None
    assert (claims.merchant_id, claims.claim_id, claims.link_version, claims.debtor_id) == (
        "m-shop",
        "clm_1",
        3,
        "dbt_1",
    )


def test_links_have_the_documented_shapes() -> None:
    tracked = _links()
    assert tracked.click_url.startswith("https://t.example/t/c/")
    assert tracked.open_pixel_url.startswith("https://t.example/t/o/") and tracked.open_pixel_url.endswith(".gif")
    assert tracked.payment_url.startswith("https://pages.example/p/")


def test_an_open_token_is_not_a_click_token_and_neither_is_a_payment_link() -> None:
    tracked = _links()
    open_token = _token(tracked.open_pixel_url).removesuffix(".gif")
    assert tracking.verify(open_token, "o") is not None
    assert tracking.verify(open_token, "c") is None
    assert tracking.verify(_token(tracked.click_url), "o") is None
    assert tracking.verify(tracked.payment_url.rsplit("/p/", 1)[1], "c") is None


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZ9-_"))
def test_any_changed_character_is_refused(position: int, replacement: str) -> None:
    token = _token(_links().click_url)
    index = position % len(token)
    if token[index] in (replacement, "."):
        return
    tampered = token[:index] + replacement + token[index + 1 :]
    assert tracking.verify(tampered, "c") is None


def test_a_forged_payload_with_another_claim_is_refused() -> None:
    token = _token(_links().click_url)
    payload, signature = token.split(".")
    fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().replace("clm_1", "clm_2")
    forged = base64.urlsafe_b64encode(fields.encode()).rstrip(b"=").decode() + "." + signature
    assert tracking.verify(forged, "c") is None


@pytest.mark.parametrize("junk", ["", ".", "a.b.c", "x" * 500, "ñ.ñ", "https%3A%2F%2Fevil.example"])
def test_junk_is_refused(junk: str) -> None:
    assert tracking.verify(junk, "c") is None


def test_a_token_signed_with_another_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(_links().click_url)
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "another-secret")
    links._secret.cache_clear()
    tracking._key.cache_clear()
    assert tracking.verify(token, "c") is None


def test_expiry_follows_the_payment_link() -> None:
    token = tracking.verify(_token(_links().click_url), "c")
    assert token is not None
    assert not token.expired(NOW + links.LINK_LIFETIME - timedelta(seconds=1))
    assert token.expired(NOW + links.LINK_LIFETIME)


def test_ids_with_the_separator_are_refused() -> None:
    with pytest.raises(ValueError):
        tracking.issue("c", "m|x", "clm_1", "msg#001#7", expires_at=1)


def test_the_pixel_is_a_one_by_one_gif() -> None:
    gif = tracking.PIXEL_GIF
    assert gif[:6] == b"GIF89a"
    assert int.from_bytes(gif[6:8], "little") == 1 and int.from_bytes(gif[8:10], "little") == 1
