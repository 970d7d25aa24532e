"""The schema guard: ``schema.graphql`` against the last released schema, compared by GraphQL
Inspector (``tests/schema_guard``, run by node).

A breaking change (a removed field, a narrowed type, a new required argument …) fails unless it
is declared, with its reason, in one entry of CHANGELOG.md's ``[Unreleased]`` section or of
docs/design-changes.md::

    - **Breaking:** `Execution.nativeId` removed: global ids carry it; read `raw` for the rest.

The entry names each change by Inspector's path in backticks (``Type``, ``Type.field``,
``Type.field.argument``, ``Enum.VALUE``) and says why in at least three words of its own. Only
``[Unreleased]`` counts in the changelog: a release replaces ``schema/released.graphql``, so what
an older section declared is already in it. Dangerous and safe changes pass.

``.venv/bin/python -m tests.ops.schema_guard`` prints the verdict; tests/ops/test_schema_guard.py
runs the same check in every ``scripts/test``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASED = ROOT / "schema" / "released.graphql"
CURRENT = ROOT / "schema.graphql"
CHANGELOG = ROOT / "CHANGELOG.md"
DESIGN_CHANGES = ROOT / "docs" / "design-changes.md"
INSPECTOR_DIR = ROOT / "tests" / "schema_guard"
INSPECTOR = INSPECTOR_DIR / "node_modules" / "@graphql-inspector" / "core"

MARKER = "**Breaking:**"
REASON_WORDS = 3
"""Words an entry needs besides the marker and the paths, so a bare list of paths is no reason."""
BACKTICKED = re.compile(r"`([^`]+)`")
UNRELEASED = re.compile(r"^## \[Unreleased\]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference Inspector found; ``level`` is BREAKING, DANGEROUS or NON_BREAKING."""

    level: str
    type: str
    path: str
    message: str

    @property
    def name(self) -> str:
        """What a declaration names: the path, or the change's type where it has none."""
        return self.path or self.type


def inspector_ready() -> str | None:
    """Why the diff cannot run here, or None when node and the package are installed."""
    if shutil.which("node") is None:
        return "node is not installed; the schema guard runs GraphQL Inspector with it"
    if not INSPECTOR.is_dir():
        return f"{INSPECTOR_DIR.relative_to(ROOT)}/node_modules is missing; scripts/install runs npm ci there"
    return None


def schema_changes(released: Path, current: Path) -> list[Change]:
    """Every change from ``released`` to ``current``, as GraphQL Inspector classifies it."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    finished = subprocess.run(  # noqa: S603 (our own script, on our own files)
        [node, str(INSPECTOR_DIR / "diff.mjs"), str(released), str(current)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"GraphQL Inspector failed ({finished.returncode}): {finished.stderr}")
    return [Change(**json.loads(line)) for line in finished.stdout.splitlines() if line.strip()]


def entries(text: str) -> list[str]:
    """Markdown list items and paragraphs, each joined into one line (items may wrap)."""
    found: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        starts_item = stripped.startswith(("- ", "* ")) and not line.startswith((" ", "\t"))
        if not stripped or stripped.startswith("#") or starts_item:
            if current:
                found.append(" ".join(current))
            current = [stripped] if starts_item else []
            continue
        current.append(stripped)
    if current:
        found.append(" ".join(current))
    return found


def unreleased_section(changelog: str) -> str:
    """CHANGELOG.md's ``## [Unreleased]`` section, up to the next ``## `` heading."""
    lines = changelog.splitlines()
    start = next((i for i, line in enumerate(lines) if UNRELEASED.match(line)), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start + 1 : end])


def declarations(text: str) -> tuple[dict[str, str], list[str]]:
    """The names declared breaking in ``text`` with their reasons, and the entries that have the
    marker but no reason (reported, never counted)."""
    declared: dict[str, str] = {}
    without_reason: list[str] = []
    for entry in entries(text):
        if MARKER not in entry:
            continue
        names = BACKTICKED.findall(entry)
        reason = BACKTICKED.sub(" ", entry.replace(MARKER, " ")).strip(" -*")
        if len(re.findall(r"[A-Za-z]{2,}", reason)) < REASON_WORDS:
            without_reason.append(entry)
            continue
        for name in names:
            declared[name.strip()] = reason
    return declared, without_reason


@dataclass(frozen=True, slots=True)
class Verdict:
    changes: list[Change]
    undeclared: list[Change]
    without_reason: list[str]

    @property
    def passed(self) -> bool:
        return not self.undeclared

    def report(self) -> str:
        counts = {
            level: sum(c.level == level for c in self.changes)
            for level in ("BREAKING", "DANGEROUS", "NON_BREAKING")
        }
        lines = [
            "schema guard: "
            + ", ".join(f"{n} {level.lower().replace('_', '-')}" for level, n in counts.items())
        ]
        lines += [
            f"  {c.level}: {c.name}: {c.message}" for c in self.changes if c.level != "NON_BREAKING"
        ]
        lines += [
            f"  declared without a reason (not counted): {entry}" for entry in self.without_reason
        ]
        if self.undeclared:
            names = ", ".join(f"`{c.name}`" for c in self.undeclared)
            lines.append(
                f"schema guard: FAILED: breaking and not declared: {names}. Keep the schema "
                f"compatible, or add to CHANGELOG.md's [Unreleased]: "
                f"- {MARKER} {names} <what changed and why, for the clients>"
            )
        else:
            lines.append("schema guard: passed")
        return "\n".join(lines)


def check(
    released: Path = RELEASED,
    current: Path = CURRENT,
    changelog: Path = CHANGELOG,
    design_changes: Path = DESIGN_CHANGES,
) -> Verdict:
    """Diff the two schemas and hold each breaking change against the declarations."""
    changes = schema_changes(released, current)
    declared: dict[str, str] = {}
    without_reason: list[str] = []
    for text in (
        unreleased_section(changelog.read_text(encoding="utf-8")),
        design_changes.read_text(encoding="utf-8"),
    ):
        found, missing = declarations(text)
        declared.update(found)
        without_reason += missing
    undeclared = [c for c in changes if c.level == "BREAKING" and c.name not in declared]
    return Verdict(changes, undeclared, without_reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="schema_guard", description="schema.graphql against the last released schema"
    )
    parser.add_argument("--released", type=Path, default=RELEASED)
    parser.add_argument("--current", type=Path, default=CURRENT)
    parser.add_argument("--changelog", type=Path, default=CHANGELOG)
    parser.add_argument("--design-changes", type=Path, default=DESIGN_CHANGES)
    args = parser.parse_args(argv)
    missing = inspector_ready()
    if missing:
        print(f"schema guard: cannot run: {missing}", file=sys.stderr)
        return 2
    verdict = check(args.released, args.current, args.changelog, args.design_changes)
    print(verdict.report())
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
