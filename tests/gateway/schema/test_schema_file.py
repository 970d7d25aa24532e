"""``schema.graphql`` is the schema the code serves; a difference names what clients would lose."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from gateway.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    current = schema.as_str() + "\n"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    if current == committed:
        return
    old, new = parse_sdl(committed), parse_sdl(current)
    changes = [f"BREAKING {c.type.name}: {c.description}" for c in find_breaking_changes(old, new)]
    changes += [
        f"DANGEROUS {c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)
    ]
    if not changes:
        changes = ["additions or description changes only"]
    raise AssertionError(
        "schema.graphql is out of date; run `gateway export-schema --output schema.graphql`.\n"
        + "\n".join(changes)
    )
