"""Read items of several tables in one BatchGetItem, as PynamoDB models.

The page and the reconciler each need a handful of items from different tables before they
can decide anything; PynamoDB's batch_get reads one table per request. One BatchGetItem keeps a
page view at one read request (more only if DynamoDB leaves keys unprocessed).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from pynamodb.models import Model

M = TypeVar("M", bound=Model)


@functools.lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("dynamodb")


def _key(model: type[Model], hash_key: str, range_key: str | None) -> dict[str, dict[str, str]]:
    key = {str(model._hash_keyname): {"S": hash_key}}
    range_name = model._range_keyname
    if range_name is not None:
        if range_key is None:
            raise ValueError(f"{model.__name__} needs a range key")
        key[range_name] = {"S": range_key}
    return key


class Batch:
    """Collect keys, read them all at once, then pick the models out by key."""

    def __init__(self) -> None:
        self._wanted: list[tuple[type[Model], str, str | None]] = []
        self._found: dict[tuple[str, str, str | None], dict[str, Any]] = {}

    def want(self, model: type[Model], hash_key: str, range_key: str | None = None) -> None:
        self._wanted.append((model, hash_key, range_key))

    def read(self, consistent: bool = True) -> Batch:
        request: dict[str, Any] = {}
        for model, hash_key, range_key in self._wanted:
            table = request.setdefault(model.Meta.table_name, {"Keys": [], "ConsistentRead": consistent})
            key = _key(model, hash_key, range_key)
            if key not in table["Keys"]:
                table["Keys"].append(key)
        while request:
            reply = _client().batch_get_item(RequestItems=request)
            for table_name, items in reply.get("Responses", {}).items():
                for item in items:
                    self._remember(table_name, item)
            request = reply.get("UnprocessedKeys") or {}
        return self

    def _remember(self, table_name: str, item: dict[str, Any]) -> None:
        for model, _, _ in self._wanted:
            if model.Meta.table_name != table_name:
                continue
            hash_value = item[str(model._hash_keyname)]["S"]
            range_name = model._range_keyname
            range_value = item[range_name]["S"] if range_name else None
            self._found[(table_name, hash_value, range_value)] = item

    def get(self, model: type[M], hash_key: str, range_key: str | None = None) -> M | None:
        item = self._found.get((model.Meta.table_name, hash_key, range_key))
        return model.from_raw_data(item) if item is not None else None


def read_all(keys: Sequence[tuple[type[Model], str, str | None]], consistent: bool = True) -> Batch:
    batch = Batch()
    for model, hash_key, range_key in keys:
        batch.want(model, hash_key, range_key)
    return batch.read(consistent)
