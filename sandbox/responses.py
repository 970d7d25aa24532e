"""The sandbox's JSON replies, encoded by orjson.

The sandbox is the peer of every benchmark and shares the machine with the gateway it serves, so
its encoding time is taken from the system measured: Starlette's encoder (the standard library's)
was a sixth of its CPU per call. The bytes are the same JSON: compact, UTF-8, keys in order, a
float in its shortest form (``1e-7`` where the standard library writes ``1e-07``: the same
number); what orjson would encode otherwise than the standard library (an integer past 2**53, a
non-string key) goes to Starlette's own encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse

__all__ = ["JSONResponse"]

_OPTIONS = orjson.OPT_STRICT_INTEGER


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().render(content)
