"""Config loading: the whole §4 format, environment overrides, one clear message per bad key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trustme

from adapters.engine import HTTPSettings
from adapters.model import SourceKind
from adapters.transports import TransportOptions
from gateway.cli import main
from gateway.config import ConfigError, load_config, parse_config

if TYPE_CHECKING:
    from pathlib import Path

DESIGN_EXAMPLE = """
[server]
host = "127.0.0.1"
port = 8000

[auth]
mode = "api_key"

[[auth.clients]]
name = "ops"
key_env = "GATEWAY_OPS_KEY"
roles = ["viewer", "approver"]
reviewer_id = "ops@example.com"

[[sources]]
name = "rv"
kind = "rotavision"
base_url = "https://api.rotavision.com"
api_key_env = "RV_API_KEY"

[[sources]]
name = "velt"
kind = "velt"
base_url = "https://api.velt.dev"
api_key_env = "VELT_API_KEY"
auth_token_env = "VELT_AUTH_TOKEN"

[[sources]]
name = "zaia"
kind = "nesting"
base_url = "https://api.endless.zaia.app"
api_key_env = "ZAIA_API_KEY"

[[sources]]
name = "tl"
kind = "truthlocks"
base_url = "https://api.truthlocks.com"
api_key_env = "TL_API_KEY"
tenant_id = "tenant_123"
timeout_s = 2.5
max_concurrency = 8
retries = 1
cache_ttl_s = 0

[[sources]]
name = "lg"
kind = "langgraph"
base_url = "http://127.0.0.1:2024"
resume_format = "object"
"""

ENV = {
    "GATEWAY_OPS_KEY": "ops-secret",
    "RV_API_KEY": "rv-secret",
    "VELT_API_KEY": "velt-key",
    "VELT_AUTH_TOKEN": "velt-token",
    "ZAIA_API_KEY": "zaia-key",
    "TL_API_KEY": "tl-key",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_the_design_example_loads_with_secrets_from_the_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, DESIGN_EXAMPLE), ENV)
    assert [s.name for s in config.sources] == ["rv", "velt", "zaia", "tl", "lg"]
    assert [s.kind for s in config.sources] == list(SourceKind)
    assert [getattr(s.options, "resume_format", None) for s in config.sources] == [
        None,
        None,
        None,
        None,
        "object",
    ]
    velt = config.source("velt")
    assert velt is not None
    assert velt.credentials["api_key"] == "velt-key"
    assert velt.credentials["auth_token"] == "velt-token"
    tl = config.source("tl")
    assert tl is not None
    assert (tl.http.timeout_s, tl.http.max_concurrency, tl.http.retries, tl.cache_ttl_s) == (
        2.5,
        8,
        1,
        0.0,
    )
    assert tl.credentials["tenant_id"] == "tenant_123"
    (client,) = config.auth.clients
    assert client.roles == {"viewer", "approver"}
    assert client.key == "ops-secret"


def test_secrets_never_show_in_reprs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, DESIGN_EXAMPLE), ENV)
    text = repr(config)
    for secret in ENV.values():
        assert secret not in text


def test_environment_overrides_scalars(tmp_path: Path) -> None:
    env = {
        **ENV,
        "GATEWAY__SERVER__PORT": "9100",
        "GATEWAY__SOURCES__RV__BASE_URL": "http://127.0.0.1:1",
    }
    config = load_config(write(tmp_path, DESIGN_EXAMPLE), env)
    assert config.server.port == 9100
    rv = config.source("rv")
    assert rv is not None
    assert rv.base_url == "http://127.0.0.1:1"


def minimal(**source: Any) -> dict[str, Any]:
    base = {"name": "rv", "kind": "rotavision", "base_url": "http://x", "api_key_env": "RV_API_KEY"}
    return {"sources": [{**base, **source}]}


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        pytest.param({"sources": []}, ENV, "sources: at least one", id="no-sources"),
        pytest.param(
            minimal(kind="temporal"),
            ENV,
            "source \"rv\": kind: 'temporal' is not one of",
            id="kind",
        ),
        pytest.param(
            minimal(timeout=3),
            ENV,
            "source \"rv\": timeout: unknown key (did you mean 'timeout_s'?)",
            id="typo",
        ),
        pytest.param(minimal(name="RV!"), ENV, "source \"RV!\": name: 'RV!' must match", id="name"),
        pytest.param(
            minimal(),
            {},
            'source "rv": api_key_env: environment variable RV_API_KEY is not set',
            id="missing-secret",
        ),
        pytest.param(
            minimal(timeout_s="fast"), ENV, 'source "rv": timeout_s: expected a number', id="type"
        ),
        pytest.param(
            minimal(max_concurrency=0),
            ENV,
            'source "rv": max_concurrency: must be positive',
            id="zero",
        ),
        pytest.param(minimal(base_url="ftp://x"), ENV, 'source "rv": base_url', id="url"),
        pytest.param(
            {**minimal(), "server": {"prot": 1}},
            ENV,
            "server.prot: unknown key (did you mean 'port'?)",
            id="server-typo",
        ),
        pytest.param(
            {**minimal(), "auth": {"mode": "magic"}}, ENV, "auth.mode: 'magic'", id="auth-mode"
        ),
        pytest.param(
            {**minimal(), "auth": {"mode": "api_key"}}, ENV, "auth.clients", id="no-clients"
        ),
        pytest.param(
            {"sources": [minimal()["sources"][0], minimal()["sources"][0]]},
            ENV,
            "source #2: name: 'rv' is used twice",
            id="duplicate",
        ),
        pytest.param(
            {
                "sources": [
                    {
                        "name": "tl",
                        "kind": "truthlocks",
                        "base_url": "http://x",
                        "api_key_env": "TL_API_KEY",
                    }
                ]
            },
            ENV,
            'source "tl": tenant_id: missing',
            id="tenant",
        ),
        pytest.param(
            {
                "sources": [
                    {
                        "name": "v",
                        "kind": "velt",
                        "base_url": "http://x",
                        "api_key_env": "VELT_API_KEY",
                    }
                ]
            },
            ENV,
            'source "v": auth_token_env: missing',
            id="velt-token",
        ),
    ],
)
def test_bad_config_names_the_key(raw: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env)
    assert message in str(caught.value)


def test_check_config_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nname = "rv"\nkind = "rotavision"\nbase_url = "http://x"\napi_key_env = "NOPE"\n',
    )
    monkeypatch.delenv("NOPE", raising=False)
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert 'source "rv": api_key_env: environment variable NOPE is not set' in err


def test_check_config_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", "--config", str(write(tmp_path, DESIGN_EXAMPLE))]) == 0
    assert "OK" in capsys.readouterr().out


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\n"), {})


def test_engine_defaults_are_the_engines_own() -> None:
    """One definition each: a source without engine keys gets exactly HTTPSettings()."""
    (source,) = parse_config(minimal(), ENV).sources
    assert source.http == HTTPSettings()
    assert source.http.transport == TransportOptions()


def test_proxy_and_tls_keys(tmp_path: Path) -> None:
    authority = trustme.CA()
    ca_bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_bundle))
    client = authority.issue_cert("gateway@example.test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    raw = minimal(
        base_url="https://api.example.com",
        proxy_url="http://egress:3128",
        trust_env=False,
        ca_bundle=str(ca_bundle),
        client_cert=str(cert),
        client_key=str(key),
        verify=True,
        timeout_s=4,
    )
    (source,) = parse_config(raw, ENV).sources
    assert source.http.timeout_s == 4.0
    assert source.http.transport == TransportOptions(
        proxy_url="http://egress:3128",
        trust_env=False,
        ca_bundle=str(ca_bundle),
        client_cert=str(cert),
        client_key=str(key),
    )


@pytest.mark.parametrize(
    ("source", "env", "message"),
    [
        (
            {"ca_bundle": "/nonexistent/ca.pem"},
            {},
            "source \"rv\": ca_bundle: '/nonexistent/ca.pem' is not a file",
        ),
        (
            {"client_cert": "/nonexistent/c.pem"},
            {},
            "source \"rv\": client_cert: '/nonexistent/c.pem' is not a file",
        ),
        ({"client_key": __file__}, {}, 'source "rv": client_key: needs client_cert'),
        ({"client_cert": __file__}, {}, "not a usable PEM certificate or key"),
        (
            {"proxy_url": "socks5://p:1080"},
            {},
            'source "rv": proxy_url: proxy socks5://p:1080 is not an http:// proxy',
        ),
        (
            {},
            {"HTTPS_PROXY": "https://p:443"},
            'source "rv": trust_env: the environment\'s proxy for this source: proxy https://p:443',
        ),
        ({"trust_env": "no"}, {}, 'source "rv": trust_env: expected true or false'),
    ],
)
def test_bad_proxy_and_tls_keys(source: dict[str, Any], env: dict[str, str], message: str) -> None:
    raw = minimal(base_url="https://api.example.com", **source)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, {**ENV, **env})
    assert message in str(caught.value)
