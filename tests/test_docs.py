"""The docs stand on their own and say what the code does: no file outside the repository, links that
resolve, every sandbox credential named, every config key documented, and the README's sample answer
equal to the real one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from gateway import config
from gateway.config.keys import file_keys
from gateway.config.sources import source_keys
from gateway.demo import demo_config
from gateway.http.app import create_app
from sandbox import TWINS, Sandbox
from tests.serving import serving

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "scripts" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUTSIDE = re.compile(r"shared/|\.\./shared|/work/|/home/|/tmp/")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_doc_names_no_file_outside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert not [m.group(0) for m in OUTSIDE.finditer(text)], "a reader has only this repository"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_the_sandbox_section_names_every_credential() -> None:
    text = (ROOT / "docs" / "upstreams.md").read_text(encoding="utf-8")
    section = text[text.index("## The sandbox") :]
    for twin in TWINS:
        for name, value in twin.filled_headers():
            assert f"{name}: {value}" in section, (twin.kind, name)


def readme_block(after: str, language: str) -> str:
    start = README.index(f"```{language}\n", README.index(after)) + len(language) + 4
    return README[start : README.index("```", start)]


async def test_the_readme_sample_answer_is_what_the_demo_returns() -> None:
    query = readme_block("### All four sources in one query", "graphql")
    documented = json.loads(readme_block("### All four sources in one query", "json"))
    async with (
        serving(Sandbox().app(), lifespan="off") as sandbox_url,
        serving(create_app(demo_config(sandbox_url, step_kinds=True))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        answer = (await client.post("/graphql", json={"query": query})).json()
    assert answer == documented


def documented_config_keys() -> dict[str, set[str]]:
    """Section → the keys docs/configuration.md's sample file shows in it (commented out or not)."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sample = text[text.index("```toml\n", text.index("## The file")) :]
    sample = sample[: sample.index("\n```\n")]
    sections: dict[str, set[str]] = {}
    keys = sections.setdefault("", set())
    for line in sample.splitlines():
        header = re.fullmatch(r"\[\[?([a-z_.]+)\]\]?.*", line)
        if header:
            keys = sections.setdefault(header.group(1), set())
            continue
        key = re.match(r"#? ?([a-z_]+) *= ", line)
        if key:
            keys.add(key.group(1))
    return sections


def test_every_key_the_config_accepts_is_documented() -> None:
    """Read from the models' fields (and, for sources, every adapter's declarations), so a new
    key needs its line."""
    documented = documented_config_keys()
    tables = {name: key.annotation for name, key in config.GatewayConfig.model_fields.items()}
    accepted = {
        **{
            name: set(file_keys(table)) for name, table in tables.items() if isinstance(table, type)
        },
        "auth.clients": set(file_keys(config.ClientConfig)),
        "sources": source_keys(),
        "notifications": set(file_keys(config.NotificationTarget)),
    }
    accepted["auth"].discard("clients")  # the [[auth.clients]] tables
    for section, keys in accepted.items():
        assert keys <= documented.get(section, set()), (section, keys - documented[section])
    for section, keys in documented.items():
        assert keys <= accepted.get(section, set()), f"[{section}] documents unknown {keys}"
