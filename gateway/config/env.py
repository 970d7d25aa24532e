"""What the environment adds to the file: secrets, and an override for any scalar.

A secret ``x`` is never written in the file; its key ``x_env`` names the variable that holds it.
Overrides (``GATEWAY__SERVER__PORT``, ``GATEWAY__SOURCES__<NAME>__<KEY>``) are ours, not
pydantic-settings': a source is named, not numbered, and a variable naming nothing is reported.
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Strict, ValidationInfo

from gateway.config.messages import close_to, closest, problem, where

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from gateway.config.messages import Loc

__all__ = [
    "FromEnv",
    "apply_overrides",
    "env_of",
    "file_keys",
    "name_the_variable",
    "read_secrets",
    "secret_fields",
]

PREFIX = "GATEWAY__"


class FromEnv(str):
    """A secret as read from the environment: the only way one reaches a secret field."""

    __slots__ = ()


def env_of(info: ValidationInfo) -> Mapping[str, str] | None:
    """The environment a file is read with; None when code builds a table itself."""
    return (info.context or {}).get("env")


def secret_fields(table: Any) -> list[str]:
    """The fields ``x`` of a table model that have a sibling ``x_env``."""
    return [
        name for name in table.__pydantic_fields__ if f"{name}_env" in table.__pydantic_fields__
    ]


def file_keys(table: Any) -> list[str]:
    """The keys a table may hold: its fields, less the secrets (written as their ``x_env``)."""
    return [name for name in table.__pydantic_fields__ if name not in secret_fields(table)]


def read_secrets(table: Any, data: Any, info: ValidationInfo) -> Any:
    """``data`` with each secret ``x`` read from the variable its ``x_env`` names."""
    env = env_of(info)
    if env is None or not isinstance(data, dict):
        return data
    named = {x: data[f"{x}_env"] for x in secret_fields(table) if f"{x}_env" in data}
    return {x: FromEnv(env.get(str(variable), "")) for x, variable in named.items()} | data


def _is_set(variable: str, info: ValidationInfo) -> str:
    env = env_of(info)
    if env is not None and not env.get(variable):
        raise problem(f"environment variable {variable} is not set (it holds the secret)")
    return variable


def _not_in_file(value: Any, info: ValidationInfo) -> Any:
    if env_of(info) is not None and not isinstance(value, FromEnv):
        name = info.field_name
        raise problem(f"a secret is never written in the file: name its variable with {name}_env")
    return value


EnvVar = Annotated[str, Strict(), AfterValidator(_is_set)]
Secret = Annotated[str, BeforeValidator(_not_in_file)]


def apply_overrides(
    raw: dict[str, Any],
    env: Mapping[str, str],
    sections: Mapping[str, Collection[str]],
    source_keys: Collection[str],
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """``raw`` with the overrides applied (a value is read as a TOML literal if it is one, else
    as a string), which variable set which key (by its message's prefix), and a problem for
    each ``GATEWAY__`` variable that names no section, source or key."""
    result = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    sources = [dict(s) if isinstance(s, dict) else s for s in result.get("sources", [])]
    result |= {"sources": sources} if sources else {}
    names = [str(s.get("name")).replace("-", "_") if isinstance(s, dict) else "" for s in sources]
    overridden: dict[str, str] = {}
    problems: list[str] = []
    for variable, text in env.items():
        if not variable.startswith(PREFIX):
            continue
        path = variable.removeprefix(PREFIX).lower().split("__")
        loc: Loc
        if len(path) == 2 and path[0] in sections:
            key, known, said = path[1], sections[path[0]], f"{path[0]}."
            table, loc = result.setdefault(path[0], {}), (path[0], key)
        elif len(path) == 3 and path[0] == "sources":
            key, known, said = path[2], source_keys, "a source's "
            index = names.index(path[1]) if path[1] in names else None
            table, loc = (None, ()) if index is None else (sources[index], ("sources", index, key))
        else:
            problems.append(_not_an_override(variable, path[0], sections))
            continue
        if key not in known:
            problems.append(f"{variable}: {said}{key} is not a key{_suggest(variable, key, known)}")
        elif table is None:
            problems.append(f"{variable}: no source named '{path[1]}' to override")
        elif isinstance(table, dict):
            table[key] = _literal(text)
            overridden[where(loc, result)] = variable
    return result, overridden, problems


def name_the_variable(line: str, overridden: Mapping[str, str]) -> str:
    """``server.port: …`` gains ``(set by GATEWAY__SERVER__PORT)`` when the environment set it."""
    variable = next((v for prefix, v in overridden.items() if line.startswith(prefix)), None)
    return f"{line} (set by {variable})" if variable else line


def _not_an_override(variable: str, section: str, sections: Collection[str]) -> str:
    close = closest(section, [*sections, "sources"])
    hint = f"; did you mean section '{close}'?" if close and close != section else ""
    return (
        f"{variable}: not an override this gateway knows "
        f"(GATEWAY__<SECTION>__<KEY> or GATEWAY__SOURCES__<NAME>__<KEY>){hint}"
    )


def _suggest(variable: str, key: str, known: Collection[str]) -> str:
    """The variable meant (``GATEWAY__SERVER__PORT``), else the keys there are."""
    close = closest(key, known)
    return (
        f" (did you mean {variable[: -len(key)]}{close.upper()}?)"
        if close
        else close_to(key, known)
    )


def _literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
