"""pydantic's errors in the file's words: the key first, in file order, one line each."""

from __future__ import annotations

import difflib
import typing
from typing import TYPE_CHECKING, Any

from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic_core import ErrorDetails

__all__ = ["ConfigError", "as_error", "close_to", "closest", "describe", "problem", "where"]

Loc = tuple[str | int, ...]
UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument", "unknown_key")
_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string"}
_WORDS |= dict.fromkeys(("list", "tuple", "set", "frozen_set"), "a list")
_WORDS |= dict.fromkeys(("dict", "dataclass", "model", "model_attributes"), "a table")
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_NAMES |= {list: "a list", dict: "a table"}


class ConfigError(Exception):
    """Configuration problems, each worded for the person who edits the file; one per line."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def problem(message: str, kind: str = "config") -> PydanticCustomError:
    """One problem already in our words, as pydantic carries it."""
    return PydanticCustomError(kind, "{problem}", {"problem": message})


def as_error(
    title: str, errors: Iterable[tuple[Loc, PydanticCustomError | ErrorDetails]]
) -> ValidationError:
    """Problems and pydantic's own errors as one ValidationError, which pydantic lets a validator
    raise: the errors keep their keys, prefixed by the table's place."""
    details: list[InitErrorDetails] = []
    for loc, error in errors:
        if isinstance(error, PydanticCustomError):
            details.append(InitErrorDetails(type=error, loc=loc, input=None))
            continue
        ctx = error.get("ctx", {})
        kind = problem(ctx["problem"], error["type"]) if "problem" in ctx else error["type"]
        details.append(InitErrorDetails(type=kind, loc=loc, input=error["input"], ctx=ctx))
    return ValidationError.from_exception_data(title, details)


def closest(key: str, known: Iterable[str]) -> str | None:
    return next(iter(difflib.get_close_matches(key, list(known), n=1)), None)


def close_to(key: str, known: Iterable[str], *, listing: bool = True) -> str:
    """`` (did you mean 'port'?)``, else the keys there are."""
    if close := closest(key, known):
        return f" (did you mean '{close}'?)"
    return f" (known keys: {', '.join(sorted(known))})" if listing else ""


def where(loc: Loc, raw: dict[str, Any]) -> str:
    """``server.port: ``; a source or target by its name (``source "rv": ``), else its place."""
    head, rest = "", loc
    if len(loc) > 1 and loc[0] in ("sources", "notifications") and isinstance(loc[1], int):
        tables = raw.get(str(loc[0]))
        names = [t.get("name") if isinstance(t, dict) else None for t in tables or ()]
        name = names[loc[1]] if loc[1] < len(names) else None
        unique = isinstance(name, str) and name and name not in names[: loc[1]]
        label = "source" if loc[0] == "sources" else "notification"
        head, rest = (f'{label} "{name}": ' if unique else f"{label} #{loc[1] + 1}: "), loc[2:]
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest)
    return head + (f"{text.lstrip('.')}: " if text else "")


def describe(exc: ValidationError, raw: dict[str, Any], root: type) -> list[str]:
    """One line per error, keyed and in the order of the file (an unknown key first)."""
    errors = sorted(exc.errors(), key=lambda error: _order(error, raw))
    return [f"{where(e['loc'], raw)}{_say(e, root)}" for e in errors]


def _say(error: ErrorDetails, root: type) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    family = kind.removesuffix("_type").removesuffix("_parsing")
    if "problem" in ctx:
        return str(ctx["problem"])
    if kind in UNKNOWN:
        return "unknown key" + close_to(str(error["loc"][-1]), _keys(root, error["loc"][:-1]))
    if kind in ("missing", "missing_keyword_only_argument", "missing_argument"):
        return "missing (required)"
    if family in _WORDS:
        return f"expected {_WORDS[family]}, got {_NAMES.get(type(value), 'a table')} {value!r}"
    if kind in ("literal_error", "enum"):
        choices = ctx["expected"].replace(" or ", ", ").replace(chr(39), "").split(", ")
        hint = close_to(str(value), choices, listing=False)
        return f"'{value}' is not one of {', '.join(choices)}{hint}"
    if kind in ("greater_than", "greater_than_equal") and ctx.get("gt", ctx.get("ge")) == 0:
        return "must be positive" if kind == "greater_than" else "must be zero or more"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    return error["msg"].removeprefix("Value error, ")


def _keys(cls: Any, path: Loc) -> list[str]:
    """The keys the table at ``path`` knows, found by following the fields' types."""
    for part in path:
        if isinstance(part, str):
            cls = _table_in(cls.__pydantic_fields__[part].annotation)
    return list(getattr(cls, "__pydantic_fields__", {}))


def _table_in(annotation: Any) -> Any:
    if hasattr(annotation, "__pydantic_fields__"):
        return annotation
    return next((t for a in typing.get_args(annotation) if (t := _table_in(a))), None)


def _order(error: ErrorDetails, raw: Any) -> list[int]:
    """Each key's place in its table (an unknown one before the rest, a missing one after)."""
    places: list[int] = []
    for part in error["loc"]:
        if isinstance(raw, dict) and part in raw:
            places.append(list(raw).index(part))
        elif isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            places.append(part)
        else:
            return [*places, 1_000_000]
        raw = raw[part]
    return [*places[:-1], -1] if error["type"] in UNKNOWN else places
