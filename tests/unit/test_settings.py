"""Merchant settings: field validation, merge semantics and cross-field rules, without engines."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.claims.schemas import parse
from recobro.errors import ValidationFailed
from recobro.settings import MerchantSettings, SettingsPatch, check_rules, merge, settings_of
from recobro.storage.models import Merchant


def stored_merchant() -> Merchant:
    return Merchant(
        merchant_id="m-unit",
        display_name="Tienda",
        support_email="ayuda@tienda.example",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def defaults() -> MerchantSettings:
    return settings_of(stored_merchant())


def apply(body: dict[str, Any], current: MerchantSettings | None = None) -> MerchantSettings:
    """What PATCH does before it writes: validate, merge, check the rules across fields."""
    patch = parse(SettingsPatch, body)
    merged = merge(current or defaults(), patch)
    check_rules(merged, patch)
    return merged


def field_of(body: dict[str, Any], current: MerchantSettings | None = None) -> str | None:
    with pytest.raises(ValidationFailed) as caught:
        apply(body, current)
    return caught.value.field


def test_a_new_merchant_gets_the_defaults():
    settings = defaults()
    assert (settings.brand_color, settings.identity_check, settings.max_contacts_per_week) == (
        "#1A56DB",
        "date_of_birth",
        7,
    )
    assert settings.plan_rules.model_dump() == {
        "min_installments": 2,
        "max_installments": 6,
        "min_installment_amount": 1000,
        "max_days_to_promise": 14,
        "min_payment_amount": 500,
        "max_days_to_move": 10,
    }
    assert (settings.contact_window.start, settings.contact_window.end) == ("08:00", "21:00")
    assert settings.updated_at is None


# ---------------------------------------------------------------- contact window

_HOURS = st.integers(0, 23)
_MINUTES = st.integers(0, 59)


def _hhmm(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


@given(_HOURS, _MINUTES, _HOURS, _MINUTES)
def test_a_contact_window_is_accepted_exactly_when_it_lies_inside_8_to_21_and_starts_first(
    h1: int, m1: int, h2: int, m2: int
):
    start, end = _hhmm(h1, m1), _hhmm(h2, m2)
    valid = "08:00" <= start < end <= "21:00"
    try:
        merged = apply({"contact_window": {"start": start, "end": end}})
    except ValidationFailed as exc:
        assert not valid
        assert exc.field in ("contact_window.start", "contact_window.end")
    else:
        assert valid
        assert (merged.contact_window.start, merged.contact_window.end) == (start, end)


@given(st.text(max_size=8))
def test_only_hh_mm_is_a_time(text: str):
    if re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", text) and "08:00" <= text < "21:00":
        assert apply({"contact_window": {"start": text}}).contact_window.start == text
    else:
        assert field_of({"contact_window": {"start": text}}) == "contact_window.start"


def test_moving_only_the_start_past_the_stored_end_blames_the_start():
    current = apply({"contact_window": {"start": "09:00", "end": "12:00"}})
    assert field_of({"contact_window": {"start": "13:00"}}, current) == "contact_window.start"
    assert field_of({"contact_window": {"end": "08:30"}}, current) == "contact_window.end"


# ---------------------------------------------------------------- plan rules


@given(st.integers(-5, 30), st.integers(-5, 30))
def test_plan_installment_bounds(low: int, high: int):
    valid = 2 <= low <= high <= 24
    try:
        merged = apply({"plan_rules": {"min_installments": low, "max_installments": high}})
    except ValidationFailed as exc:
        assert not valid
        assert exc.field in ("plan_rules.min_installments", "plan_rules.max_installments")
    else:
        assert valid and (merged.plan_rules.min_installments, merged.plan_rules.max_installments) == (low, high)


@given(st.integers(-5, 40))
def test_a_payment_date_may_move_between_1_and_31_days_later(days: int):
    try:
        merged = apply({"plan_rules": {"max_days_to_move": days}})
    except ValidationFailed as exc:
        assert not 1 <= days <= 31 and exc.field == "plan_rules.max_days_to_move"
    else:
        assert 1 <= days <= 31 and merged.plan_rules.max_days_to_move == days


def test_a_merchant_stored_before_max_days_to_move_reads_the_default():
    merchant = Merchant.from_raw_data(
        {
            "merchant_id": {"S": "m-old"},
            "display_name": {"S": "Tienda"},
            "support_email": {"S": "a@b.example"},
            "created_at": {"S": "2026-01-01T00:00:00.000000+0000"},
            "plan_rules": {"M": {"min_installments": {"N": "3"}}},
        }
    )
    assert settings_of(merchant).plan_rules.model_dump() == {
        "min_installments": 3,
        "max_installments": 6,
        "min_installment_amount": 1000,
        "max_days_to_promise": 14,
        "min_payment_amount": 500,
        "max_days_to_move": 10,
    }


@pytest.mark.parametrize("value", ["3", 3.5, True, None, [3]])
def test_numbers_are_never_coerced(value: Any):
    assert field_of({"plan_rules": {"min_installments": value}}) == "plan_rules.min_installments"
    assert field_of({"max_contacts_per_week": value}) == "max_contacts_per_week"


# ---------------------------------------------------------------- merging


_CHANGES: dict[str, Any] = {
    "display_name": "Otra",
    "logo_url": "https://cdn.example.com/l.svg",
    "brand_color": "#ABCDEF",
    "accent_color": "#123456",
    "support_email": "help@shop.example",
    "support_phone": "+447400123456",
    "legal_footer": "<p>Shop Ltd</p>",
    "identity_check": "postal_code",
    "plan_rules": {"max_days_to_promise": 30, "max_days_to_move": 21},
    "contact_window": {"end": "20:00"},
    "max_contacts_per_week": 3,
}


@given(st.sets(st.sampled_from(sorted(_CHANGES))))
def test_a_patch_changes_exactly_the_fields_it_names(names: set[str]):
    before = defaults().model_dump()
    after = apply({name: _CHANGES[name] for name in names}).model_dump()
    for name in before:
        if name in names and isinstance(_CHANGES[name], dict):
            assert after[name] == {**before[name], **_CHANGES[name]}
        elif name in names:
            assert after[name] == _CHANGES[name]
        else:
            assert after[name] == before[name], name


def test_null_clears_optional_fields_only():
    current = apply({"logo_url": "https://cdn.example.com/l.png", "support_phone": "+34600111222"})
    cleared = apply({"logo_url": None, "support_phone": None}, current)
    assert (cleared.logo_url, cleared.support_phone) == (None, None)
    for name in ("display_name", "brand_color", "support_email", "identity_check", "plan_rules", "contact_window"):
        assert field_of({name: None}) == name


# ---------------------------------------------------------------- single fields


@given(st.from_regex(r"#[0-9A-Fa-f]{6}", fullmatch=True))
def test_any_hex_colour_is_kept_upper_case(colour: str):
    assert apply({"brand_color": colour}).brand_color == colour.upper()


@given(st.text(max_size=10))
def test_anything_else_is_not_a_colour(text: str):
    if re.fullmatch(r"#[0-9A-Fa-f]{6}", text):
        return
    assert field_of({"accent_color": text}) == "accent_color"


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://",
        "https:///logo.png",
        "https://user@cdn.example.com/logo.png",
        "https://cdn.example.com:99999/logo.png",
        "https://cdn.example.com/ logo.png",
        "https://cdn.exámple.com/logo.png",
        "https://cdn.example.com/" + "a" * 2048,
        "//cdn.example.com/logo.png",
    ],
)
def test_logo_urls_are_https_only(url: str):
    assert field_of({"logo_url": url}) == "logo_url"


def test_a_https_logo_url_is_kept_as_given():
    url = "https://CDN.example.com:8443/brand/logo.png?v=2#x"
    assert apply({"logo_url": url}).logo_url == url


def test_legal_footer_is_plain_text_of_at_most_1000_characters():
    html = '<img src=x onerror="alert(1)"> &lt;b&gt; ©\nSegunda línea'
    assert apply({"legal_footer": html}).legal_footer == html
    assert apply({"legal_footer": "é" * 1000}).legal_footer == "é" * 1000
    assert field_of({"legal_footer": "é" * 1001}) == "legal_footer"
    for invisible in ("\x00", "\x1b[31m", "\u202e", "\u200b"):
        assert field_of({"legal_footer": f"a{invisible}b"}) == "legal_footer"


def test_phone_numbers_are_stored_in_e164():
    assert apply({"support_phone": "+34 600-111-222"}).support_phone == "+34600111222"
    for bad in ("600111222", "+1", "+34abc", "+999999999999"):
        assert field_of({"support_phone": bad}) == "support_phone"


def test_unknown_fields_are_refused():
    assert field_of({"theme": "dark"}) == "theme"
    assert field_of({"contact_window": {"timezone": "UTC"}}) == "contact_window.timezone"


def test_the_schema_says_which_fields_may_be_null():
    schema = SettingsPatch.model_json_schema()
    properties = schema["properties"]
    assert properties["display_name"]["type"] == "string"
    assert "anyOf" not in properties["display_name"] and "default" not in properties["display_name"]
    assert {"type": "null"} in properties["logo_url"]["anyOf"]
    plan = schema["$defs"]["PlanRulesPatch"]["properties"]["min_installments"]
    assert (plan["type"], plan["minimum"], plan["maximum"]) == ("integer", 2, 24)
    assert schema["additionalProperties"] is False
