"""Webhook signatures: what we send verifies; any tampering or an old timestamp does not."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from recobro.webhooks import signature

secrets_ = st.text(min_size=1, max_size=60).map(lambda s: "whsec_" + s)
bodies = st.binary(max_size=2000)
timestamps = st.integers(min_value=0, max_value=4_000_000_000)


@given(bodies, secrets_, timestamps, st.integers(min_value=-300, max_value=300))
def test_a_signed_body_verifies_within_the_tolerance(body: bytes, secret: str, t: int, skew: int) -> None:
    header = signature.header_value(body, secret, t)
    assert signature.verify(body, header, secret, now=t + skew)


def test_the_header_is_hmac_sha256_of_t_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature.header_value(body, "whsec_k", 1700000000) == f"t=1700000000,v1={expected}"


@given(bodies, secrets_, timestamps, st.data())
def test_any_change_to_the_body_fails(body: bytes, secret: str, t: int, data: st.DataObject) -> None:
    other = data.draw(bodies)
    assume(other != body)
    header = signature.header_value(body, secret, t)
    assert not signature.verify(other, header, secret, now=t)


@given(bodies, secrets_, timestamps, st.integers(min_value=-(10**6), max_value=10**6))
def test_a_changed_timestamp_fails(body: bytes, secret: str, t: int, delta: int) -> None:
    assume(delta != 0 and t + delta >= 0)
    sig = signature.compute(body, secret, t)
    assert not signature.verify(body, f"t={t + delta},v1={sig}", secret, now=t + delta)


@given(bodies, secrets_, timestamps, st.data())
def test_a_changed_signature_fails(body: bytes, secret: str, t: int, data: st.DataObject) -> None:
    sig = signature.compute(body, secret, t)
    position = data.draw(st.integers(min_value=0, max_value=len(sig) - 1))
    replacement = data.draw(st.sampled_from("0123456789abcdef").filter(lambda c: c != sig[position]))
    tampered = sig[:position] + replacement + sig[position + 1 :]
    assert not signature.verify(body, f"t={t},v1={tampered}", secret, now=t)
    assert not signature.verify(body, f"t={t},v1={sig[:-1]}", secret, now=t)


@given(bodies, secrets_, secrets_, timestamps)
def test_another_secret_fails(body: bytes, secret: str, other: str, t: int) -> None:
    assume(other != secret)
    assert not signature.verify(body, signature.header_value(body, secret, t), other, now=t)


@given(bodies, secrets_, timestamps, st.integers(min_value=301, max_value=10**8))
def test_old_and_future_timestamps_fail(body: bytes, secret: str, t: int, age: int) -> None:
    header = signature.header_value(body, secret, t)
    assert not signature.verify(body, header, secret, now=t + age)
    assert not signature.verify(body, header, secret, now=t - age)
    assert signature.verify(body, header, secret, tolerance=age, now=t + age)


@given(st.text(max_size=200), bodies, secrets_)
def test_garbage_headers_never_verify_or_raise(header: str, body: bytes, secret: str) -> None:
    assert signature.verify(body, header, secret, now=0) in (False, True)
    assume("v1=" not in header)
    assert not signature.verify(body, header, secret, now=0)


def test_one_matching_signature_among_several_is_enough() -> None:
    body, t = b"{}", 1_800_000_000
    good = signature.compute(body, "whsec_new", t)
    assert signature.verify(body, f"t={t},v1={'0' * 64},v1={good}", "whsec_new", now=t)
    assert not signature.verify(body, f"t={t},t={t},v1={good}", "whsec_new", now=t)
    assert not signature.verify(body, f"t=-{t},v1={good}", "whsec_new", now=t)
    assert not signature.verify(body, f"t={t}", "whsec_new", now=t)


# ---------------------------------------------------------------- the README's snippet says the same

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_verify(now: int) -> Callable[[bytes, str, str], bool]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    (snippet,) = [b for b in blocks if "def verify(" in b]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    namespace["time"] = SimpleNamespace(time=lambda: now)
    verify: Callable[[bytes, str, str], bool] = namespace["verify"]
    return verify


@given(bodies, secrets_, timestamps, st.integers(min_value=-1000, max_value=1000), st.data())
def test_the_readme_snippet_agrees_with_the_helper(
    body: bytes, secret: str, t: int, skew: int, data: st.DataObject
) -> None:
    now = t + skew
    readme_verify = _readme_verify(now)
    sig = signature.compute(body, secret, t)
    headers = [
        signature.header_value(body, secret, t),
        f"t={t}, v1={sig}",
        f"t={t},v1={'0' * 64},v1={sig}",
        f"t={t + 1},v1={sig}",
        f"t={t},v1={sig[:-1]}",
        f"v1={sig}",
        f"t={t}",
        data.draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)),
    ]
    other_body = data.draw(bodies)
    for header in headers:
        for payload in (body, other_body):
            assert readme_verify(payload, header, secret) == signature.verify(payload, header, secret, now=now), header
