"""Which adapter class serves which kind of source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.langgraph import LangGraphAdapter
from adapters.model import SourceKind
from adapters.nesting import NestingAdapter
from adapters.rotavision import RotavisionAdapter
from adapters.truthlocks import TruthlocksAdapter
from adapters.velt import VeltAdapter

if TYPE_CHECKING:
    from adapters.base import SourceAdapter

__all__ = ["ADAPTERS", "adapter_class"]

ADAPTERS: dict[SourceKind, type[SourceAdapter]] = {
    SourceKind.ROTAVISION: RotavisionAdapter,
    SourceKind.NESTING: NestingAdapter,
    SourceKind.TRUTHLOCKS: TruthlocksAdapter,
    SourceKind.VELT: VeltAdapter,
    SourceKind.LANGGRAPH: LangGraphAdapter,
}


def adapter_class(kind: SourceKind) -> type[SourceAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"no adapter for source kind '{kind.value}' yet") from None
