"""moto's DynamoDB attribute values, compared without detours.

moto compares, hashes and sorts attribute values (``DynamoType``) through ``cast_value``, which
asks five type questions before it returns a string as it is: a query over a partition of
thousands of items (a storm's alerts) sorts and filters with tens of millions of those calls.
While :func:`installed` is active, ``cast_value`` answers strings, binaries and booleans (the
value itself) and numbers (its ``Decimal``) first, and everything else as moto does. The values
are exactly moto's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest.mock import patch

from moto.dynamodb.models.dynamo_type import DynamoType

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

    with patch.object(DynamoType, "cast_value", property(cast_value)):
        yield
