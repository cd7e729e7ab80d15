"""``TransactWriteItems`` in time proportional to the transaction, not to the table.

moto 5 keeps a deep copy of every table a transaction touches, to roll back if one of its
items fails. In a storm the Evaluate function writes thousands of alerts, 100 a transaction,
into a table of thousands of items: the copies alone take minutes. While :func:`installed`
is active, the copy moto makes of a table is a shallow one, with the table's own item maps
copied: enough to roll back the ``Put`` and ``Delete`` operations Vigil sends in a transaction
(they replace or remove items, and never change one in place). Everything else is moto's.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import types
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_local = threading.local()
"""``snapshots``: the tables copied by this thread's transaction under way (moto copies a
table once per item of the transaction)."""


def _snapshots() -> dict[int, Table]:
    found: dict[int, Table] | None = getattr(_local, "snapshots", None)
    if found is None:
        found = _local.snapshots = {}
    return found


def _snapshot(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if not isinstance(value, Table):
        return copy.deepcopy(value, memo)
    snapshots = _snapshots()
    if id(value) not in snapshots:
        snapshots[id(value)] = _copy(value)
    return snapshots[id(value)]


def _copy(value: Table) -> Table:
    table = copy.copy(value)
    items: defaultdict[Any, Any] = defaultdict(dict)
    for key, stored in value.items.items():
        items[key] = dict(stored) if isinstance(stored, dict) else stored
    table.items = items
    return table


@contextlib.contextmanager
def installed() -> Iterator[None]:
    shim = types.SimpleNamespace(deepcopy=_snapshot, copy=copy.copy)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: DynamoDBBackend, transact_items: Any) -> None:
        _snapshots().clear()
        try:
            original(backend, transact_items)
        finally:
            _snapshots().clear()

    with (
        patch.object(dynamodb_models, "copy", shim),
        patch.object(DynamoDBBackend, "transact_write_items", transact_write_items),
    ):
        yield
