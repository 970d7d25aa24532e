"""The schema guard (tests/ops/schema_guard.py): schema.graphql may not break the released schema
unless CHANGELOG.md or docs/design-changes.md says so, with a reason. GraphQL Inspector runs for
real under node; the released schema, the changelog and the version are the repository's own."""

from __future__ import annotations

import os
import re
import tomllib
from typing import TYPE_CHECKING

import pytest
from packaging.version import Version

from tests.ops import schema_guard
from tests.ops.schema_guard import (
    CHANGELOG,
    CURRENT,
    DESIGN_CHANGES,
    RELEASED,
    ROOT,
    check,
    declarations,
    unreleased_section,
)

if TYPE_CHECKING:
    from pathlib import Path

REMOVED_FIELD = "  nativeId: String!\n"
"""Taken out of the released schema: Execution and Step both have it, so one edit breaks two paths."""
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


@pytest.fixture(autouse=True)
def inspector() -> None:
    missing = schema_guard.inspector_ready()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the schema guard)")
        pytest.skip(missing)


@pytest.fixture
def without_native_id(tmp_path: Path) -> Path:
    released = RELEASED.read_text(encoding="utf-8")
    assert released.count(REMOVED_FIELD) == 2
    current = tmp_path / "schema.graphql"
    current.write_text(released.replace(REMOVED_FIELD, ""), encoding="utf-8")
    return current


def changelog(tmp_path: Path, unreleased: str, released: str = "") -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(
        f"# Changelog\n\n## [Unreleased]\n\n{unreleased}\n\n## [0.1.0] - 2026-12-04\n\n{released}\n",
        encoding="utf-8",
    )
    return path


def empty(tmp_path: Path, name: str = "design-changes.md") -> Path:
    path = tmp_path / name
    path.write_text("# Where the code departs from the agreed design\n", encoding="utf-8")
    return path


def test_schema_graphql_breaks_no_released_client_without_saying_so() -> None:
    verdict = check()
    assert verdict.passed, verdict.report()
    assert not verdict.without_reason, verdict.report()


def test_declaring_policy_with_directives_breaks_no_client(tmp_path: Path) -> None:
    """The gate's and the cache's rules are schema directives (@cost, @fixedOnceTerminal …):
    declaring one, and putting it on a type or field, is no break a client must be told of."""
    released = RELEASED.read_text(encoding="utf-8")
    current = tmp_path / "schema.graphql"
    current.write_text(
        "directive @cost(upstreamCalls: Int!) on OBJECT | FIELD_DEFINITION\n\n"
        + released.replace(
            "  nativeId: String!\n", "  nativeId: String! @cost(upstreamCalls: 0)\n"
        ).replace(
            "type Execution implements Node {",
            "type Execution implements Node @cost(upstreamCalls: 1) {",
        ),
        encoding="utf-8",
    )
    verdict = check(
        current=current, changelog=changelog(tmp_path, ""), design_changes=empty(tmp_path)
    )
    assert verdict.passed, verdict.report()
    added = {c.name for c in verdict.changes if c.level != "NON_BREAKING"}
    assert {"Execution.@cost", "Execution.nativeId.@cost", "Step.nativeId.@cost"} <= added


def test_a_removed_field_fails_the_guard(tmp_path: Path, without_native_id: Path) -> None:
    verdict = check(current=without_native_id, changelog=CHANGELOG, design_changes=empty(tmp_path))
    assert not verdict.passed
    assert {c.name for c in verdict.undeclared} == {"Execution.nativeId", "Step.nativeId"}
    assert {c.type for c in verdict.undeclared} == {"FIELD_REMOVED"}
    assert "breaking and not declared: `Execution.nativeId`, `Step.nativeId`" in verdict.report()


def test_the_command_exits_1_on_an_undeclared_break_and_0_once_declared(
    tmp_path: Path, without_native_id: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--current", str(without_native_id), "--design-changes", str(empty(tmp_path))]
    undeclared = changelog(tmp_path, "### Added\n\n- Something else.")
    assert schema_guard.main([*arguments, "--changelog", str(undeclared)]) == 1
    assert "FAILED" in capsys.readouterr().out

    declared = changelog(
        tmp_path,
        "### Removed\n\n- **Breaking:** `Execution.nativeId` and `Step.nativeId` removed: the\n"
        "  global id carries the upstream's id, and `raw` keeps the rest.",
    )
    assert schema_guard.main([*arguments, "--changelog", str(declared)]) == 0
    assert "schema guard: passed" in capsys.readouterr().out


def test_a_declaration_covers_only_the_paths_it_names(
    tmp_path: Path, without_native_id: Path
) -> None:
    half = changelog(tmp_path, "- **Breaking:** `Execution.nativeId` removed: the id says it all.")
    verdict = check(current=without_native_id, changelog=half, design_changes=empty(tmp_path))
    assert [c.name for c in verdict.undeclared] == ["Step.nativeId"]


def test_design_changes_may_declare_a_break(tmp_path: Path, without_native_id: Path) -> None:
    design = tmp_path / "design-changes.md"
    design.write_text(
        "# Design changes\n\n## GraphQL surface\n\n"
        "- **Breaking:** `Execution.nativeId`, `Step.nativeId`: the design drops native ids\n"
        "  from the unified model.\n",
        encoding="utf-8",
    )
    verdict = check(
        current=without_native_id, changelog=changelog(tmp_path, ""), design_changes=design
    )
    assert verdict.passed, verdict.report()


def test_a_declaration_without_a_reason_or_in_a_released_section_does_not_count(
    tmp_path: Path, without_native_id: Path
) -> None:
    bare = changelog(tmp_path, "- **Breaking:** `Execution.nativeId`, `Step.nativeId`.")
    verdict = check(current=without_native_id, changelog=bare, design_changes=empty(tmp_path))
    assert len(verdict.undeclared) == 2
    assert verdict.without_reason == ["- **Breaking:** `Execution.nativeId`, `Step.nativeId`."]

    old = changelog(
        tmp_path,
        "- Nothing breaking.",
        released="- **Breaking:** `Execution.nativeId` and `Step.nativeId` removed long ago.",
    )
    verdict = check(current=without_native_id, changelog=old, design_changes=empty(tmp_path))
    assert len(verdict.undeclared) == 2, "only [Unreleased] declares what is not yet released"


def test_additions_and_dangerous_changes_pass_undeclared(tmp_path: Path) -> None:
    released = RELEASED.read_text(encoding="utf-8")
    grown = released.replace(
        "type Step implements Node {\n", "type Step implements Node {\n  note: String\n"
    ).replace("enum ExecutionStatus {\n", "enum ExecutionStatus {\n  PAUSED\n")
    assert grown != released
    current = tmp_path / "schema.graphql"
    current.write_text(grown, encoding="utf-8")
    verdict = check(
        current=current, changelog=changelog(tmp_path, ""), design_changes=empty(tmp_path)
    )
    assert verdict.passed, verdict.report()
    levels = {c.name: c.level for c in verdict.changes}
    assert levels == {"Step.note": "NON_BREAKING", "ExecutionStatus.PAUSED": "DANGEROUS"}


def test_a_wrapped_entry_is_read_as_one() -> None:
    declared, without_reason = declarations(
        "- **Breaking:** `A.b` went away: callers\n  read `A.c` instead of it.\n- Other.\n"
    )
    assert set(declared) == {"A.b", "A.c"}
    assert not without_reason


def test_the_released_schema_is_the_changelogs_last_release() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    newest = RELEASE_HEADING.search(text)
    assert newest is not None, "a released version: ## [X.Y.Z] - YYYY-MM-DD"
    assert text.index("## [Unreleased]") < newest.start(), "[Unreleased] comes first"
    releases = RELEASE_HEADING.findall(text)
    last = releases[0][0]
    header = RELEASED.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith(f"# execution-gateway {last}:"), header
    assert unreleased_section(text).strip(), "the changes since the last release are listed"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert Version(project["version"]) > Version(last), "the version moves on after a release"
    versions = [Version(v) for v, _ in releases]
    assert versions == sorted(versions, reverse=True), "newest release first"


def test_the_guard_reads_the_repositorys_own_files() -> None:
    assert CURRENT == ROOT / "schema.graphql"
    assert DESIGN_CHANGES.is_file()
    assert RELEASED.is_file()
