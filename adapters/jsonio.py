"""Reading JSON bodies: upstream replies (the engine) and the gateway's own POST bodies."""

from __future__ import annotations

import json as json_lib
from typing import Any

import orjson

__all__ = ["loads_json"]

_DIGIT_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
"""``bytes.translate`` table: every digit becomes ``0``, everything else a space."""
_LONG_NUMBER = b"0" * 19
"""19 digits in a row: a number that may not fit 64 bits, which orjson would read as a float."""


def loads_json(body: bytes) -> Any:
    """orjson (about three times as fast on a typical payload) where it reads exactly what the
    standard library would; the standard library for the rest, so nothing decodes differently:
    bodies with a run of 19 or more digits (orjson turns an integer beyond 64 bits into a float),
    and what orjson refuses but json reads (NaN, a UTF-8 BOM, UTF-16). ValueError if not JSON.
    """
    if _LONG_NUMBER not in body.translate(_DIGIT_MASK):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json_lib.loads(body)
