"""A vendor is one room: nothing under ``gateway/`` names a source kind in code.

What the gateway knows of a kind (secrets, options, webhook framing, the status its list finds
waiting runs by, run control, the sandbox banner) is declared by the kind's adapter and sandbox
twin and read from the registries (``adapters/registry.py``, ``sandbox/registry.py``). So a
``SourceKind.VELT``, a ``"velt"`` key or comparison, or a ``velt`` variable in ``gateway/`` is a
per-vendor table creeping back. Prose (docstrings, comments, schema descriptions that say what a
vendor does) may name vendors: it explains, it does not decide.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from adapters.model import SourceKind

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
KIND_VALUES = frozenset(kind.value for kind in SourceKind)
KIND_MEMBERS = frozenset(kind.name for kind in SourceKind)
FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", -1)
"""Python 3.12 splits f-strings into tokens; 3.11 gives one STRING token for them."""


def kind_names_in_code(source: str) -> list[tuple[int, str]]:
    """(line, token) for each token that names a kind as code: a ``SourceKind`` member, a
    string literal equal to a kind's value, or an identifier spelt like one."""
    found: list[tuple[int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type == tokenize.NAME:
            names = text in KIND_MEMBERS or text.lower() in KIND_VALUES
        elif token.type == tokenize.STRING:
            names = _literal_text(text).lower() in KIND_VALUES
        else:
            names = token.type == FSTRING_MIDDLE and text.lower() in KIND_VALUES
        if names:
            found.append((token.start[0], text))
    return found


def _literal_text(token: str) -> str:
    """A string token's text without its prefix letters and quotes."""
    body = token.lstrip("bfruBFRU")
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    return body[len(quote) : -len(quote)]


def test_no_module_in_gateway_names_a_source_kind() -> None:
    offenders = [
        f"{path.relative_to(GATEWAY.parent)}:{line}: {text}"
        for path in sorted(GATEWAY.rglob("*.py"))
        for line, text in kind_names_in_code(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "per-vendor code in gateway/:\n" + "\n".join(offenders)


def test_the_check_sees_each_way_of_naming_a_kind() -> None:
    """The scan is only worth what it catches: each form a table takes is found."""
    code = (
        "TABLE = {SourceKind.VELT: 1}\n"
        'if kind == "rotavision":\n    pass\n'
        "truthlocks = 3\n"
        "x = 'nesting'\n"
        '"""Velt and LangGraph in prose are fine."""\n'
        "# so is Rotavision in a comment\n"
        'description = "Velt only."\n'
    )
    assert [text for _, text in kind_names_in_code(code)] == [
        "VELT",
        '"rotavision"',
        "truthlocks",
        "'nesting'",
    ]
