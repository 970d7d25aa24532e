"""What a key may hold: strict scalars, and secrets. A secret ``x`` is never written in the file:
its key ``x_env`` names the variable holding it, which each table reads before its fields. And
where a key stands in the file as written (``Loc``, ``as_tables``), read before any validation."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator, Strict, ValidationInfo
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "FromEnv",
    "as_table",
    "as_tables",
    "close_to",
    "file_keys",
    "problem",
    "read_secrets",
]

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is a number too: ``timeout_s = 2``
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Positive = Annotated[Float, Field(gt=0)]
Name = Annotated[Str, Field(pattern=r"^[a-z0-9-]{1,32}$")]
URL = r"^https?://[^/\s]+"
Url = Annotated[Str, Field(pattern=URL)]
Loc = tuple[str | int, ...]  # a key's place: ("sources", 0, "kind")


class ConfigError(Exception):
    """Configuration problems, each worded for the person who edits the file; one per line."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FromEnv(str):
    """A secret as read from the environment, the only way one reaches a secret field; its repr
    hides it, wherever it is kept."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<secret>'"


def problem(message: str) -> PydanticCustomError:
    """One problem already in our words, as pydantic carries it."""
    return PydanticCustomError("config", "{problem}", {"problem": message})


def close_to(key: str, known: Iterable[str], *, listing: bool = True, cutoff: float = 0.6) -> str:
    """`` (did you mean 'port'?)``, else the keys there are."""
    if close := difflib.get_close_matches(key, list(known), n=1, cutoff=cutoff):
        return f" (did you mean '{close[0]}'?)"
    return f" (known keys: {', '.join(sorted(known))})" if listing else ""


def as_table(value: Any) -> dict[str, Any]:
    """A table as written; anything else (reported by validation) as an empty one."""
    return value if isinstance(value, dict) else {}


def as_tables(value: Any) -> list[dict[str, Any]]:
    """An array of tables as written (``[[sources]]``), each through ``as_table``."""
    return [as_table(table) for table in value] if isinstance(value, list) else []


def file_keys(table: Any) -> list[str]:
    """The keys a table may hold: its fields, less the secrets (written as their ``x_env``)."""
    fields = table.__pydantic_fields__
    return [name for name in fields if f"{name}_env" not in fields]


def read_secrets(cls: Any, data: Any, info: ValidationInfo) -> Any:
    """``data`` with each secret ``x`` read from the variable its ``x_env`` names."""
    if not info.context or not isinstance(data, dict):
        return data
    env, fields = info.context["env"], cls.__pydantic_fields__
    named = [x for x in fields if f"{x}_env" in data and f"{x}_env" in fields]
    return {x: FromEnv(env.get(str(data[f"{x}_env"]), "")) for x in named} | data


def _is_set(variable: str, info: ValidationInfo) -> str:
    if info.context and not info.context["env"].get(variable):
        raise problem(f"environment variable {variable} is not set (it holds the secret)")
    return variable


def _from_env(value: Any, info: ValidationInfo) -> Any:
    if info.context and not isinstance(value, FromEnv):
        name = info.field_name
        raise problem(f"a secret is never written in the file: name its variable with {name}_env")
    return value


EnvVar = Annotated[str, Strict(), AfterValidator(_is_set)]
Secret = Annotated[str, PlainValidator(_from_env)]
