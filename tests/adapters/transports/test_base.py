"""The rules every transport takes from ``adapters.transports.base``: proxies and request checks."""

from __future__ import annotations

import pytest

from adapters.transports import Proxy, TransportOptions, UnsafeRequest
from adapters.transports.base import check_request

PROXY = "http://proxy.corp:3128"


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://api.example.com", {"HTTPS_PROXY": PROXY}, "http://proxy.corp:3128"),
        (
            "https://api.example.com",
            {"https_proxy": PROXY, "HTTPS_PROXY": "http://other:1"},
            "http://proxy.corp:3128",
        ),
        ("http://api.example.com", {"HTTPS_PROXY": PROXY}, None),
        ("http://api.example.com", {"HTTP_PROXY": "proxy.corp:8080"}, "http://proxy.corp:8080"),
        ("https://api.example.com", {"ALL_PROXY": PROXY}, "http://proxy.corp:3128"),
        ("https://api.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": ".example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "*.example.com"}, None),
        (
            "https://notexample.com",
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"},
            "http://proxy.corp:3128",
        ),
        ("https://api.example.com", {"HTTPS_PROXY": PROXY, "no_proxy": "a.test, *"}, None),
        ("https://10.1.2.3", {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, None),
        (
            "https://11.1.2.3",
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"},
            "http://proxy.corp:3128",
        ),
        ("https://[fd00::1]", {"HTTPS_PROXY": PROXY, "NO_PROXY": "fd00::/8"}, None),
        ("http://localhost:9000", {"HTTP_PROXY": PROXY}, None),
        ("http://127.0.0.1:9000", {"HTTP_PROXY": PROXY}, None),
        ("http://[::1]:9000", {"HTTP_PROXY": PROXY}, None),
        ("https://api.example.com", {}, None),
    ],
)
def test_which_proxy_the_environment_names(
    url: str, env: dict[str, str], expected: str | None
) -> None:
    proxy = TransportOptions().proxy_for(url, env)
    assert (proxy.url if proxy else None) == expected


def test_trust_env_off_ignores_the_environment_and_proxy_url_always_wins() -> None:
    env = {"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}
    assert TransportOptions(trust_env=False).proxy_for("https://api.example.com", env) is None
    explicit = TransportOptions(proxy_url="http://egress:8080", trust_env=False)
    chosen = explicit.proxy_for("https://localhost", env)
    assert chosen is not None
    assert (chosen.host, chosen.port) == ("egress", 8080)


def test_a_proxy_url_with_credentials() -> None:
    proxy = Proxy.parse("http://us%40er:p%3Ass@proxy.corp")
    assert proxy.url == "http://proxy.corp:80"  # no credentials in what may be logged
    assert proxy.authorization == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss


@pytest.mark.parametrize("value", ["https://proxy.corp:443", "socks5://proxy.corp:1080", "http://"])
def test_only_http_proxies(value: str) -> None:
    with pytest.raises(ValueError, match="not an http:// proxy") as caught:
        TransportOptions(proxy_url=value).proxy_for("https://api.example.com", {})
    assert "secret" not in str(caught.value)


def test_a_bad_proxy_in_the_environment_names_no_credentials() -> None:
    with pytest.raises(ValueError, match="not an http:// proxy") as caught:
        TransportOptions().proxy_for("https://x.test", {"HTTPS_PROXY": "socks5://u:secret@p:1"})
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/a b", None),
        ("GET", "/a\tb", None),
        ("G T", "/", None),
        ("GET", "/", {"x": "a\rb"}),
        ("GET", "/", {"x": "☃"}),
        ("GET", "/", {"x:y": "v"}),
    ],
)
def test_unsafe_requests(method: str, target: str, headers: dict[str, str] | None) -> None:
    with pytest.raises(UnsafeRequest):
        check_request(method, target, headers)


def test_latin1_header_values_pass() -> None:
    check_request("GET", "/a%20b?q=1", {"x-name": "café"})
