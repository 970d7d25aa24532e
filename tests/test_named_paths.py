"""Every module a docstring or a comment names by its path exists: a file moved or renamed leaves
no code pointing at where it was. (The docs may name a file in its history: "was", "since split".)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adapters", "gateway", "sandbox", "tests", "bench", "scripts")
NAMED = re.compile(r"(?<![\w/.-])((?:[a-z_0-9]+/)+[a-z_0-9]+\.py)\b")
"""``gateway/live/hub.py`` or ``live/hub.py``: at least one directory, so a bare ``hub.py`` (which
may name anything) is not taken for a path."""


def texts() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "node_modules" not in path.parts
    ]


def exists(named: str, text: Path) -> bool:
    """Named from the root, from one of the packages (``live/hub.py`` in gateway's own text), or
    from the naming file's folder."""
    bases = [ROOT, *(ROOT / package for package in PACKAGES), text.parent]
    return any((base / named).is_file() for base in bases)


def test_every_module_named_by_its_path_exists() -> None:
    missing = sorted(
        f"{text.relative_to(ROOT)}: {named}"
        for text in texts()
        for named in set(NAMED.findall(text.read_text(encoding="utf-8", errors="replace")))
        if not exists(named, text)
    )
    assert missing == [], "moved or renamed? say where it is now"
