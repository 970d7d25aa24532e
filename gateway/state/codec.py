"""Executions to bytes and back, so a cached execution can live in a store other replicas read.

JSON (orjson), driven by the model's own type hints: a field added to the model travels without
a change here. Every value is data: nothing is unpickled, so a compromised store can at worst give
a wrong execution, never run code. A payload this build cannot read (written by another version
with a different model) decodes to None and counts as a miss.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import types
import typing
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from adapters import model
from adapters.model import Execution

__all__ = [
    "FORMAT_VERSION",
    "decode_execution",
    "decode_record",
    "encode_execution",
    "encode_record",
    "execution_from_plain",
    "execution_to_plain",
]

T = typing.TypeVar("T")

FORMAT_VERSION = 1
"""Bumped when the encoding (not the model) changes; part of every payload."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def encode_execution(execution: Execution) -> bytes:
    return orjson.dumps({"v": FORMAT_VERSION, "execution": _plain(execution)})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    namespace = {**vars(model), **vars(module), "datetime": datetime, "Decimal": Decimal}
    return typing.get_type_hints(cls, globalns=namespace)


def _build(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_build(item, v) for v in value)
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            hints = _hints(hint)
            return hint(**{k: _build(hints[k], v) for k, v in value.items()})
        if issubclass(hint, enum.Enum):
            return hint(value)
        if hint is datetime:
            return datetime.fromisoformat(value)
        if hint is Decimal:
            return Decimal(value)
    return value


def decode_execution(payload: bytes) -> Execution | None:
    """The execution, or None when the payload is not one this build wrote."""
    try:
        document = orjson.loads(payload)
        if document.get("v") != FORMAT_VERSION:
            return None
        execution = _build(Execution, document["execution"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return execution if isinstance(execution, Execution) else None


def encode_record(value: object) -> bytes:
    """Any frozen dataclass of the model's kinds of values (a decision's outcome, say)."""
    return orjson.dumps({"v": FORMAT_VERSION, "record": _plain(value)})


def decode_record(kind: type[T], payload: bytes) -> T | None:
    """The ``kind`` instance ``encode_record`` wrote, or None when this build cannot read it."""
    try:
        document = orjson.loads(payload)
        if document.get("v") != FORMAT_VERSION:
            return None
        value = _build(kind, document["record"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return value if isinstance(value, kind) else None


def execution_to_plain(execution: Execution) -> dict[str, Any]:
    """The execution as a JSON object (for a message that carries it to other replicas)."""
    plain: dict[str, Any] = _plain(execution)
    return plain


def execution_from_plain(plain: object) -> Execution | None:
    """What ``execution_to_plain`` made, or None when this build cannot read it."""
    try:
        execution = _build(Execution, plain)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return execution if isinstance(execution, Execution) else None
