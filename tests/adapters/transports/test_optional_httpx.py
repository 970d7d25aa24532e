"""httpx is optional (the ``httpx`` extra): the adapters, the engine and the other transports
import and run without it, and asking for it where it is missing says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.errors import UpstreamRateLimited
from adapters.transports import check_client, make_transport
from adapters.truthlocks import TruthlocksAdapter

if TYPE_CHECKING:
    from tests.adapters.transports.peer import Serve

INSTALL_HINT = r"pip install 'execution-gateway\[httpx\]'"


def test_every_adapter_module_imports_without_httpx() -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["httpx"] = None
        import adapters
        for module in pkgutil.walk_packages(adapters.__path__, "adapters."):
            if module.name != "adapters.transports.httpx":
                importlib.import_module(module.name)
        print("imported")
        """
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


@pytest.mark.usefixtures("without_httpx")
def test_httpx_asked_for_without_it_says_what_to_install() -> None:
    check_client("httptools")
    check_client("aiohttp")
    with pytest.raises(ValueError, match=INSTALL_HINT):
        check_client("httpx")
    with pytest.raises(ValueError, match=INSTALL_HINT):
        make_transport("httpx", base_url="http://127.0.0.1:9", headers={}, max_connections=1)


def test_an_unknown_client_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown upstream client 'curl' \(one of httptools"):
        check_client("curl")


@pytest.mark.usefixtures("without_httpx")
@pytest.mark.parametrize("client", ["httptools", "aiohttp"])
async def test_an_error_reply_is_read_without_httpx(serve: Serve, client: str) -> None:
    """``read_error`` reads the transport's own response: Truthlocks' 402 without a code is its
    plan limit, which only the status says."""
    body = b'{"message":"plan limit reached"}'
    peer = await serve(
        [
            b"HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        ]
    )
    adapter = TruthlocksAdapter.create(
        name="tl",
        base_url=f"http://127.0.0.1:{peer.port}",
        credentials=Credentials(api_key="k", tenant_id="t1"),
        settings=HTTPSettings(retries=0),
        client=client,
    )
    try:
        with pytest.raises(UpstreamRateLimited) as raised:
            await adapter.get_execution("run-1")
    finally:
        await adapter.aclose()
    assert (raised.value.http_status, raised.value.source) == (402, "tl")
