"""``server.upstream_client = "httpx"`` without the httpx extra is a config error that says what to
install, and ``gateway serve`` refuses to start with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway import cli
from gateway.config import ConfigError
from tests.serving import demo_config_with

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.usefixtures("without_httpx")
def test_httpx_chosen_without_the_extra_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"server\.upstream_client: .*execution-gateway\[httpx\]"):
        demo_config_with("http://127.0.0.1:9", server={"upstream_client": "httpx"})


@pytest.mark.usefixtures("without_httpx")
def test_serve_says_what_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[server]\nupstream_client = "httpx"\n\n[[sources]]\nname = "rv"\nkind = "rotavision"\n'
        'base_url = "http://127.0.0.1:9"\napi_key_env = "HOME"\n',
        encoding="utf-8",
    )
    assert cli.main(["serve", "--config", str(path)]) == cli.EXIT_CONFIG
    assert "pip install 'execution-gateway[httpx]'" in capsys.readouterr().err
