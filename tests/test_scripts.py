"""scripts/install: installs once, then skips until an input changes; a failed pip is never stamped.

The script runs for real on a copy of the repository's files; the venv's ``python`` is a stand-in
that records its arguments, so the test counts pip runs without downloading anything.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ("scripts/install", "scripts/system-packages", "pyproject.toml", "constraints.txt")
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/../calls.log"
case "$*" in *constraints.txt*) exit "${FAIL_PIP:-0}" ;; esac
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the install's inputs with a venv whose python only records its calls."""
    for name in INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(FAKE_PYTHON, encoding="utf-8")
    (bin_dir / "python").chmod(0o755)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("version = 3.11\n", encoding="utf-8")
    return tmp_path


def install(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the repository's own script)
        [str(repo / "scripts" / "install"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def pip_runs(repo: Path) -> int:
    log = repo / ".venv" / "calls.log"
    return log.read_text(encoding="utf-8").count("constraints.txt") if log.exists() else 0


def test_a_second_install_skips_until_an_input_changes(repo: Path) -> None:
    first = install(repo)
    assert first.returncode == 0, first.stderr
    assert "installing the gateway" in first.stderr, "the long step says what it is doing"
    assert pip_runs(repo) == 1

    again = install(repo)
    assert again.returncode == 0, again.stderr
    assert ".venv is up to date" in again.stderr
    assert pip_runs(repo) == 1

    with (repo / "constraints.txt").open("a", encoding="utf-8") as constraints:
        constraints.write("# changed\n")
    changed = install(repo)
    assert changed.returncode == 0, changed.stderr
    assert pip_runs(repo) == 2


def test_a_failed_install_is_reported_and_not_stamped(repo: Path) -> None:
    failed = install(repo, FAIL_PIP="1")
    assert failed.returncode != 0
    assert "pip failed" in failed.stderr
    assert not (repo / ".venv" / ".install-stamp").exists()
    assert install(repo).returncode == 0
    assert pip_runs(repo) == 2, "the failed run was not taken for a finished one"


def test_the_serving_install_uses_the_pinned_uv_once(repo: Path) -> None:
    """scripts/demo's install (--serve): uv installs the same pins, and a second run skips."""
    first = install(repo, "--serve")
    assert first.returncode == 0, first.stderr
    calls = (repo / ".venv" / "calls.log").read_text(encoding="utf-8").splitlines()
    assert any(call.startswith("-m pip install") and "uv==" in call for call in calls)
    assert any(call.startswith("-m uv pip install") and "constraints.txt" in call for call in calls)
    assert "up to date" in install(repo, "--serve").stderr
    assert pip_runs(repo) == 1
