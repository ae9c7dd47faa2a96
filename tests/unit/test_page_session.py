"""Page sessions and CSRF tokens: signed values that nothing but this code can mint."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro import links
from recobro import page_session as sessions
from recobro.page.identity import identity_check_for
from recobro.page.response import content_security_policy, security_headers
from recobro.storage.models import Debtor


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "unit-test-secret")
    links._secret.cache_clear()
    yield
    links._secret.cache_clear()


def _value(set_cookie: str) -> str:
    return set_cookie.split(";")[0].split("=", 1)[1]


def test_a_csrf_cookie_is_signed_and_flagged():
    nonce, cookie = sessions.new_csrf_cookie()
    assert cookie.startswith(f"{sessions.CSRF_COOKIE}=")
    flags = {part.strip() for part in cookie.split(";")[1:]}
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/p"} <= flags
    assert sessions.csrf_nonce({sessions.CSRF_COOKIE: _value(cookie)}) == nonce


def test_a_csrf_token_is_bound_to_its_cookie_and_claim():
    nonce, _ = sessions.new_csrf_cookie()
    other, _ = sessions.new_csrf_cookie()
    token = sessions.csrf_token(nonce, "clm_a")
    assert sessions.csrf_ok(nonce, "clm_a", token)
    assert not sessions.csrf_ok(other, "clm_a", token)
    assert not sessions.csrf_ok(nonce, "clm_b", token)
    assert not sessions.csrf_ok(None, "clm_a", token)
    assert not sessions.csrf_ok(nonce, "clm_a", None)
    assert not sessions.csrf_ok(nonce, "clm_a", "")


def test_a_csrf_token_from_another_secret_is_refused(monkeypatch):
    nonce, _ = sessions.new_csrf_cookie()
    token = sessions.csrf_token(nonce, "clm_a")
    monkeypatch.setenv("RECOBRO_LINK_SECRET", "another-secret")
    links._secret.cache_clear()
    assert not sessions.csrf_ok(nonce, "clm_a", token)


def test_session_and_csrf_signatures_are_not_interchangeable():
    _, cookie = sessions.new_csrf_cookie()
    assert sessions.session_id({sessions.SESSION_COOKIE: _value(cookie)}) is None


@given(st.text(max_size=300))
def test_arbitrary_cookie_values_never_verify_or_raise(text):
    assert sessions.session_id({sessions.SESSION_COOKIE: text}) is None
    assert sessions.csrf_nonce({sessions.CSRF_COOKIE: text}) is None
    assert not sessions.csrf_ok("nonce", "clm_a", text)


@given(st.text(max_size=500))
def test_arbitrary_cookie_headers_never_raise(header):
    assert isinstance(sessions.read_cookies(header), dict)


def test_the_policy_allows_only_the_nonced_style():
    policy = content_security_policy("abc")
    assert "style-src 'nonce-abc'" in policy and "unsafe-inline" not in policy
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in policy
    headers = security_headers("abc")
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff" and "max-age=" in headers["Strict-Transport-Security"]


def _debtor(dob: str | None, postal: str | None) -> Debtor:
    return Debtor(
        "m",
        "d",
        external_id="x",
        name="n",
        locale="es-ES",
        timezone="Europe/Madrid",
        verification_salt="s",
        date_of_birth_hash=dob,
        postal_code_hash=postal,
    )


@pytest.mark.parametrize(
    ("preferred", "dob", "postal", "expected"),
    [
        ("date_of_birth", "h1", "h2", "date_of_birth"),
        ("postal_code", "h1", "h2", "postal_code"),
        ("date_of_birth", None, "h2", "postal_code"),
        ("postal_code", "h1", None, "date_of_birth"),
        ("date_of_birth", None, None, None),
    ],
)
def test_the_merchants_check_falls_back_to_the_other_answer_on_file(preferred, dob, postal, expected):
    assert identity_check_for(preferred, _debtor(dob, postal)) == expected
    assert identity_check_for(preferred, None) is None
