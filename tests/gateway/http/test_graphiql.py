"""GraphiQL over HTTP: a public page and assets, a protected API, the headers a page needs.

What the page does in a browser is tests/browser's; this is what any HTTP client sees.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pytest

from gateway.http.graphiql import content_security_policy, is_page_load
from gateway.http.graphiql.assets import STATIC_DIR, Assets
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API_KEYS: dict[str, Any] = {
    "mode": "api_key",
    "clients": [{"name": "ide", "key_env": "IDE_KEY", "roles": ["viewer"]}],
}
ASSET_URL = re.compile(r'(?:src|href)="(/graphiql/[^"]+)"')


@pytest.fixture
async def keyed(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(sandbox_url, env={"IDE_KEY": "ide-key-123"}, auth=API_KEYS) as c:
        yield c


async def test_with_api_keys_the_page_and_its_assets_are_public_and_the_api_is_not(
    keyed: httpx.AsyncClient,
) -> None:
    page = await keyed.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert 'data-api-key="required"' in page.text
    assets = ASSET_URL.findall(page.text)
    assert len(assets) == 9
    for url in assets:
        assert (await keyed.get(url)).status_code == 200, url
    refused = await keyed.get("/graphql", params={"query": "{ sources { name } }"}, headers=BROWSER)
    assert refused.status_code == 401
    assert (await keyed.post("/graphql", json={"query": "{ sources { name } }"})).status_code == 401
    allowed = await graphql(
        keyed, "{ sources { name } }", headers={"authorization": "Bearer ide-key-123"}
    )
    assert allowed["data"]["sources"]


async def test_the_page_forbids_framing_sniffing_and_every_origin_but_its_own(
    gateway: httpx.AsyncClient,
) -> None:
    page = await gateway.get("/graphql", headers=BROWSER)
    host = gateway.base_url.netloc.decode()
    policy = dict(
        directive.split(" ", 1) for directive in page.headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == f"'self' ws://{host} wss://{host}"
    assert policy["frame-ancestors"] == "'none'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    assert "<script>" not in page.text, "no inline script: the policy would refuse it"
    assert 'data-api-key="none"' in page.text


@pytest.mark.parametrize(
    ("method", "query", "accept", "page"),
    [
        ("GET", b"", "text/html,*/*;q=0.8", True),
        ("HEAD", b"", "*/*", True),
        ("GET", b"x=1", "text/html", True),
        ("GET", b"query=%7B__typename%7D", "text/html", False),
        ("GET", b"", "application/json", False),
        ("GET", b"", "", False),
        ("POST", b"", "text/html", False),
    ],
)
def test_a_page_load_is_a_get_for_html_without_a_query(
    method: str, query: bytes, accept: str, page: bool
) -> None:
    headers = [(b"accept", accept.encode())] if accept else []
    scope = {"type": "http", "method": method, "query_string": query, "headers": headers}
    assert is_page_load(scope) is page


@pytest.mark.parametrize(
    "host", ["evil.example;script-src *", "a b", "x\u00e9.test", "", "[::1", "h:99999999"]
)
def test_an_odd_host_header_never_reaches_the_policy(host: str) -> None:
    assert "connect-src 'self';" in content_security_policy(host)


def test_a_plain_host_names_the_websocket_origin() -> None:
    assert "connect-src 'self' ws://[::1]:8000 wss://[::1]:8000;" in content_security_policy(
        "[::1]:8000"
    )


async def test_assets_are_immutable_under_their_digest_and_gzipped_when_asked(
    gateway: httpx.AsyncClient,
) -> None:
    digest = Assets().digest
    url = f"/graphiql/{digest}/vendor/graphiql.min.js"
    plain = await gateway.get(url, headers={"accept-encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.content == (STATIC_DIR / "vendor" / "graphiql.min.js").read_bytes()
    zipped = await gateway.get(url, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) // 2
    assert zipped.content == plain.content  # httpx inflated it
    for missing in (
        f"/graphiql/{'0' * len(digest)}/vendor/graphiql.min.js",
        f"/graphiql/{digest}/vendor/nothing.js",
        f"/graphiql/{digest}/../page.html",
        "/graphiql/",
    ):
        assert (await gateway.get(missing)).status_code == 404, missing


async def test_the_root_leads_to_the_ide(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/graphql"


@pytest.mark.parametrize(("auth", "status"), [({}, 404), (API_KEYS, 401)])
async def test_graphiql_off_serves_no_page(
    sandbox_url: str, auth: dict[str, Any], status: int
) -> None:
    async with gateway_client(
        sandbox_url, env={"IDE_KEY": "ide-key-123"}, server={"graphiql": False}, auth=auth
    ) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/graphql", headers=BROWSER)).status_code == status
        assert (
            await client.get(f"/graphiql/{Assets().digest}/gateway-graphiql.js")
        ).status_code == 404


def test_the_record_names_each_vendored_file_and_the_lock_s_integrity() -> None:
    record = json.loads((STATIC_DIR / "vendor" / "SOURCES.json").read_text())
    lock = json.loads((ROOT / "scripts" / "graphiql" / "package-lock.json").read_text())
    wanted = json.loads((ROOT / "scripts" / "graphiql" / "package.json").read_text())
    assert {p["name"]: p["version"] for p in record["packages"]} == wanted["dependencies"]
    for package in record["packages"]:
        locked = lock["packages"][f"node_modules/{package['name']}"]
        assert package["integrity"] == locked["integrity"]
    vendored = {p.name for p in (STATIC_DIR / "vendor").iterdir()} - {
        "SOURCES.json",
        "THIRD_PARTY_LICENSES.txt",
    }
    assert {PurePosixPath(f["file"]).name for f in record["files"]} == vendored
    for file in record["files"]:
        body = (STATIC_DIR / file["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == file["sha256"], file["file"]
    licenses = (STATIC_DIR / "vendor" / "THIRD_PARTY_LICENSES.txt").read_text()
    for package in record["packages"]:
        assert f"\n{package['name']}@{package['version']} (MIT)\n" in licenses


def test_the_wheel_s_package_data_takes_every_asset() -> None:
    """What pyproject.toml's package-data globs take is what the page may ask for."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["gateway.http.graphiql"]
    package = STATIC_DIR.parent
    files = [p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()]
    data = [f for f in files if not f.endswith(".py") and "__pycache__" not in f]
    untaken = [f for f in data if not any(_glob_takes(g, f) for g in globs)]
    assert "page.html" in data
    assert untaken == []


def test_a_gzipped_asset_is_made_once() -> None:
    asset = Assets().get("gateway-graphiql.js")
    assert asset is not None
    assert asset.gzipped is None
    first = asset.compress()
    assert asset.compress() is first
    assert asset.gzipped is first
    assert gzip.decompress(first) == asset.body


def _glob_takes(glob: str, name: str) -> bool:
    """setuptools' reading of a package-data glob: ``*`` stays within one folder."""
    path, pattern = PurePosixPath(name), PurePosixPath(glob)
    return len(path.parts) == len(pattern.parts) and path.match(glob)
