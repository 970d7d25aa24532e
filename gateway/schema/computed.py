"""Plain fields whose value is computed when a query asks for it.

strawberry answers a field without a resolver ("basic") by ``StrawberryConfig.default_resolver``
alone: no Info object, no argument handling, no extension wrappers. A field with a resolver pays
all of that, about 8 µs a field here, which for ``Execution.status`` and ``steps`` was a tenth of
a 20-execution query's CPU. A ``Computed`` value keeps such a field basic and still lazy: the
schema's default resolver (``resolve_attribute``) calls it when, and only when, the field is
asked. A field that gains an extension or a permission class stops being basic, and strawberry's
full resolver path then runs around the same default resolver, so nothing is bypassed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Computed", "resolve_attribute"]

T = TypeVar("T")


class Computed(Generic[T]):
    """A field's value, computed from its object when asked (perhaps awaitable; GraphQL awaits
    it). ``compute`` takes the object rather than closing over it: one ``Computed`` can serve
    every object, and no object holds a reference to itself (it is freed without the cycle
    collector)."""

    __slots__ = ("compute", "sync")

    def __init__(self, compute: Callable[[Any], T], *, sync: bool = False) -> None:
        self.compute = compute
        self.sync = sync
        """``compute`` never returns an awaitable and starts nothing (no load): the speed work
        may then compute it while answering a whole object, and drop the value if the object
        goes the standard way after all."""


def resolve_attribute(source: Any, name: str) -> Any:
    """The schema's default resolver: the attribute, and a ``Computed`` one computed."""
    value = getattr(source, name)
    if value.__class__ is Computed:
        return value.compute(source)
    return value
