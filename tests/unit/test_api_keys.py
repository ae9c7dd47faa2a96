"""API keys without engines: what a key shows, its status over time, strict request bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.auth import (
    KEY_ID,
    KEY_PREFIX,
    ApiKeyCreate,
    ApiKeyRoll,
    authenticate,
    hash_key,
    key_status,
    key_view,
)
from recobro.claims.schemas import parse
from recobro.errors import Unauthenticated, ValidationFailed
from recobro.ids import new_id
from recobro.storage.models import ApiKey

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored_key(**fields) -> ApiKey:
    secret = KEY_PREFIX + "abcdefghijklmnopqrstuvwxyz012345"
    return ApiKey(
        key_hash=hash_key(secret),
        merchant_id="m-unit",
        key_id=new_id("key"),
        prefix=secret[:12],
        last4=secret[-4:],
        created_at=CREATED,
        **fields,
    )


@given(st.integers(-10_000, 10_000), st.integers(0, 168 * 60))
def test_a_rolled_key_is_expiring_until_its_expiry_and_expired_from_then(offset_minutes: int, overlap_minutes: int):
    expires = CREATED + timedelta(minutes=overlap_minutes)
    now = CREATED + timedelta(minutes=offset_minutes)
    status = key_status(stored_key(valid_until=expires), now)
    assert status == ("expired" if now >= expires else "expiring")


def test_revoked_wins_over_everything_and_a_plain_key_is_active():
    now = CREATED + timedelta(days=1)
    assert key_status(stored_key(), now) == "active"
    assert key_status(stored_key(revoked_at=now, valid_until=now + timedelta(hours=1)), now) == "revoked"


def test_the_view_never_carries_the_secret_or_its_hash():
    key = stored_key(description="ci")
    view = key_view(key, CREATED)
    assert set(view) == {
        "id",
        "object",
        "prefix",
        "last4",
        "description",
        "status",
        "created_at",
        "expires_at",
        "revoked_at",
    }
    text = repr(view)
    assert key.key_hash not in text and "abcdefghijklmnopqrstuvwxyz" not in text
    assert (view["prefix"], view["last4"], view["created_at"]) == ("rk_live_abcd", "2345", "2026-03-01T12:00:00Z")


def test_key_ids_have_one_shape():
    assert KEY_ID.match(new_id("key"))
    for bad in ("key_", "clm_aaaaaaaaaaaaaaaaaaaa", "key_AAAAAAAAAAAAAAAAAAAA", "key_" + "a" * 21):
        assert not KEY_ID.match(bad)


def test_roll_overlap_defaults_to_a_day_and_is_bounded():
    assert parse(ApiKeyRoll, {}).expires_in_hours == 24
    assert parse(ApiKeyRoll, {"expires_in_hours": 0}).expires_in_hours == 0
    assert parse(ApiKeyRoll, {"expires_in_hours": 168}).expires_in_hours == 168


@pytest.mark.parametrize("value", [-1, 169, "1", 1.5, True, None, 2**64])
def test_roll_overlap_must_be_whole_hours_in_range(value):
    with pytest.raises(ValidationFailed) as caught:
        parse(ApiKeyRoll, {"expires_in_hours": value})
    assert caught.value.field == "expires_in_hours"


@pytest.mark.parametrize("body", [{"description": 1}, {"description": ""}, {"description": "x" * 101}, {"x": 1}])
def test_create_body_is_strict(body):
    with pytest.raises(ValidationFailed):
        parse(ApiKeyCreate, body)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Bearer sk_live_abc", "Bearer rk_live_" + "a" * 300, "rk_live_abc"],
)
def test_malformed_credentials_are_refused_before_any_lookup(header):
    with pytest.raises(Unauthenticated):
        authenticate(header)
