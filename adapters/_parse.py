"""Small, tolerant readers for upstream JSON, shared by every adapter's pure parser.

Each returns None for a missing or wrongly typed optional value instead of raising: the upstreams
are loosely documented and an extra or absent field must never break an answer. Required values go
through ``require_*``, which raise PayloadError naming the field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from adapters.errors import PayloadError
from adapters.model import ErrorInfo

__all__ = [
    "as_bool",
    "as_decimal",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "duration_ms_between",
    "epoch_ms",
    "error_info",
    "iso_datetime",
    "normalize_word",
    "require_dict",
    "require_str",
]

_NON_ALNUM = re.compile(r"[\s_\-]+")
_NORMALIZED: dict[str, str] = {}
"""Words seen so far, normalized: an upstream uses a handful of status and kind words, read
several times per payload. Bounded by _MAX_NORMALIZED, so odd words cannot grow it for ever."""
_MAX_NORMALIZED = 1024


def normalize_word(value: object) -> str | None:
    """``"Timed-Out"`` → ``"timedout"``: the lookup key for tolerant status maps."""
    if not isinstance(value, str):
        return None
    word = _NORMALIZED.get(value)
    if word is None:
        word = _NON_ALNUM.sub("", value).lower()
        if len(_NORMALIZED) < _MAX_NORMALIZED:
            _NORMALIZED[value] = word
    return word


def as_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def as_decimal(value: object) -> Decimal | None:
    """Numbers become exact decimals via their shortest repr (0.012 stays 0.012, not 0.01199…)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return _to_decimal(value)
    return None


@lru_cache(maxsize=1024, typed=True)
def _to_decimal(value: float | str) -> Decimal | None:
    """Kept per value (typed: ``1`` and ``1.0`` read as ``1`` and ``1.0``): costs and credits
    repeat, and a hit costs a fifth of ``Decimal(str(value))``. Decimals are immutable."""
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def as_dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


_KNOWN_TIMES = 4096
"""Timestamps kept parsed, per reader. A payload repeats its times (a step ends when the next
starts) and a polled run is read again and again, so most are parsed already; reading one from
the cache is about a third of parsing it. Datetimes are immutable, so sharing one is safe."""


def iso_datetime(value: object) -> datetime | None:
    """ISO-8601 text (with ``Z`` or an offset; naive means UTC) → aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    return _from_iso(value)


@lru_cache(maxsize=_KNOWN_TIMES)
def _from_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    tzinfo = parsed.tzinfo
    if tzinfo is UTC:  # "Z" and "+00:00" parse to this very object
        return parsed
    if tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_ms(value: object) -> datetime | None:
    """Epoch milliseconds (Velt) → aware UTC datetime; also accepts a numeric string."""
    number = as_int(value) if not isinstance(value, float) else value
    if number is None or isinstance(number, bool):
        return None
    return _from_epoch_ms(number)


@lru_cache(maxsize=_KNOWN_TIMES, typed=True)
def _from_epoch_ms(number: float) -> datetime | None:
    """``fromtimestamp`` with a zone costs about 1 µs, three times ``fromisoformat``."""
    try:
        return datetime.fromtimestamp(number / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def duration_ms_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds() * 1000)


def require_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def require_str(payload: dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` holding a non-empty string or number, else PayloadError."""
    for key in keys:
        value = as_str(payload.get(key))
        if value:
            return value
    raise PayloadError(f"missing required field {' or '.join(repr(k) for k in keys)}")


def error_info(value: object) -> ErrorInfo | None:
    """An upstream's error: ``{code, message}`` or a bare message string."""
    if isinstance(value, str) and value:
        return ErrorInfo(code=None, message=value)
    data = as_dict(value)
    if not data:
        return None
    return ErrorInfo(code=as_str(data.get("code")), message=as_str(data.get("message")))
