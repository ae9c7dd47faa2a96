"""What POST /v1/claims accepts and refuses, and how it names the field at fault."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.claims.schemas import ClaimCreate, field_path, parse
from recobro.errors import ValidationFailed

GOOD: dict[str, Any] = {
    "external_id": "order-10023",
    "currency": "EUR",
    "description": "Zapatillas Runner X",
    "debtor": {
        "external_id": "cust-77",
        "name": "Lucía Pérez",
        "email": "lucia@example.com",
        "phone": "+34600111222",
        "locale": "es-ES",
        "timezone": "Europe/Madrid",
        "date_of_birth": "1990-04-12",
        "postal_code": "28013",
    },
    "installments": [
        {"number": 1, "due_date": "2026-10-01", "amount": 2500},
        {"number": 2, "due_date": "2026-11-01", "amount": 2500},
    ],
    "metadata": {"channel": "web"},
}


def with_change(path, value):
    body = copy.deepcopy(GOOD)
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def test_the_documented_example_is_accepted():
    claim = parse(ClaimCreate, GOOD)
    assert claim.debtor.phone == "+34600111222"
    assert sum(i.amount for i in claim.installments) == 5000


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("currency",), "ESP", "currency"),
        (("currency",), "eur", "currency"),
        (("currency",), 978, "currency"),
        (("installments", 1, "amount"), 0, "installments[1].amount"),
        (("installments", 1, "amount"), -5, "installments[1].amount"),
        (("installments", 1, "amount"), 25.5, "installments[1].amount"),
        (("installments", 1, "amount"), "2500", "installments[1].amount"),
        (("installments", 1, "amount"), True, "installments[1].amount"),
        (("installments", 1, "amount"), 10**40, "installments[1].amount"),
        (("installments", 0, "due_date"), "2026-02-30", "installments[0].due_date"),
        (("installments", 0, "due_date"), "01/10/2026", "installments[0].due_date"),
        (("installments", 0, "due_date"), 1790000000, "installments[0].due_date"),
        (("installments", 0, "due_date"), "1899-01-01", "installments[0].due_date"),
        (("installments", 1, "number"), 3, "installments"),
        (("installments",), [], "installments"),
        (("debtor", "phone"), "600111222", "debtor.phone"),
        (("debtor", "phone"), "+3460011", "debtor.phone"),
        (("debtor", "email"), "lucia@", "debtor.email"),
        (("debtor", "timezone"), "Europe/Atlantis", "debtor.timezone"),
        (("debtor", "timezone"), "../../etc/passwd", "debtor.timezone"),
        (("debtor", "locale"), "klingon", "debtor.locale"),
        (("debtor", "date_of_birth"), "12/04/1990", "debtor.date_of_birth"),
        (("debtor",), KeyError, "debtor"),
        (("external_id",), "", "external_id"),
        (("external_id",), "x" * 129, "external_id"),
        (("description",), None, "description"),
        (("surprise",), 1, "surprise"),
        (("metadata",), {"k": 1}, "metadata.k"),
        (("metadata",), {"": "x"}, "metadata"),
        (("debtor", "timezone"), "Europe", "debtor.timezone"),
        (("debtor", "timezone"), "localtime", "debtor.timezone"),
        (("debtor", "email"), "lucía@example.com", "debtor.email"),
    ],
)
def test_bad_fields_are_refused_by_name(path, value, field):
    with pytest.raises(ValidationFailed) as caught:
        parse(ClaimCreate, with_change(path, value))
    assert caught.value.field == field
    assert caught.value.body()["error"]["code"] == "validation_error"


def test_whole_number_floats_count_as_integers_as_json_schema_says():
    body = with_change(("installments", 0, "amount"), 2500.0)
    assert parse(ClaimCreate, body).installments[0].amount == 2500


def test_a_debtor_with_no_way_to_reach_them_is_refused():
    body = with_change(("debtor", "email"), KeyError)
    del body["debtor"]["phone"]
    with pytest.raises(ValidationFailed) as caught:
        parse(ClaimCreate, body)
    assert caught.value.field == "debtor"


def test_an_installment_due_before_the_previous_one_is_refused():
    with pytest.raises(ValidationFailed):
        parse(ClaimCreate, with_change(("installments", 1, "due_date"), "2026-09-01"))


@pytest.mark.parametrize("body", [[], "claim", 5, None])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(ValidationFailed):
        parse(ClaimCreate, body)


def test_field_paths_read_like_the_json():
    assert field_path(("installments", 1, "amount")) == "installments[1].amount"
    assert field_path(("debtor", "email")) == "debtor.email"


@given(
    st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=12),
    st.sampled_from(["EUR", "USD", "BRL", "MXN", "JPY"]),
)
def test_any_positive_integer_schedule_is_accepted_and_kept_exact(amounts, currency):
    body = copy.deepcopy(GOOD)
    body["currency"] = currency
    body["installments"] = [
        {"number": n, "due_date": f"2027-{n:02d}-01", "amount": a} for n, a in enumerate(amounts, start=1)
    ]
    claim = parse(ClaimCreate, body)
    assert [i.amount for i in claim.installments] == amounts
