"""``check-config`` reports every problem in one run; a mistyped environment override is named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from gateway.cli import main
from gateway.config import ConfigError, parse_config

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"RV_API_KEY": "rv-secret"}


def rv(**keys: Any) -> dict[str, Any]:
    return {
        "name": "rv",
        "kind": "rotavision",
        "base_url": "http://x",
        "api_key_env": "RV_API_KEY",
    } | keys


def problems(raw: dict[str, Any], env: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_every_problem_is_reported_not_only_the_first() -> None:
    raw = {
        "server": {"prot": 1, "metrics": "sometimes", "max_body_bytes": 0},
        "limits": {"max_depth": 0},
        "auth": {"mode": "magic"},
        "sources": [
            rv(timeout=3, api_key_env="NOPE"),
            {
                "name": "tl",
                "kind": "truthlocks",
                "base_url": "ftp://x",
                "api_key_env": "RV_API_KEY",
            },
            rv(),
        ],
    }
    assert problems(raw, ENV) == (
        "server.prot: unknown key (did you mean 'port'?)",
        "server.metrics: 'sometimes' is not one of off, open, port",
        "server.max_body_bytes: must be positive",
        "limits.max_depth: must be at least 1",
        "auth.mode: 'magic' is not one of none, api_key",
        "source \"rv\": timeout: unknown key (did you mean 'timeout_s'?)",
        'source "rv": api_key_env: environment variable NOPE is not set (it holds the secret)',
        "source \"tl\": base_url: 'ftp://x' must be an http(s) URL",
        "source \"tl\": tenant_id: missing (a 'truthlocks' source needs it)",
        "source #3: name: 'rv' is used twice; names must be unique",
    )


def test_a_source_missing_what_it_needs_reports_each_missing_key() -> None:
    assert problems({"sources": [{"kind": "velt"}]}, ENV) == (
        "source #1: name: missing (required)",
        "source #1: base_url: missing (required)",
        "source #1: api_key_env: missing (a 'velt' source needs it)",
        "source #1: auth_token_env: missing (a 'velt' source needs it)",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param(
            "GATEWAY__SERVER__PROT",
            "9000",
            "GATEWAY__SERVER__PROT: server.prot is not a key (did you mean GATEWAY__SERVER__PORT?)",
            id="section-key",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RV__TIMEOUT",
            "3",
            "GATEWAY__SOURCES__RV__TIMEOUT: a source's timeout is not a key "
            "(did you mean GATEWAY__SOURCES__RV__TIMEOUT_S?)",
            id="source-key",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RB__BASE_URL",
            "http://y",
            "GATEWAY__SOURCES__RB__BASE_URL: no source named 'rb' to override",
            id="source-name",
        ),
        pytest.param(
            "GATEWAY__SERVR__PORT",
            "9000",
            "GATEWAY__SERVR__PORT: not an override this gateway knows (GATEWAY__<SECTION>__<KEY> "
            "or GATEWAY__SOURCES__<NAME>__<KEY>); did you mean section 'server'?",
            id="section",
        ),
        pytest.param(
            "GATEWAY__SERVER__PORT",
            "soon",
            "server.port: expected an integer, got a string 'soon' (set by GATEWAY__SERVER__PORT)",
            id="type",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RV__RETRIES",
            "-1",
            'source "rv": retries: must be zero or more (set by GATEWAY__SOURCES__RV__RETRIES)',
            id="source-value",
        ),
    ],
)
def test_a_mistyped_environment_override_names_the_variable(
    variable: str, value: str, message: str
) -> None:
    assert problems({"sources": [rv()]}, {**ENV, variable: value}) == (message,)


def test_check_config_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[server]\nport = 99999\n[[sources]]\nname = "rv"\nkind = "rotavision"\n'
        'base_url = "http://x"\napi_key_env = "NOPE"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("NOPE", raising=False)
    monkeypatch.setenv("GATEWAY__CACHE__TTL", "5")
    assert main(["check-config", "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "gateway: config error: GATEWAY__CACHE__TTL: cache.ttl is not a key "
        "(known keys: active_ttl_s, answers_max_bytes, answers_max_entries, max_entries, "
        "persisted_queries, persisted_queries_max, terminal_ttl_s, trusted_documents)",
        "gateway: config error: server.port: 99999 is not a TCP port (0..65535)",
        'gateway: config error: source "rv": api_key_env: environment variable NOPE is not set '
        "(it holds the secret)",
    ]
