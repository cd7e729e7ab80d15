"""``TransactWriteItems`` in time proportional to the transaction, not to the table.

moto 5 keeps a deep copy of every table a transaction touches, to roll back if one of its
items fails. In a storm the Evaluate function writes thousands of alerts, 100 a transaction,
into a table of thousands of items: the copies alone take minutes. While :func:`installed`
is active, the copy moto makes of a table is a shallow one, with the table's own item maps
copied: enough to roll back a ``Put`` or ``Delete`` (they replace or remove an item). An
``Update`` changes its item in place (Vigil sends one when an incident closes), so the copy
holds a deep copy of each item the transaction updates. Everything else is moto's.
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
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_local = threading.local()
"""``snapshots``: the tables copied by this thread's transaction under way (moto copies a
table once per item of the transaction); ``updated``: the (table name, key) of each of its
``Update`` operations."""


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
    for name, key in getattr(_local, "updated", ()):
        if name == value.name:
            _keep_apart(value, items, key)
    table.items = items
    return table


def _keep_apart(value: Table, items: defaultdict[Any, Any], key: dict[str, Any]) -> None:
    """The copy's own deep copy of the item at ``key`` (wire format), if the table has it."""
    if value.hash_key_attr not in key:
        return  # moto refuses the operation itself
    hash_key = DynamoType(key[value.hash_key_attr])
    if hash_key not in items:
        return
    if not value.range_key_attr:
        items[hash_key] = copy.deepcopy(items[hash_key])
        return
    if value.range_key_attr not in key:
        return
    range_key = DynamoType(key[value.range_key_attr])
    if range_key in items[hash_key]:
        items[hash_key][range_key] = copy.deepcopy(items[hash_key][range_key])


@contextlib.contextmanager
def installed() -> Iterator[None]:
    shim = types.SimpleNamespace(deepcopy=_snapshot, copy=copy.copy)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: DynamoDBBackend, transact_items: Any) -> None:
        _snapshots().clear()
        _local.updated = [
            (op.get("TableName"), op.get("Key", {}))
            for entry in transact_items
            for kind, op in entry.items()
            if kind == "Update"
        ]
        try:
            original(backend, transact_items)
        finally:
            _snapshots().clear()
            _local.updated = []

    with (
        patch.object(dynamodb_models, "copy", shim),
        patch.object(DynamoDBBackend, "transact_write_items", transact_write_items),
    ):
        yield
