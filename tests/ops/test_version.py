"""One version, pyproject.toml's: ``gateway --version``, ``gateway.__version__`` and every image tag
(docker/Dockerfile, docker/compose.yaml, deploy/kubernetes) say the same. Bumping it means editing
the files a failure here names."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

import gateway

ROOT = Path(__file__).resolve().parents[2]
VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "version"
]
IMAGE = "execution-gateway"
TAGGED = re.compile(rf"\b{IMAGE}:([\w.-]+)")


def test_gateway_version_prints_pyprojects_version() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "gateway", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == f"gateway {VERSION}", (
        "the installed metadata is older than pyproject.toml: run scripts/install"
    )
    assert gateway.__version__ == VERSION


def test_every_image_tag_is_the_version() -> None:
    tagged = {
        path: TAGGED.findall(path.read_text(encoding="utf-8"))
        for path in (ROOT / "docker" / "Dockerfile", ROOT / "docker" / "compose.yaml")
    }
    for path, tags in tagged.items():
        assert tags, f"{path.name} names no {IMAGE}:<tag>"
        assert set(tags) == {VERSION}, f"{path.relative_to(ROOT)}: {tags}, not {VERSION}"
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG VERSION={VERSION}\n" in dockerfile
    assert 'org.opencontainers.image.version="${VERSION}"' in dockerfile
    kustomization = yaml.safe_load(
        (ROOT / "deploy" / "kubernetes" / "base" / "kustomization.yaml").read_text(encoding="utf-8")
    )
    assert kustomization["images"] == [{"name": IMAGE, "newTag": VERSION}]


def test_an_unknown_attribute_of_gateway_is_still_an_error() -> None:
    assert not hasattr(gateway, "__versoin__")
