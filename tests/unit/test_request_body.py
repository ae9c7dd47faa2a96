"""Request bodies are decoded safely: size, media type, encoding, depth and JSON oddities."""

import pytest
from recobro.api.body import MAX_JSON_DEPTH, decode_json
from recobro.config import MAX_BODY_BYTES
from recobro.errors import MalformedJson, PayloadTooLarge, UnsupportedMediaType


def test_a_json_object_decodes():
    assert decode_json('{"a": [1, 2]}', "application/json; charset=utf-8") == {"a": [1, 2]}


@pytest.mark.parametrize("raw", ["", "   ", "{bad", "[1,", b"\xff\xfe{}", '{"a": NaN}', '{"a": Infinity}'])
def test_malformed_bodies_are_invalid_json(raw):
    with pytest.raises(MalformedJson):
        decode_json(raw, "application/json")


def test_bodies_over_the_limit_are_too_large():
    with pytest.raises(PayloadTooLarge):
        decode_json(b" " * (MAX_BODY_BYTES + 1), "application/json")


def test_deep_nesting_is_refused_before_validation():
    with pytest.raises(MalformedJson, match="nested"):
        decode_json("[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5), "application/json")


def test_pathological_nesting_does_not_crash():
    with pytest.raises(MalformedJson):
        decode_json("[" * 100_000 + "]" * 100_000, "application/json")


def test_other_media_types_are_refused():
    with pytest.raises(UnsupportedMediaType):
        decode_json("{}", "text/plain")


def test_a_query_parameter_given_twice_is_refused_not_silently_the_last():
    from chalice.app import MultiDict
    from pydantic import BaseModel
    from recobro.api.query import parse_query
    from recobro.errors import ValidationFailed

    class Query(BaseModel):
        limit: int = 10

    assert parse_query(Query, MultiDict({"limit": ["5"]})).limit == 5
    with pytest.raises(ValidationFailed) as caught:
        parse_query(Query, MultiDict({"limit": ["5", "50"]}))
    assert caught.value.field == "limit"
