"""GET and PATCH /v1/settings over HTTP on the local stack."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from recobro import merchants, settings
from recobro.storage.models import Merchant

from tests.integration.conftest import MerchantClient

FULL = {
    "display_name": "Zapatería Lucía",
    "logo_url": "https://cdn.example.com/brand/logo.png?v=2",
    "brand_color": "#0f766e",
    "accent_color": "#F59E0B",
    "support_email": "ayuda@zapateria.example",
    "support_phone": "+34 600 111 222",
    "legal_footer": "Zapatería Lucía S.L. · CIF B12345678\nCalle Mayor 1, Madrid",
    "identity_check": "postal_code",
    "plan_rules": {
        "min_installments": 3,
        "max_installments": 12,
        "min_installment_amount": 1500,
        "max_days_to_promise": 30,
        "min_payment_amount": 1000,
        "max_days_to_move": 5,
    },
    "contact_window": {"start": "09:30", "end": "20:00"},
    "max_contacts_per_week": 3,
    "max_sms_segments": 2,
}


def get(merchant: MerchantClient) -> dict[str, Any]:
    reply = merchant.call("GET", "/v1/settings")
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def patch(merchant: MerchantClient, body: Any) -> Any:
    return merchant.call("PATCH", "/v1/settings", body)


def test_a_new_merchant_reads_the_defaults(merchant: MerchantClient):
    assert get(merchant) == {
        "object": "settings",
        "display_name": "Tienda Demo",
        "logo_url": None,
        "brand_color": "#1A56DB",
        "accent_color": None,
        "support_email": f"ayuda@{merchant.merchant_id}.example",
        "support_phone": None,
        "legal_footer": None,
        "identity_check": "date_of_birth",
        "plan_rules": {
            "min_installments": 2,
            "max_installments": 6,
            "min_installment_amount": 1000,
            "max_days_to_promise": 14,
            "min_payment_amount": 500,
            "max_days_to_move": 10,
        },
        "contact_window": {"start": "08:00", "end": "21:00"},
        "max_contacts_per_week": 7,
        "max_sms_segments": 3,
        "updated_at": None,
    }


def test_an_item_stored_before_settings_existed_reads_fine(merchant: MerchantClient):
    # Strip the item down to what the skeleton stored.
    Merchant._get_connection().update_item(
        merchant.merchant_id,
        actions=[Merchant.brand_color.remove(), Merchant.plan_rules.remove(), Merchant.version.remove()],
    )
    raw = Merchant.get(merchant.merchant_id, consistent_read=True).attribute_values
    assert "version" not in raw and raw["plan_rules"].max_installments == 6
    assert get(merchant)["plan_rules"]["max_installments"] == 6
    assert patch(merchant, {"brand_color": "#000000"}).status == 200
    assert get(merchant)["brand_color"] == "#000000"


def test_settings_round_trip(merchant: MerchantClient):
    reply = patch(merchant, FULL)
    assert reply.status == 200, reply.text
    stored = reply.json()
    expected = {**FULL, "brand_color": "#0F766E", "support_phone": "+34600111222"}
    assert {k: stored[k] for k in FULL} == expected
    assert stored["updated_at"].endswith("Z")
    assert get(merchant) == stored


def test_a_partial_patch_keeps_every_other_field(merchant: MerchantClient):
    assert patch(merchant, FULL).status == 200
    reply = patch(merchant, {"brand_color": "#111111", "plan_rules": {"max_days_to_promise": 7}})
    assert reply.status == 200, reply.text
    after = get(merchant)
    assert after["brand_color"] == "#111111"
    assert after["plan_rules"] == {**FULL["plan_rules"], "max_days_to_promise": 7}  # type: ignore[dict-item]
    for name in set(FULL) - {"brand_color", "plan_rules", "support_phone"}:
        assert after[name] == FULL[name], name


def test_null_clears_an_optional_field_and_is_refused_elsewhere(merchant: MerchantClient):
    assert patch(merchant, FULL).status == 200
    cleared = patch(merchant, {"logo_url": None, "legal_footer": None})
    assert cleared.status == 200
    assert (cleared.json()["logo_url"], cleared.json()["legal_footer"]) == (None, None)
    assert cleared.json()["display_name"] == FULL["display_name"]

    refused = patch(merchant, {"display_name": None})
    assert refused.status == 400
    assert refused.json()["error"]["field"] == "display_name"
    assert get(merchant)["display_name"] == FULL["display_name"]


def test_html_in_the_legal_footer_is_stored_as_text(merchant: MerchantClient):
    footer = '<b>Bold</b> & <script>alert("x")</script> <a href="javascript:alert(1)">terms</a> &amp; ©'
    reply = patch(merchant, {"legal_footer": footer})
    assert reply.status == 200, reply.text
    assert reply.json()["legal_footer"] == footer
    assert get(merchant)["legal_footer"] == footer
    assert Merchant.get(merchant.merchant_id, consistent_read=True).legal_footer == footer


def test_an_update_is_visible_at_once_through_the_merchant_cache(merchant: MerchantClient):
    assert settings.merchant_settings(merchant.merchant_id) is not None  # primes this container's cache
    assert patch(merchant, {"display_name": "Nuevo Nombre", "brand_color": "#222222"}).status == 200
    cached = merchants.cached_merchant(merchant.merchant_id)
    assert cached is not None and cached.display_name == "Nuevo Nombre"
    seen = settings.merchant_settings(merchant.merchant_id)
    assert seen is not None and seen.brand_color == "#222222"


def test_concurrent_patches_keep_each_others_fields(merchant: MerchantClient):
    changes = [
        {"brand_color": "#101010"},
        {"accent_color": "#202020"},
        {"legal_footer": "Texto legal"},
        {"plan_rules": {"min_installments": 4}},
        {"plan_rules": {"max_days_to_promise": 9}},
        {"contact_window": {"start": "10:00"}},
        {"max_contacts_per_week": 2},
        {"identity_check": "postal_code"},
    ]
    statuses: list[int] = []

    def send(change: dict[str, Any]) -> None:
        for _ in range(5):
            reply = patch(merchant, change)
            if reply.status != 409:
                break
        statuses.append(reply.status)

    threads = [threading.Thread(target=send, args=(c,)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(changes)
    after = get(merchant)
    assert (after["brand_color"], after["accent_color"], after["legal_footer"]) == ("#101010", "#202020", "Texto legal")
    assert (after["plan_rules"]["min_installments"], after["plan_rules"]["max_days_to_promise"]) == (4, 9)
    assert after["contact_window"] == {"start": "10:00", "end": "21:00"}
    assert (after["max_contacts_per_week"], after["identity_check"]) == (2, "postal_code")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": 5}, "display_name"),
        ({"display_name": "two\nlines"}, "display_name"),
        ({"logo_url": "http://cdn.example.com/logo.png"}, "logo_url"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"logo_url": "https://"}, "logo_url"),
        ({"logo_url": "https://user:pw@cdn.example.com/logo.png"}, "logo_url"),
        ({"logo_url": "https://cdn.example.com/" + "a" * 2048}, "logo_url"),
        ({"logo_url": "https://cdn.example.com/a b.png"}, "logo_url"),
        ({"brand_color": "#12345"}, "brand_color"),
        ({"brand_color": "red"}, "brand_color"),
        ({"brand_color": "#GGGGGG"}, "brand_color"),
        ({"brand_color": None}, "brand_color"),
        ({"accent_color": "123456"}, "accent_color"),
        ({"support_email": "not-an-email"}, "support_email"),
        ({"support_email": None}, "support_email"),
        ({"support_phone": "600111222"}, "support_phone"),
        ({"support_phone": "+3460011"}, "support_phone"),
        ({"support_phone": 34600111222}, "support_phone"),
        ({"legal_footer": "x" * 1001}, "legal_footer"),
        ({"legal_footer": "bell\x07"}, "legal_footer"),
        ({"identity_check": "passport"}, "identity_check"),
        ({"plan_rules": {"min_installments": 1}}, "plan_rules.min_installments"),
        ({"plan_rules": {"min_installments": "3"}}, "plan_rules.min_installments"),
        ({"plan_rules": {"max_installments": 25}}, "plan_rules.max_installments"),
        ({"plan_rules": {"min_installments": 6, "max_installments": 4}}, "plan_rules.max_installments"),
        ({"plan_rules": {"min_installments": 7}}, "plan_rules.min_installments"),  # above the stored max (6)
        ({"plan_rules": {"max_installments": 1}}, "plan_rules.max_installments"),
        ({"plan_rules": {"min_installment_amount": 0}}, "plan_rules.min_installment_amount"),
        ({"plan_rules": {"min_installment_amount": 10.5}}, "plan_rules.min_installment_amount"),
        ({"plan_rules": {"max_days_to_promise": 0}}, "plan_rules.max_days_to_promise"),
        ({"plan_rules": {"max_days_to_promise": 61}}, "plan_rules.max_days_to_promise"),
        ({"plan_rules": {"max_days_to_move": 0}}, "plan_rules.max_days_to_move"),
        ({"plan_rules": {"max_days_to_move": 32}}, "plan_rules.max_days_to_move"),
        ({"plan_rules": {"grace_days": 3}}, "plan_rules.grace_days"),
        ({"plan_rules": None}, "plan_rules"),
        ({"plan_rules": [2, 6]}, "plan_rules"),
        ({"contact_window": {"start": "07:59"}}, "contact_window.start"),
        ({"contact_window": {"end": "21:01"}}, "contact_window.end"),
        ({"contact_window": {"start": "9:00"}}, "contact_window.start"),
        ({"contact_window": {"start": "24:00"}}, "contact_window.start"),
        ({"contact_window": {"start": "12:00", "end": "12:00"}}, "contact_window.end"),
        ({"contact_window": {"start": "21:00"}}, "contact_window.start"),  # not before the stored end
        ({"contact_window": {"start": 900}}, "contact_window.start"),
        ({"max_contacts_per_week": 0}, "max_contacts_per_week"),
        ({"max_contacts_per_week": 8}, "max_contacts_per_week"),
        ({"max_contacts_per_week": "3"}, "max_contacts_per_week"),
        ({"max_contacts_per_week": True}, "max_contacts_per_week"),
        ({"max_sms_segments": 0}, "max_sms_segments"),
        ({"max_sms_segments": 11}, "max_sms_segments"),
        ({"timezone": "Europe/Madrid"}, "timezone"),
    ],
)
def test_each_invalid_field_is_a_400_naming_it(merchant: MerchantClient, body: dict[str, Any], field: str):
    before = get(merchant)
    reply = patch(merchant, body)
    assert reply.status == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", field), error
    assert get(merchant) == before  # nothing stored


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "{", '{"display_name": NaN}'])
def test_a_body_that_is_not_an_object_is_a_400(merchant: MerchantClient, raw: str):
    reply = merchant.call("PATCH", "/v1/settings", headers={"Content-Type": "application/json"}, body=raw)
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["code"] in ("validation_error", "invalid_json")


def test_an_empty_patch_changes_nothing(merchant: MerchantClient):
    before = get(merchant)
    reply = patch(merchant, {})
    assert reply.status == 200
    assert reply.json() == before


def test_settings_are_per_merchant(merchant: MerchantClient, other_merchant: MerchantClient):
    assert patch(merchant, {"display_name": "Solo Mía"}).status == 200
    assert get(other_merchant)["display_name"] == "Otra Tienda"
