"""Payment-link tokens: genuine ones open the page, anything else opens nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro import links


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "unit-test-secret")
    links._secret.cache_clear()
    yield
    links._secret.cache_clear()


NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_fresh_token_names_its_claim():
    token = links.issue("demo", "clm_abc", now=NOW)
    claims = links.verify(token, now=NOW + timedelta(days=1))
    assert claims is not None
    assert (claims.merchant_id, claims.claim_id) == ("demo", "clm_abc")


def test_a_token_expires_after_its_lifetime():
    token = links.issue("demo", "clm_abc", now=NOW)
    assert links.verify(token, now=NOW + links.LINK_LIFETIME - timedelta(seconds=1)) is not None
    assert links.verify(token, now=NOW + links.LINK_LIFETIME) is None


def test_a_token_signed_with_another_secret_is_refused(monkeypatch):
    token = links.issue("demo", "clm_abc", now=NOW)
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "another-secret")
    links._secret.cache_clear()
    assert links.verify(token, now=NOW) is None


def test_swapping_the_claim_inside_a_token_is_refused():
    genuine = links.issue("demo", "clm_abc", now=NOW)
    other = links.issue("other", "clm_xyz", now=NOW)
    forged = other.split(".")[0] + "." + genuine.split(".")[1]
    assert links.verify(forged, now=NOW) is None


@given(st.data())
def test_any_single_character_change_is_refused(data):
    token = links.issue("demo", "clm_0123456789abcdefghij", now=NOW)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFabcdef0123456789-_.").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    assert links.verify(tampered, now=NOW) is None


@given(st.text(max_size=400))
def test_arbitrary_text_never_verifies_or_raises(text):
    assert links.verify(text, now=NOW) is None


def test_a_token_carries_its_link_version():
    token = links.issue("demo", "clm_abc", now=NOW, version=7)
    claims = links.verify(token, now=NOW)
    assert claims is not None and claims.link_version == 7


def test_tokens_from_before_link_versions_read_as_version_zero():
    payload = links._b64(f"demo|clm_abc|{int((NOW + links.LINK_LIFETIME).timestamp())}".encode())
    legacy = f"{payload}.{links._sign(payload)}"
    assert legacy == links.issue("demo", "clm_abc", now=NOW)  # version 0 keeps the old shape
    claims = links.verify(legacy, now=NOW)
    assert claims is not None and claims.link_version == 0


@given(st.text(alphabet="0123456789-+ x", min_size=0, max_size=6))
def test_a_signed_but_malformed_version_never_verifies_as_another(version):
    """Even a correctly signed payload opens nothing unless its version is a plain number >= 0."""
    expires = int((NOW + links.LINK_LIFETIME).timestamp())
    payload = links._b64(f"demo|clm_abc|{expires}|{version}".encode())
    claims = links.verify(f"{payload}.{links._sign(payload)}", now=NOW)
    if claims is not None:
        assert claims.link_version == int(version) >= 0


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_a_token_never_verifies_as_another_version(issued, other):
    token = links.issue("demo", "clm_abc", now=NOW, version=issued)
    claims = links.verify(token, now=NOW)
    assert claims is not None
    assert (claims.link_version == other) == (issued == other)


@given(st.data())
def test_any_single_character_change_of_a_versioned_token_is_refused(data):
    token = links.issue("demo", "clm_0123456789abcdefghij", now=NOW, version=3)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFabcdef0123456789-_.").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    assert links.verify(tampered, now=NOW) is None


def test_a_link_can_name_the_debtor_so_the_page_reads_claim_and_debtor_together() -> None:
    token = links.issue("demo", "clm_abc", now=NOW, version=3, debtor_id="dbt_1")
    claims = links.verify(token, now=NOW)
    assert claims is not None
    assert (claims.link_version, claims.debtor_id) == (3, "dbt_1")
    assert links.verify(links.issue("demo", "clm_abc", now=NOW, version=3), now=NOW).debtor_id is None  # type: ignore[union-attr]
