"""``GATEWAY__<SECTION>__<KEY>`` and ``GATEWAY__SOURCES__<NAME>__<KEY>``, set into the file as
written before it is validated, so that a value or key they get wrong is reported like the same
mistake in the file. A source is named, not numbered, which pydantic-settings cannot do."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

from gateway.config.keys import as_tables, close_to

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.config.keys import Loc

__all__ = ["apply_overrides"]

PREFIX = "GATEWAY__"
NOT_AN_OVERRIDE = "not an override (GATEWAY__<SECTION>__<KEY> or GATEWAY__SOURCES__<NAME>__<KEY>)"


def apply_overrides(
    raw: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[Loc, str], list[str]]:
    """Set each key a ``GATEWAY__`` variable names into ``raw`` (its value read as a TOML literal
    if it is one, else as a string): which variable set which key, and a problem for each
    variable that names no source or table."""
    sources = as_tables(raw.get("sources"))
    names = [str(source.get("name")) for source in sources]
    variables = [name.replace("-", "_") for name in names]  # how a variable spells each name
    set_by: dict[Loc, str] = {}
    found: list[str] = []
    place: Loc
    for variable, text in env.items():
        if not variable.startswith(PREFIX):
            continue
        *at, key = variable.removeprefix(PREFIX).lower().split("__")
        if len(at) == 2 and at[0] == "sources" and at[1] in variables:
            index = variables.index(at[1])
            table, place = sources[index], ("sources", index, key)
        elif len(at) == 1 and at[0] not in ("sources", "notifications"):
            table, place = raw.setdefault(at[0], {}), (at[0], key)
        else:
            found.append(f"{variable}: {_wrong(at, names)}")
            continue
        if isinstance(table, dict):
            table[key], set_by[place] = _literal(text), variable
    return set_by, found


def _wrong(at: list[str], names: list[str]) -> str:
    """Why a variable overrides nothing; a source's name as the file spells it (``rv-eu``)."""
    if len(at) != 2 or at[0] != "sources":
        return NOT_AN_OVERRIDE
    wanted = at[1].replace("_", "-")
    close = close_to(wanted, names, listing=False, cutoff=0.5)  # short names: 'rb' is near 'rv'
    return f"no source named '{wanted}' to override{close}"


def _literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
