"""moto's DynamoDB attribute values, compared and sorted without detours.

moto compares, hashes and sorts attribute values (``DynamoType``) through ``cast_value``, which
asks five type questions before it returns a string as it is: a query over a partition of
thousands of items (a storm's alerts) sorts and filters with tens of millions of those calls.
While :func:`installed` is active, ``cast_value`` answers strings, binaries and booleans (the
value itself) and numbers (its ``Decimal``) first, and everything else as moto does. The values
are exactly moto's.

Every ``Query`` moto answers starts from ``Table.all_items``, which sorts *every* item of the
table by its keys with ``DynamoType.__lt__``: two ``cast_value`` calls a comparison, some
450,000 comparisons for a table of 30,000 items (a 5,000-function storm's alerts, coverage and
ledger), for each page of each query. While :func:`installed` is active the sort reads each
item's key values once and compares them natively: the same order (``__lt__`` compares
exactly those values, and a key attribute has one type in a table), in a fraction of the time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest.mock import patch

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_AS_IS = frozenset({"S", "B", "BOOL"})


@contextlib.contextmanager
def installed() -> Iterator[None]:
    original: property = DynamoType.__dict__["cast_value"]
    moto_cast = original.fget
    assert moto_cast is not None

    def cast_value(value: DynamoType) -> Any:
        kind = value.type
        if kind in _AS_IS:
            return value.value
        if kind == "N":
            return Decimal(value.value)
        return moto_cast(value)

    with (
        patch.object(DynamoType, "cast_value", property(cast_value)),
        patch.object(Table, "all_items", all_items),
    ):
        yield


def all_items(table: Table) -> list[Item]:
    """The table's items in moto's order (by hash key, then range key), each key read once."""
    if table.range_key_attr:
        items = [item for stored in table.items.values() for item in stored.values()]
    else:
        items = list(table.items.values())
    return sorted(items, key=_key_values)


def _key_values(item: Item) -> Any:
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return item.hash_key.cast_value
